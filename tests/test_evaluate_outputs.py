"""Where evaluation's outputs go and what it says about them: `make eval` adds the user's options to its own, the
run ends naming report.html, and an output folder it cannot use (unwritable, a corrupt run.json) is one sentence.
No model is loaded; score-only runs the real scorer (Java)."""

import json
import subprocess

import pytest

import evaluate_model
from evaluation.run_identity import RUN_FILE, RunIdentity, check_same_run
from tests.training_fixtures import REPO_ROOT

RECORD = {"id": "a", "model": "adapter", "video": "a.mp4", "prompt": "<video>Describe.",
          "reference": "A red circle moves left.", "prediction": "a red circle moves left", "status": "ok",
          "error": None, "empty": False, "repetitive": False}  # fmt: skip


def test_make_eval_adds_the_users_options_to_config_and_compare_base():
    dry_run = subprocess.run(
        ["make", "-n", "eval", "EVAL_ARGS=--adapter-path X --num-samples 2", "ARGS=video_maxlen=4"],
        cwd=REPO_ROOT, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    command = next(line for line in dry_run.splitlines() if "evaluate_model.py" in line)
    assert command.endswith(
        "evaluate_model.py --config configs/tiny_qwen2vl_demo.yaml --compare-base --adapter-path X --num-samples 2 "
        "video_maxlen=4"
    )


@pytest.mark.slow  # a JVM scoring pass (~10 s): make test runs it, make test-fast does not
def test_a_run_ends_naming_report_html(tmp_path, capsys):
    predictions = tmp_path / "run" / "predictions.jsonl"
    predictions.parent.mkdir()
    predictions.write_text(json.dumps(RECORD) + "\n")
    evaluate_model.main(["--score-only", str(predictions)])
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last.startswith(f"report: {predictions.parent / 'report.html'} ")
    assert str(predictions.parent / "report.md") in last and (predictions.parent / "report.html").is_file()


def test_an_output_dir_that_cannot_be_written_is_named_before_anything_runs(tmp_path):
    predictions = tmp_path / "predictions.jsonl"
    predictions.write_text(json.dumps(RECORD) + "\n")
    blocked = tmp_path / "a_file"
    blocked.write_text("")
    message = rf"error: --output-dir {blocked / 'out'} cannot be written \({blocked} is a file"
    with pytest.raises(SystemExit, match=message):
        evaluate_model.main(["--score-only", str(predictions), "--output-dir", str(blocked / "out")])


@pytest.mark.parametrize("content", ["{cut off", "[1, 2]"])
def test_a_corrupt_run_json_is_named_with_the_fix(tmp_path, content):
    (tmp_path / RUN_FILE).write_text(content)
    run = RunIdentity(settings={"base_model": "m"}, generation={}, models=["adapter"], adapter_sha256=None,
                      test_set={"sha256": "t", "samples": 1})  # fmt: skip
    with pytest.raises(SystemExit, match=rf"error: {tmp_path / RUN_FILE} .*delete {tmp_path} to start over"):
        check_same_run(tmp_path, run, write=True)
