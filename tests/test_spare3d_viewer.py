"""Headless tests of the SPARE3D viewer (ssl_workbench.spare3d.viewer): set widget values, call the handlers,
check that the figures' data changed. No kernel or browser; a PCA projection stands in for UMAP to keep
this fast."""
import numpy as np
import pytest
import torch

from ssl_workbench.spare3d.models import (TASK_KEYS, EarlyFusionNet, FourTowerNet, simclr_scorer,
                                          fit_simclr_drawings)
from ssl_workbench.spare3d.tasks import (make_i2p, make_object_views_dataset, make_p2i, make_pair, make_t2i,
                                         pixel_difference)
from ssl_workbench.spare3d import viewer as V

SIZE = 32


def _stack(items, keys):
    return {k: np.stack([np.asarray(q[k]) for q in items]) for k in keys}


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(7)
    torch.manual_seed(0)
    return dict(t2i=_stack([make_t2i(rng, size=SIZE) for _ in range(4)], TASK_KEYS["t2i"]),
                i2p=_stack([make_i2p(rng, size=SIZE) for _ in range(3)], TASK_KEYS["i2p"]),
                p2i=_stack([make_p2i(rng, size=SIZE) for _ in range(3)], TASK_KEYS["p2i"]),
                pairs=_stack([make_pair(rng, size=SIZE) for _ in range(3)], ("left", "right")),
                views=make_object_views_dataset(3, size=SIZE, seed=1),
                net=FourTowerNet(image_size=SIZE, hidden_dim=16))


def _viewer(data, **kw):
    args = dict(object_views=data["views"], pairs=data["pairs"], embed=V.pca_2d, device="cpu")
    args.update(kw)
    return V.spare3d_viewer(data["t2i"], "t2i", data["net"], **args)


def test_builder_returns_classed_widget(data):
    viewer = _viewer(data)
    assert "swb-spare3d" in viewer._dom_classes
    for w, cls in [(viewer.question, "swb-spare3d-question"), (viewer.colour, "swb-spare3d-colour"),
                   (viewer.diff_view, "swb-spare3d-diff-view"),
                   (viewer.embed_button, "swb-spare3d-embed-compute"),
                   (viewer.score_all_button, "swb-spare3d-score-all"), (viewer.tabs, "swb-spare3d-tabs")]:
        assert cls in w._dom_classes
    assert viewer.question.max == 3


def test_browsing_questions_updates_images_scores_and_verdict(data):
    viewer = _viewer(data)
    images_before = [np.array(viewer.question_figure.data[k].z) for k in range(7)]
    bars_before = list(viewer.score_figure.data[0].y)
    viewer.question.value = 1  # slider callback
    assert any(not np.array_equal(a, viewer.question_figure.data[k].z) for k, a in enumerate(images_before))
    scores = viewer.scores(1)
    assert list(viewer.score_figure.data[0].y) == pytest.approx(list(scores)) and bars_before != list(scores)
    answer, pick = int(data["t2i"]["answer"][1]), int(np.argmax(scores))
    assert ("correct" if pick == answer else "wrong") in viewer.verdict.value
    assert viewer.score_figure.data[0].marker.color[answer] == "#2a9d3a"
    assert "✓" in viewer.question_figure.layout.annotations[3 + answer].text
    accuracy = viewer.score_all()
    expected = np.mean([np.argmax(viewer.scores(i)) == data["t2i"]["answer"][i] for i in range(4)])
    assert accuracy == pytest.approx(expected) and "accuracy on 4 questions" in viewer.verdict.value


def test_without_model_shows_the_answer(data):
    viewer = V.spare3d_viewer(data["t2i"])
    assert "(no model)" in viewer.verdict.value and viewer.scores(0) is None
    assert viewer.score_all() is None and viewer.score_all_button.disabled
    viewer.compute_embedding()  # no drawings given: nothing to do, no error
    assert viewer.coords is None


def test_i2p_and_p2i_with_their_scorers(data):
    v = V.spare3d_viewer(data["i2p"], "i2p", EarlyFusionNet(image_size=SIZE, task="i2p"), device="cpu")
    assert list(v.score_figure.data[0].x) == ["pose 1", "pose 2", "pose 5", "pose 6"]
    v.question.value = 2
    assert np.array_equal(v.question_figure.data[3].z, data["i2p"]["iso"][2])
    v = V.spare3d_viewer(data["p2i"], "p2i", EarlyFusionNet(image_size=SIZE, task="p2i"), device="cpu")
    v.question.value = 1
    assert f"asked pose {int(data['p2i']['pose'][1])}" in v.verdict.value
    with pytest.raises(TypeError, match="has no p2i scorer"):
        V.spare3d_viewer(data["p2i"], "p2i", data["net"])


def test_embedding_colours_by_object_and_pose(data):
    viewer = _viewer(data)
    clusters = viewer.compute_embedding()
    assert viewer.coords.shape == (33, 2) and len(viewer.embed_figure.data) == 3  # 3 objects
    assert set(clusters) == {"object_1nn", "object_chance", "pose_1nn", "pose_chance"}
    assert "same <b>object</b>" in viewer.embed_status.value
    xs_before = np.array(viewer.embed_figure.data[0].x)
    viewer.colour.value = "pose"  # observer recolours
    assert len(viewer.embed_figure.data) == 11 and viewer.embed_figure.data[0].name == "view f"
    assert len(viewer.embed_figure.data[0].x) == 3 and len(xs_before) == 11
    viewer.tower.value = "front"
    assert viewer.embedding_module() is data["net"].towers[0]


def test_embedding_with_a_simclr_backbone(data):
    method, _ = fit_simclr_drawings(data["views"][0], steps=1, batch_size=8, device="cpu")
    viewer = V.spare3d_viewer(
        object_views=data["views"], backbone=method.backbone, embed=V.pca_2d, device="cpu"
    )
    assert viewer.compute_embedding() is not None and len(viewer.embed_figure.data) == 3
    viewer = V.spare3d_viewer(
        data["t2i"], model=simclr_scorer(method), object_views=data["views"], embed=V.pca_2d
    )
    assert viewer.embedding_module() is method.backbone
    bad = V.spare3d_viewer(
        data["t2i"], model=EarlyFusionNet(image_size=SIZE), object_views=data["views"], embed=V.pca_2d
    )
    assert bad.compute_embedding() is None and "12-channel" in bad.embed_status.value


def test_difference_view_pairs_and_questions(data):
    viewer = _viewer(data)
    first = np.array(viewer.diff_figure.data[2].z)
    viewer.diff_item.value = 2
    viewer.diff_view.value = "top"
    left, right = data["pairs"]["left"][2][2], data["pairs"]["right"][2][2]
    assert np.array_equal(viewer.diff_figure.data[0].z, left) and np.array_equal(
        viewer.diff_figure.data[1].z, right
    )
    assert not np.array_equal(first, viewer.diff_figure.data[2].z)
    assert viewer.diff_status.value.startswith(f"{pixel_difference(left, right)} pixels differ")
    plain = V.spare3d_viewer(data["t2i"])  # no pairs: the answer against a chosen candidate
    q_answer = int(data["t2i"]["answer"][0])
    plain.diff_view.value = f"answer vs candidate {q_answer}"
    assert plain.diff_status.value.startswith("0 pixels differ")
    plain.diff_view.value = f"answer vs candidate {(q_answer + 1) % 4}"
    assert int(plain.diff_status.value.split()[0]) >= 20


def test_bad_input(data):
    with pytest.raises(ValueError, match="task='x2y'"):
        V.spare3d_viewer(data["t2i"], "x2y")
    with pytest.raises(ValueError, match=r"missing \['iso'\]"):
        V.spare3d_viewer(data["t2i"], "i2p")
    with pytest.raises(ValueError, match="object_views: lengths"):
        V.spare3d_viewer(object_views=(data["views"][0], data["views"][1][:5], data["views"][2]))
    with pytest.raises(ValueError, match="pairs: expected keys"):
        V.spare3d_viewer(pairs={"left": data["pairs"]["left"]})
    with pytest.raises(ValueError, match="i=9"):
        _viewer(data).get_question(9)
