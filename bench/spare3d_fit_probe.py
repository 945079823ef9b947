"""The spare3d contrastive pretext fits only about 0.75 of its own training pairs: is its scorer the wrong
form? The study's cpu setting (seed 0's generated pairs, bf16 where native, one thread each), changed one way
per variant:

- `study_setting`: the study's contrastive pretext as its unit trains it, on this machine (the earlier probes
  ran on another CPU).
- `match_head`: h reads `[b ‖ a ‖ b⊙a]` instead of `[b ‖ a]` (a matching head, as in natural-language
  inference models). With `[b ‖ a]` the score depends on which isometric goes with which views only through
  h's ReLU (`spare3d.models`, "The four-tower network"); the product gives every unit of h a direct,
  multiplicative interaction of the two codes.
- `dot_score`: no h: the score is `b·a / √hidden` plus a learnt offset, the bilinear score of CLIP.
- `shared_view_tower`: one tower for front, right and top (the isometric keeps its own), so the views' tower
  learns from three drawings per object instead of one; g1 still knows which view is which by position.
- `group_norm`: GroupNorm (8 groups) in place of every BatchNorm of the towers, so no drawing's features
  depend on the others in its batch (with joint encoding, BatchNorm pools an object with its twin).
- `group_norm_lr1e-4`: the same at a tenth of the learning rate (in a 150-step check it left log 2 at 1e-4,
  not at 3e-4).
- `code_batch_norm`: BatchNorm in g1 and g2 too (Linear, BatchNorm, ReLU, as in SimCLR's projection head), so
  each unit of a code is centred and scaled over the batch's objects, twins included.
- `head_batch_norm`: `code_batch_norm` with BatchNorm in h's hidden layer as well (over all the pairs h
  scores): the package's `FourTowerNet(head_norm="batch")`.
- `shared_tower_code_batch_norm`: `code_batch_norm` with `shared_view_tower`'s one tower for the three views.
- `shared_tower_head_batch_norm`: `head_batch_norm` with one tower for the three views.
- `head_batch_norm_steps_6000`: `head_batch_norm` for 6,000 steps.

Every model is also scored on the 1,000 further held-out pairs of `spare3d_hard_negatives_probe`, binned by
the size of the cut.

Results: studies/probes/spare3d_fit.json (a finished variant is kept; delete its entry to redo it).

    python -m bench.spare3d_fit_probe [--variants study_setting,match_head,...]
"""
from __future__ import annotations
import time
from pathlib import Path

import torch
import torch.nn as nn

from bench import probe_args, probe_machine, run_probes, training_curve
from bench.spare3d_hard_negatives_probe import pretext_metrics
from ssl_workbench.core import seed_everything
from ssl_workbench.spare3d.models import FourTowerNet
from ssl_workbench.spare3d.study import contrastive_pretext, settings_of, spare3d_study

OUT = Path("studies/probes/spare3d_fit.json")


class MatchHeadNet(FourTowerNet):
    "The four-tower net whose h reads `[b ‖ a ‖ b⊙a]`."
    def __init__(self, *args, **kw):
        super().__init__(*args, **kw)
        hidden = self.h[0].out_features
        self.h = nn.Sequential(nn.Linear(3 * hidden, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, 1))

    def score(self, b, a): return self.h(torch.cat([b, a, b * a], 1)).squeeze(1)

    def score_matrix(self, b, a):
        "As `FourTowerNet.score_matrix`, with the product's part of h's first layer applied to every (b, a)."
        w, k = self.h[0].weight, b.shape[1]
        x = (b @ w[:, :k].T)[:, None] + (a @ w[:, k:2 * k].T)[None] + self.h[0].bias
        x = x + (b[:, None] * a[None]) @ w[:, 2 * k:].T
        for layer in self.h[1:]: x = layer(x)
        return x.squeeze(-1)


class DotScoreNet(FourTowerNet):
    "The four-tower net scored by `b·a / √hidden` plus a learnt offset (h is not used)."
    def __init__(self, *args, **kw):
        super().__init__(*args, **kw)
        self.h, self.offset = nn.Identity(), nn.Parameter(torch.zeros(()))

    def score(self, b, a): return (b * a).sum(1) / b.shape[1] ** 0.5 + self.offset
    def score_matrix(self, b, a): return b @ a.T / b.shape[1] ** 0.5 + self.offset


def shared_view_tower(net: FourTowerNet) -> FourTowerNet:
    "`net` with one tower for front, right and top (the isometric keeps its own)."
    net.towers = nn.ModuleList([net.towers[0]] * 3 + [net.towers[3]])
    return net


def group_norm_instead_of_batch_norm(module: nn.Module, groups: int = 8) -> nn.Module:
    "`module` with every BatchNorm2d replaced, in place, by a GroupNorm of `groups` groups over its channels."
    for name, child in module.named_children():
        if isinstance(child, nn.BatchNorm2d): setattr(module, name, nn.GroupNorm(groups, child.num_features))
        else: group_norm_instead_of_batch_norm(child, groups)
    return module


def group_norm_towers(net: FourTowerNet) -> FourTowerNet:
    group_norm_instead_of_batch_norm(net.towers)
    return net


def code_batch_norm(net: FourTowerNet) -> FourTowerNet:
    "`net` with BatchNorm between g1's and g2's Linear and their ReLU."
    for g in (net.g1, net.g2): g.insert(1, nn.BatchNorm1d(g[0].out_features))
    return net


def built(*changes, head_norm: str = "none"):
    "A `make_net` that builds a `FourTowerNet` (with `head_norm`) and applies `changes` to it in turn."
    def make_net(*args, **kw):
        net = FourTowerNet(*args, **{**kw, "head_norm": head_norm})
        for change in changes: net = change(net)
        return net
    return make_net


NETS = dict(mlp=FourTowerNet, match=MatchHeadNet, dot=DotScoreNet, shared=built(shared_view_tower),
            group_norm=built(group_norm_towers), code_bn=built(code_batch_norm),
            head_bn=built(head_norm="batch"), shared_code_bn=built(code_batch_norm, shared_view_tower),
            shared_head_bn=built(shared_view_tower, head_norm="batch"))
VARIANTS = {  # overrides of the contrastive arm's cpu settings; `scorer` picks the net
    "study_setting": {}, "match_head": dict(scorer="match"), "dot_score": dict(scorer="dot"),
    "shared_view_tower": dict(scorer="shared"), "group_norm": dict(scorer="group_norm"),
    "group_norm_lr1e-4": dict(scorer="group_norm", lr=1e-4),
    "code_batch_norm": dict(scorer="code_bn"), "head_batch_norm": dict(scorer="head_bn"),
    "shared_tower_code_batch_norm": dict(scorer="shared_code_bn"),
    "shared_tower_head_batch_norm": dict(scorer="shared_head_bn"),
    "head_batch_norm_steps_6000": dict(scorer="head_bn", pretext_steps=6_000)}
SEED = 0


def run_variant(name: str) -> dict:
    study = spare3d_study()
    s = {**settings_of(study, study.arm("contrastive"), "cpu"), **VARIANTS[name]}
    seed_everything(SEED)  # before the net is built, as the study's units do
    start = time.time()
    net, log = contrastive_pretext(s, SEED, make_net=NETS[s.get("scorer", "mlp")])
    seconds = time.time() - start
    return dict(overrides=VARIANTS[name], seconds=round(seconds, 1),
                seconds_per_step=round(seconds / s["pretext_steps"], 3), machine=probe_machine(),
                date=time.strftime("%Y-%m-%d"), **pretext_metrics(net, log, s),
                curve=training_curve(log, ("loss", "pair_bce", "pair_accuracy", "info_nce"),
                                     every=max(50, s["pretext_steps"] // 40)))


def main(argv=None):
    a, names = probe_args(__doc__, VARIANTS, OUT, argv=argv)
    torch.set_num_threads(1)
    run_probes(names, a.out, "runs", run_variant, seed=SEED, threads_per_run=1)

if __name__ == "__main__":
    main()
