"""evaluate_model.py's first stage (evaluation.run_plan.plan_run): the run as the command line asks for it, resolved
and checked without a model; what it records (run.json's identity, metrics.json's settings) comes from it."""

import json

import pytest

import evaluate_model
from evaluation.run_plan import plan_run
from tests.evaluation_fixtures import REPO_ROOT, write_test_set


def test_the_plan_is_what_the_command_line_asks_for(tiny_model_dir, sample_dir, tmp_path):
    test_data = write_test_set(tmp_path, sample_dir, 3, with_bad_clips=False)
    args = evaluate_model.parse_args(
        ["--base-model", str(tiny_model_dir), "--test-data", str(test_data), "--video-dir", str(REPO_ROOT),
         "--num-samples", "2", "--max-new-tokens", "7", "--seed", "3", "video_maxlen=4"]
    )  # fmt: skip
    plan = plan_run(args)
    assert plan.models == ["base"] and plan.adapter is None
    assert [sample.id for sample in plan.samples] == [record["id"] for record in json.loads(test_data.read_text())[:2]]
    assert (plan.settings.video_maxlen, plan.generation.max_new_tokens, plan.generation.seed) == (4, 7, 3)
    identity = plan.identity()
    assert identity.models == ["base"] and identity.test_set["samples"] == 2
    assert identity.settings["video_maxlen"] == 4 and identity.generation["max_new_tokens"] == 7
    recorded = plan.recorded_settings(processes=2)
    assert recorded["test_data"] == str(test_data) and recorded["video_dir"] == str(REPO_ROOT)
    assert (recorded["num_samples"], recorded["processes"], recorded["run_inputs"]) == (2, 2, None)
    assert plan.model_identity() == {"base_model": str(tiny_model_dir), "adapter": None}


def test_compare_base_without_an_adapter_stops_before_the_test_set_is_read(tiny_model_dir, tmp_path):
    args = evaluate_model.parse_args(
        ["--base-model", str(tiny_model_dir), "--test-data", str(tmp_path / "none.json"), "--compare-base"]
    )
    with pytest.raises(SystemExit, match="--compare-base needs an adapter"):
        plan_run(args)
