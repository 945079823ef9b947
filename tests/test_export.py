"""`ssl-workbench export` and `pretrain --init-from` end to end, through subprocesses as a user runs them."""
import json, os, subprocess, sys
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
TINY = ["--data", "digits", "--backbone", "resnet18", "--steps", 2, "--batch-size", 32, "--image-size", 32,
        "--device", "cpu", "--no-progress", "run.tensorboard=false", "schedule.warmup_epochs=0",
        "data.limit=64"]


def cli(*args, env=None, timeout=600):
    env = dict(os.environ, OMP_NUM_THREADS="2", PYTHONPATH=str(REPO), **(env or {}))
    return subprocess.run([sys.executable, "-m", "ssl_workbench.cli", *map(str, args)], capture_output=True,
                          text=True,
                          timeout=timeout, env=env, cwd=REPO)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("export")/"run"
    res = cli("pretrain", *TINY, "--out", out)
    assert res.returncode == 0, res.stderr[-2000:]
    res = cli("eval", "--run", out, "--protocol", "knn", "--limit-train", 200, "--limit-test", 100,
              "--device", "cpu")
    assert res.returncode == 0, res.stderr[-2000:]
    return out


def _digits(n=16):
    from ssl_workbench.data import load_dataset
    return torch.from_numpy(load_dataset("digits", "test").images[:n]).permute(0, 3, 1, 2).contiguous()


def test_export_onnx_matches_pytorch(run, tmp_path):
    ort = pytest.importorskip("onnxruntime")
    res = cli("export", "--run", run, "--out", tmp_path/"onnx", "--format", "onnx")
    assert res.returncode == 0, res.stderr[-2000:]
    import ssl_workbench
    model, pre = ssl_workbench.load_backbone(tmp_path/"onnx")
    assert isinstance(model, torch.nn.Module)
    x = pre(_digits())
    with torch.no_grad(): ref = model(x).numpy()
    sess = ort.InferenceSession(str(tmp_path/"onnx"/"backbone.onnx"), providers=["CPUExecutionProvider"])
    diff = abs(sess.run(None, {"images": x.numpy()})[0] - ref).max()
    assert diff < 1e-4, diff
    card = json.loads((tmp_path/"onnx"/"model_card.json").read_text())
    for key in ("config", "seed", "git_commit", "augmentation_hash", "results", "load_code", "backbone"):
        assert key in card, key
    assert card["results"]["knn"]["card"]["protocol"] == "knn"
    assert card["backbone"]["image_size"] == 32 and card["backbone"]["normalization"]
    assert "load_backbone" in (tmp_path/"onnx"/"README.md").read_text()


def test_torchvision_resnet18_loads_strict(run, tmp_path):
    import torchvision
    assert cli("export", "--run", run, "--out", tmp_path/"tv", "--format", "torchvision").returncode == 0
    model = torchvision.models.resnet18(num_classes=512)
    model.conv1 = torch.nn.Conv2d(3, 64, kernel_size=3, stride=1, padding=1, bias=False)
    model.maxpool = torch.nn.Identity()
    model.load_state_dict(torch.load(tmp_path/"tv"/"backbone_torchvision.pth", weights_only=True),
                          strict=True)
    import ssl_workbench
    ours, pre = ssl_workbench.load_backbone(tmp_path/"tv")
    x = pre(_digits())
    with torch.no_grad(): torch.testing.assert_close(model.eval()(x), ours(x), atol=1e-5, rtol=1e-5)


def test_timm_loads_strict(run, tmp_path):
    timm = pytest.importorskip("timm")
    assert cli("export", "--run", run, "--out", tmp_path/"timm", "--format", "timm").returncode == 0
    model = timm.create_model("resnet18", pretrained=False, num_classes=0)
    model.conv1 = torch.nn.Conv2d(3, 64, kernel_size=3, stride=1, padding=1, bias=False)
    model.maxpool = torch.nn.Identity()
    model.load_state_dict(torch.load(tmp_path/"timm"/"backbone_timm.pth", weights_only=True), strict=True)


def test_export_errors_are_clear(run, tmp_path, run_cli):
    code, _, err = run_cli("export", "--run", tmp_path/"missing", "--out", tmp_path/"x")
    assert code == 2 and "missing" in err
    code, _, err = run_cli("export", "--run", run, "--out", tmp_path/"x", "--format", "keras")
    assert code == 2 and "keras" in err


def test_init_from_export_and_torchvision_cache(run, tmp_path):
    assert cli("export", "--run", run, "--out", tmp_path/"exp").returncode == 0
    out = tmp_path/"from_export"
    res = cli("pretrain", *TINY, "--out", out, "--init-from", tmp_path/"exp")
    assert res.returncode == 0, res.stderr[-2000:]
    events = [json.loads(l) for l in (out/"metrics.jsonl").read_text().splitlines() if '"init_from"' in l]
    assert events and events[0]["loaded"] == events[0]["of"]
    assert str(tmp_path/"exp") in (out/"config.yaml").read_text()
    # torchvision:NAME without --download: a clear error naming the cache path, nothing downloaded
    home = tmp_path/"torch_home"
    res = cli("pretrain", *TINY, "--out", tmp_path/"tv", "--init-from", "torchvision:resnet18",
              env={"TORCH_HOME": str(home)})
    assert res.returncode == 2, res.stderr[-2000:]
    assert str(home/"hub"/"checkpoints") in res.stderr and "--download" in res.stderr
