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


NETS = dict(mlp=FourTowerNet, match=MatchHeadNet, dot=DotScoreNet)
VARIANTS = {  # overrides of the contrastive arm's cpu settings; `scorer` picks the net
    "study_setting": {}, "match_head": dict(scorer="match"), "dot_score": dict(scorer="dot")}
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
