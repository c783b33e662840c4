"""The settings that decide frames, pixels and sequence length, checked before anything is loaded.

    from plugins.video_settings import check_video_settings, SettingsError
    check_video_settings({"video_maxlen": 0})
    # SettingsError: video_maxlen = 0 is not valid: frames sampled per clip must be an integer >= 1 (e.g. 8)

LLaMA-Factory 0.9.5 takes these as given: video_maxlen 0 gives 0 video tokens and an IndexError at the first
training step, video_fps 0 the same, a string from a quoted YAML value fails deep inside the collator. Training
(plugins.preflight, run before every training) and evaluation can call this one pure function on their arguments.
Keys a config leaves out take LLaMA-Factory's defaults (LLAMAFACTORY_DEFAULTS), which are valid.
"""

import math
from collections.abc import Mapping

from video.llamafactory_defaults import LLAMAFACTORY_DEFAULTS  # the keys checked here, with LLaMA-Factory's defaults

# Qwen2-VL's smallest input: one 2x2 group of 14-pixel patches. A smaller budget is upscaled to it anyway.
MIN_PIXEL_BUDGET = 28 * 28


class SettingsError(ValueError):
    """One or more settings are out of range; the message names each key, its value and the valid range."""


def _integer(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


# key -> (test, what the key means and its valid range, example)
_RULES = {
    "video_maxlen": (lambda v: _integer(v) and v >= 1, "frames sampled per clip must be an integer >= 1", "8"),
    "video_fps": (lambda v: _number(v) and v > 0, "frames sampled per second must be a number > 0", "8.0"),
    "video_max_pixels": (
        lambda v: _integer(v) and v >= MIN_PIXEL_BUDGET,
        f"the pixel budget of a video frame must be an integer >= {MIN_PIXEL_BUDGET} (28x28)",
        "50176 = 224x224",
    ),
    "video_min_pixels": (
        lambda v: _integer(v) and v >= 0,
        "the smallest video frame must be an integer >= 0",
        "256 = 16x16",
    ),
    "image_max_pixels": (
        lambda v: _integer(v) and v >= MIN_PIXEL_BUDGET,
        f"the pixel budget of an image must be an integer >= {MIN_PIXEL_BUDGET} (28x28)",
        "589824 = 768x768",
    ),
    "image_min_pixels": (
        lambda v: _integer(v) and v >= 0,
        "the smallest image must be an integer >= 0",
        "1024 = 32x32",
    ),
    "cutoff_len": (lambda v: _integer(v) and v >= 1, "the token budget per sample must be an integer >= 1", "2048"),
}
_MIN_NOT_ABOVE_MAX = (("video_min_pixels", "video_max_pixels"), ("image_min_pixels", "image_max_pixels"))


def check_video_settings(settings: Mapping[str, object]) -> dict[str, object]:
    """Check the frame, pixel and length settings in ``settings`` (other keys are ignored).

    Returns the checked keys with LLaMA-Factory's defaults filled in; raises SettingsError listing every bad key.
    """
    effective = {**LLAMAFACTORY_DEFAULTS, **{key: settings[key] for key in LLAMAFACTORY_DEFAULTS if key in settings}}
    problems = []
    for key, (valid, meaning, example) in _RULES.items():
        if not valid(effective[key]):
            problems.append(f"{key} = {effective[key]!r} is not valid: {meaning} (e.g. {key}={example})")
    for low, high in _MIN_NOT_ABOVE_MAX:
        if not problems and effective[low] > effective[high]:
            problems.append(f"{low} = {effective[low]!r} is not valid: it must be <= {high} ({effective[high]!r})")
    if problems:
        raise SettingsError("; ".join(problems))
    return effective
