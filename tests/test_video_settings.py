"""check_video_settings: the frame, pixel and length settings, refused up front with the key and a valid range."""

from pathlib import Path

import pytest
import yaml

from plugins.video_settings import LLAMAFACTORY_DEFAULTS, SettingsError, check_video_settings

CONFIGS = sorted((Path(__file__).resolve().parents[1] / "configs").rglob("*.yaml"))


@pytest.mark.parametrize("config", CONFIGS, ids=lambda path: path.name)
def test_every_shipped_config_passes(config):
    check_video_settings(yaml.safe_load(config.read_text()))


def test_defaults_fill_what_a_config_leaves_out():
    assert check_video_settings({}) == LLAMAFACTORY_DEFAULTS
    assert check_video_settings({"video_maxlen": 8, "video_fps": 8, "other_key": "x"})["video_maxlen"] == 8


@pytest.mark.parametrize(
    "key, value, expected",
    [
        ("video_maxlen", 0, "video_maxlen = 0 is not valid: frames sampled per clip must be an integer >= 1"),
        ("video_maxlen", -3, "video_maxlen = -3 is not valid"),
        ("video_maxlen", 8.5, "video_maxlen = 8.5 is not valid"),
        ("video_maxlen", "8", "video_maxlen = '8' is not valid"),  # a quoted YAML value: LLaMA-Factory keeps the str
        ("video_maxlen", True, "video_maxlen = True is not valid"),
        ("video_fps", 0, "video_fps = 0 is not valid: frames sampled per second must be a number > 0"),
        ("video_fps", -1.5, "video_fps = -1.5 is not valid"),
        ("video_fps", float("nan"), "video_fps = nan is not valid"),
        ("video_fps", float("inf"), "video_fps = inf is not valid"),
        ("video_max_pixels", 0, "video_max_pixels = 0 is not valid: the pixel budget of a video frame must be an"),
        ("video_max_pixels", 783, "must be an integer >= 784 (28x28)"),
        ("video_max_pixels", 100, "video_max_pixels = 100 is not valid"),
        ("video_min_pixels", -1, "video_min_pixels = -1 is not valid: the smallest video frame must be an integer"),
        ("image_max_pixels", 0, "image_max_pixels = 0 is not valid: the pixel budget of an image"),
        ("image_min_pixels", -1, "image_min_pixels = -1 is not valid"),
        ("cutoff_len", 0, "cutoff_len = 0 is not valid: the token budget per sample must be an integer >= 1"),
        ("cutoff_len", "long", "cutoff_len = 'long' is not valid"),
    ],
)
def test_a_bad_value_names_the_key_the_value_and_the_range(key, value, expected):
    with pytest.raises(SettingsError) as caught:
        check_video_settings({key: value})
    assert expected in str(caught.value)
    assert f"(e.g. {key}=" in str(caught.value)


def test_min_above_max_names_both_keys():
    with pytest.raises(
        SettingsError,
        match=r"video_min_pixels = 100000 is not valid: it must be <= video_max_pixels "
        r"\(50176\)",
    ):
        check_video_settings({"video_min_pixels": 100_000, "video_max_pixels": 50176})
    with pytest.raises(SettingsError, match=r"image_min_pixels = 10000000 .* <= image_max_pixels \(589824\)"):
        check_video_settings({"image_min_pixels": 10_000_000})  # above LLaMA-Factory's default maximum


def test_every_bad_key_is_listed_at_once():
    with pytest.raises(SettingsError) as caught:
        check_video_settings({"video_maxlen": 0, "video_fps": 0, "cutoff_len": -1})
    assert all(key in str(caught.value) for key in ("video_maxlen = 0", "video_fps = 0", "cutoff_len = -1"))
