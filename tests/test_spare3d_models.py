"""SPARE3D models: four-tower network, pretext loss, T2I scoring and the early-fusion baseline on tiny CPU
inputs."""
import math
import numpy as np
import torch

from ssl_workbench.spare3d.models import (FourTowerNet, EarlyFusionNet, pretext_loss, t2i_scores, fit_spare3d,
                                          t2i_accuracy)
from ssl_workbench.spare3d.tasks import make_item


def _data(task, n):
    rows = [make_item(task, 0, i, size=32) for i in range(n)]
    return {k: np.stack([np.asarray(r[k]) for r in rows]) for k in rows[0]}


def test_pretext_loss_starts_at_log2_and_backprops():
    net = FourTowerNet(image_size=32, hidden_dim=32)
    loss, logs = pretext_loss(net, torch.rand(2, 4, 3, 32, 32), torch.rand(2, 4, 3, 32, 32))
    assert abs(loss.item() - math.log(2)) < 0.05 and 0 <= logs["pair_accuracy"] <= 1
    loss.backward()
    assert all(p.grad is not None for p in net.g1.parameters())


def test_train_and_score_t2i_on_cpu():
    pairs, questions = _data("pair", 4), _data("t2i", 4)
    net = FourTowerNet(image_size=32, hidden_dim=32)
    history = fit_spare3d(net, pairs, "pretext", steps=2, batch_size=2, lr=1e-3, device="cpu")
    assert len(history) == 2 and all(math.isfinite(h["loss"]) for h in history)
    assert 0.0 <= t2i_accuracy(net, questions, device="cpu") <= 1.0
    fusion = EarlyFusionNet(image_size=32)
    fit_spare3d(fusion, questions, "t2i", steps=1, batch_size=2, device="cpu")
    with torch.no_grad():
        assert t2i_scores(fusion, torch.rand(2, 3, 3, 32, 32), torch.rand(2, 4, 3, 32, 32)).shape == (2, 4)
