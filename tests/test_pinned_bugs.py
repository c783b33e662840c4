"""The preflight refuses settings that hit a known bug of the pinned versions, naming the fix."""

import pytest

from plugins import preflight
from plugins.pinned_bugs import pinned_bug_errors
from plugins.preflight_report import PreflightError
from tests.preflight_fixtures import config


def test_fa2_is_refused_under_transformers_5_6_0_only():
    (error,) = pinned_bug_errors({"flash_attn": "fa2"}, transformers_version="5.6.0")
    assert "transformers#45588" in error and error.endswith("set flash_attn: sdpa")
    assert pinned_bug_errors({"flash_attn": "fa2"}, transformers_version="5.6.1") == []
    assert pinned_bug_errors({"flash_attn": "sdpa"}, transformers_version="5.6.0") == []
    assert pinned_bug_errors({}, transformers_version="5.6.0") == []  # auto: sdpa


def test_preflight_refuses_fa2_before_reading_anything(tiny_model_dir, tmp_path):
    settings = config(tiny_model_dir, tmp_path / "no-such-dataset", flash_attn="fa2")
    with pytest.raises(PreflightError, match="set flash_attn: sdpa"):
        preflight.run(settings)
