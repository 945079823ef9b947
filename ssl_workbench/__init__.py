__version__ = "0.1.0"

def load_backbone(folder, device="cpu"):
    "An exported backbone (`ssl-workbench export`) as a plain `torch.nn.Module`, and its preprocessing."
    from .export import load_backbone as _load
    return _load(folder, device)
