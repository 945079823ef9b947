"""A run written by the package before its move into subpackages (commit d3b3ecd: flat modules) still loads.

`tests/fixtures/pre_move_run` is a 4-step SimCLR run on `digits` (small_convnet_w16, a 64/32 head),
written with the old layout; `expected_features.pt` holds four inputs and the backbone features the old
code computed for them."""
import shutil
from pathlib import Path

import torch

from ssl_workbench.augment.pipeline import ViewRecipe, augment_from_dict
from ssl_workbench.core import RunDir
from ssl_workbench.eval.run import load_run_method, run_checkpoint, run_config
from ssl_workbench.train.checkpoint import load_checkpoint
from ssl_workbench.train.loop import method_from_checkpoint

FIXTURE = Path(__file__).parent / "fixtures" / "pre_move_run"


def _copy(tmp_path):
    run = tmp_path / "run"
    shutil.copytree(FIXTURE, run)
    return run


def test_config_and_checkpoint_load(tmp_path):
    run = _copy(tmp_path)
    cfg = run_config(run)
    assert (cfg.method.name, cfg.model.backbone, cfg.schedule.steps) == ("simclr", "small_convnet_w16", 4)
    recipe = augment_from_dict(cfg.augment.recipe)
    assert isinstance(recipe, ViewRecipe) and recipe.n_views == 2
    ck = load_checkpoint(run_checkpoint(run))
    assert ck["step"] == 4
    method = method_from_checkpoint(ck)
    assert sum(p.numel() for p in method.parameters()) > 0


def test_features_match_the_old_code(tmp_path):
    run = _copy(tmp_path)
    expected = torch.load(FIXTURE / "expected_features.pt")
    method = load_run_method(RunDir(run))
    with torch.no_grad(): h = method.backbone(expected["x"])
    torch.testing.assert_close(h, expected["h"])
