"""A notebook-first research workbench for self-supervised visual representation learning

Modules:

- `ssl_workbench.spare3d.study`: Xiang et al.'s claims as a study: the contrastive pretext and the pose pretext against SPARE3D's supervised baselines and a SimCLR baseline, on the same generated drawings, over seeds.
- `ssl_workbench.studies`: A study is a named set of arms (config overrides of one base config) × seeds, each an ordinary run directory, summarised with means, 95 % intervals, paired differences and verdicts derived from the intervals."""

__version__ = "0.1.0"

def load_backbone(folder, device="cpu"):
    "An exported backbone (`ssl-workbench export`) as a plain `torch.nn.Module`, and its preprocessing."
    from .export import load_backbone as _load
    return _load(folder, device)
