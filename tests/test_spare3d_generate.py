"SPARE3D generator: rendering, tasks, sharded generation and the CLI entry, on tiny sizes."
import json
import numpy as np
import pytest

from ssl_workbench.spare3d.render import (VIEWS, ALL_VIEWS, occ_available, render_views, make_voxel_object,
                                          voxel_lines,
                                          get_backend, view_frame)
from ssl_workbench.spare3d.tasks import (generate, load_task, read_meta, cli_generate, make_item,
                                         make_object_views_dataset, TASKS)

needs_occ = pytest.mark.skipif(not occ_available(),
                               reason="OpenCascade not installed: pip install cadquery-ocp-novtk (the `cad` "
                                      "extra)")


def test_views_table_matches_spare3d():
    assert len(VIEWS) == 11 and len(ALL_VIEWS) == 23
    d, x, y = view_frame("5")
    assert np.allclose(d * np.sqrt(3), [-1, -1, -1]) and np.allclose(x * np.sqrt(2), [1, -1, 0])


def test_voxel_render_shapes_and_scale():
    obj = make_voxel_object(np.random.default_rng(0))
    images = render_views(obj, size=64)
    assert images.shape == (11, 64, 64, 3) and images.dtype == np.uint8
    assert (images[:, 0, 0] == 255).all()
    with pytest.raises(ValueError, match="size=0"): render_views(obj, size=0)
    with pytest.raises(ValueError, match="unknown view"): render_views(obj, ["q"])


def test_cube_hidden_edges():
    one = np.zeros((3, 3, 3), bool); one[1, 1, 1] = True
    for pose in range(1, 9):
        visible, hidden = voxel_lines(one, pose)
        assert (len(visible), len(hidden)) == (9, 3)


@pytest.mark.parametrize("task", TASKS)
def test_generate_and_load_every_task(tmp_path, task):
    meta = generate(task, 3, tmp_path / task, size=32, workers=0, shard_size=2)
    assert meta["n_written"] == 3 and meta["n_failed"] == 0 and meta["status"] == "complete"
    data = load_task(tmp_path / task)
    assert data["index"].tolist() == [0, 1, 2]
    assert read_meta(tmp_path / task)["config"]["task"] == task


def test_resume_skips_finished_shards_and_refuses_other_task(tmp_path):
    generate("i2p", 4, tmp_path, size=32, workers=0, shard_size=2)
    first = load_task(tmp_path)
    (tmp_path / "i2p-00001.npz").unlink()
    meta = generate("i2p", 4, tmp_path, size=32, workers=0, shard_size=2)
    assert meta["shards_resumed"] == 1
    np.testing.assert_array_equal(load_task(tmp_path)["iso"], first["iso"])
    with pytest.raises(ValueError, match="holds 'i2p' shards"):
        generate("t2i", 2, tmp_path, size=32, workers=0)


def test_bad_input_fails_before_work(tmp_path):
    with pytest.raises(ValueError, match="n=0"): generate("t2i", 0, tmp_path / "x")
    with pytest.raises(ValueError, match="size=0"): generate("t2i", 1, tmp_path / "x", size=0)
    assert not (tmp_path / "x").exists()


def test_timeouts_are_counted_not_fatal(tmp_path):
    meta = generate("t2i", 2, tmp_path, size=32, workers=1, timeout_s=1e-3)
    assert meta["n_written"] == 0 and meta["n_failed"] == 2 and meta["failure_reasons"] == {"timeout": 4}


def test_cli_generate(tmp_path, capsys):
    meta = cli_generate(["--task", "p2i", "--n", "2", "--out", str(tmp_path), "--size", "32", "--workers",
                         "0", "--seed", "3"])
    assert meta["n_written"] == 2
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["n_written"] == 2


def test_object_views_dataset():
    images, objects, poses = make_object_views_dataset(3, size=32)
    assert images.shape == (33, 32, 32, 3) and objects.max() == 2 and poses.max() == 10


@needs_occ
def test_occ_backend_t2i():
    item = make_item("t2i", 0, 0, backend="occ", size=48)
    assert item["candidates"].shape == (4, 48, 48, 3)
    assert get_backend("occ").name == "occ"


def test_occ_missing_message(monkeypatch):
    import ssl_workbench.spare3d.render as render
    monkeypatch.setattr(render, "occ_available", lambda: False)
    with pytest.raises(ImportError, match="cadquery-ocp-novtk"): render.get_backend("occ")
