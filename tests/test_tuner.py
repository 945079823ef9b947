"""Headless tests of the augmentation tuner: set widget values / call the callbacks, check the grid and the
config."""
import numpy as np
import pytest
import torch

from ssl_workbench.augment.config import AugmentConfig
from ssl_workbench.augment.pipeline import config_from_yaml, config_to_yaml
from ssl_workbench.core import decode_data_uri
from ssl_workbench.ui.tuner import augment_tuner, grid_figure, isolate_config


@pytest.fixture
def images():
    return torch.randint(0, 256, (8, 3, 32, 32), dtype=torch.uint8,
                         generator=torch.Generator().manual_seed(0))


@pytest.fixture
def tuner(images):
    return augment_tuner(images, n_images=8, n_views=4)


def test_builds_without_display(tuner):
    assert tuner.grid.shape == (8 * 98, 5 * 98, 3) and tuner.grid.dtype == np.uint8
    assert tuner.w_image.value[:4] == b"\x89PNG"
    # every config field except the informative name has a control
    fields = set(AugmentConfig.__dataclass_fields__) - {"name"}
    assert set(tuner.controls) == fields


@pytest.mark.parametrize("name,value",
                         [("flip_p", 1.0), ("jitter_p", 0.0), ("gray_p", 1.0), ("brightness", 1.5),
                                        ("crop_scale", (0.5, 0.6)), ("blur_p", 1.0), ("size", 24)])
def test_control_changes_config_and_grid(tuner, name, value):
    before = tuner.grid.copy()
    tuner.controls[name].value = value            # through the widget's observer, as a user would
    got = getattr(tuner.config, name)
    assert got == pytest.approx(value)
    assert before.shape != tuner.grid.shape or not np.array_equal(before, tuner.grid)


def test_invalid_value_is_refused(tuner):
    old = tuner.config
    assert not tuner.set_param("blur_kernel", 4)
    assert tuner.config == old and "blur_kernel=4" in tuner.w_status.value


def test_isolate_shows_one_op(tuner):
    tuner.set_param("jitter_p", 1.0)
    full = tuner.config
    tuner.w_isolate.value = "flip"
    assert tuner.config == full                    # isolation changes the view, not the config
    v = tuner.views                                # (N, V, C, S, S): each view is the image or its mirror
    orig = tuner.images.float()
    for i in range(v.shape[0]):
        for j in range(v.shape[1]):
            assert torch.allclose(v[i, j], orig[i], atol=1e-5) or torch.allclose(
                v[i, j], orig[i].flip(-1), atol=1e-5
            )
    assert isolate_config(full, "flip").jitter_p == 0


def test_use_for_training_round_trips(tuner):
    tuner.w_pipeline.value = "mocov2"
    tuner.set_param("saturation", 0.2)
    cfg = tuner.use_for_training()
    assert isinstance(cfg, AugmentConfig) and cfg.saturation == 0.2 and cfg.blur_p == 0.5
    assert config_from_yaml(config_to_yaml(cfg)) == cfg
    assert config_from_yaml(tuner.w_yaml.value) == cfg


def test_render_budget(tuner):
    times = []
    for _ in range(3):
        tuner.render()
        times.append(tuner.render_seconds)
    assert min(times) < 0.5


def test_static_figure(images):
    fig = grid_figure(images[:2], "clsa_strong", n_views=2, zoom=1)
    assert decode_data_uri(fig.data[0].source).shape == (2 * 34, 3 * 34, 3)
