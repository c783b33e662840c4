"""The real CLI on the tiny model: --compare-base over sample clips plus a missing and a corrupt clip, then
resume after a simulated kill, score-only (ours and LLaMA-Factory's file), and errors before any generation."""

import json
import shutil
import subprocess
import sys

import pytest

from evaluation.diagnostics import DIAGNOSTIC_KEYS
from evaluation.metrics import METRIC_KEYS
from tests.evaluation_fixtures import REPO_ROOT, evaluate_cli, make_lora_adapter, run_cli, write_test_set

N_CLIPS = 3
EXTRA_REFERENCES = ["A second caption of the clip.", "A third one."]
DECODING = ["--batch-size", "2", "--max-new-tokens", "6", "--num-workers", "1"]


@pytest.fixture(scope="module")
def evaluation_run(tiny_model_dir, sample_dir, tmp_path_factory):
    work = tmp_path_factory.mktemp("eval")
    test_data = write_test_set(work, sample_dir, N_CLIPS)
    records = json.loads(test_data.read_text())  # the first clip has several references, as in MSR-VTT
    records[0]["references"] = [records[0]["messages"][-1]["content"], *EXTRA_REFERENCES]
    test_data.write_text(json.dumps(records))
    adapter = make_lora_adapter(tiny_model_dir, work / "adapter")
    args = [
        "--base-model",
        str(tiny_model_dir),
        "--adapter-path",
        str(adapter),
        "--test-data",
        str(test_data),
        "--video-dir",
        str(REPO_ROOT),
        "--compare-base",
        "--allow-errors",
        "--allow-guessed-settings",  # make_lora_adapter writes no run_inputs.json
        *DECODING,
    ]
    output_dir = work / "results"
    result = run_cli(*args, "--output-dir", str(output_dir))
    return {
        "work": work,
        "args": args,
        "output_dir": output_dir,
        "stdout": result.stdout,
        "stderr": result.stderr,
        "test_data": test_data,
    }


def _records(output_dir):
    return [json.loads(line) for line in (output_dir / "predictions.jsonl").read_text().splitlines()]


@pytest.mark.slow
def test_outputs_side_by_side_with_errors_recorded(evaluation_run):
    output_dir = evaluation_run["output_dir"]
    records = _records(output_dir)
    assert len(records) == 2 * (N_CLIPS + 2)
    assert len({(r["model"], r["id"]) for r in records}) == len(records)  # nothing duplicated
    for record in records:
        assert {"id", "video", "prompt", "reference", "prediction", "status", "error"} <= set(record)
    assert records[0]["references"] == [records[0]["reference"], *EXTRA_REFERENCES]  # every model's line keeps all
    assert records[1]["references"] == records[0]["references"]  # base, then adapter, per sample
    assert records[2]["references"] == [records[2]["reference"]]
    errors = {r["id"]: r["error"] for r in records if r["status"] == "error"}
    assert set(errors) == {"missing", "corrupt"}
    assert "missing.mp4" in errors["missing"] and "corrupt.mp4" in errors["corrupt"]
    ok = [r for r in records if r["status"] == "ok"]
    base = {r["id"]: r["prediction"] for r in ok if r["model"] == "base"}
    adapter = {r["id"]: r["prediction"] for r in ok if r["model"] == "adapter"}
    assert base.keys() == adapter.keys() and len(base) == N_CLIPS
    assert base != adapter, "a random LoRA should change some answer"

    metrics = json.loads((output_dir / "metrics.json").read_text())
    assert set(metrics["results"]) == {"base", "adapter"} and metrics["primary"] == "adapter"
    for name in ("base", "adapter"):
        assert tuple(metrics["results"][name]["metrics"]) == METRIC_KEYS
        assert tuple(metrics["results"][name]["diagnostics"]) == DIAGNOSTIC_KEYS
        counts = metrics["results"][name]["counts"]
        assert counts["samples"] == N_CLIPS + 2 and counts["errors"] == 2 and counts["scored"] == N_CLIPS
    assert len(metrics["identity"]["adapter"]["sha256"]) == 64
    assert metrics["settings"]["template"] == "qwen2_vl_exact" and metrics["settings"]["video_maxlen"] == 8
    assert metrics["settings"]["batch_size"] == 2

    report = (output_dir / "report.md").read_text()
    assert "| metric | base | adapter | adapter − base |" in report
    assert "- **base**:" in report and "- **adapter**:" in report
    strips = [r["frames"] for r in ok]
    assert all((output_dir / strip).is_file() for strip in strips) and f"]({strips[0]})" in report
    assert f'"frames":"{strips[0]}"' in (output_dir / "report.html").read_text()  # drawn by the page's script
    assert "sample/s" in evaluation_run["stderr"]  # progress bar with throughput
    assert f"report: {output_dir / 'report.html'} " in evaluation_run["stdout"]  # the page people open
    table = {line.split()[0]: line.split()[1:] for line in evaluation_run["stdout"].splitlines() if line.strip()}
    for key in (*METRIC_KEYS, *DIAGNOSTIC_KEYS):  # both models side by side, scores ×100
        expected = metrics["results"]["base"]["diagnostics" if key in DIAGNOSTIC_KEYS else "metrics"][key]
        if key in DIAGNOSTIC_KEYS:  # no interval
            assert len(table[key]) == 2, key
        else:  # each model's value with its bootstrap interval, then adapter − base (paired)
            assert table[key][1].startswith("[") and len(table[key]) > 6, key
        if key != "mean_words" and expected is not None:
            assert table[key][0] == f"{100 * expected:.2f}", key


@pytest.mark.slow
def test_resume_after_kill_loses_and_duplicates_nothing(evaluation_run):
    complete = _records(evaluation_run["output_dir"])
    resumed_dir = evaluation_run["work"] / "resumed"
    resumed_dir.mkdir()
    lines = (evaluation_run["output_dir"] / "predictions.jsonl").read_text().splitlines(keepends=True)
    # killed after 3 records, in the middle of writing the 4th (run.json is written before generation starts)
    (resumed_dir / "predictions.jsonl").write_text("".join(lines[:3]) + lines[3][:25])
    shutil.copy2(evaluation_run["output_dir"] / "run.json", resumed_dir / "run.json")
    run_cli(*evaluation_run["args"], "--output-dir", str(resumed_dir))
    assert _records(resumed_dir) == complete


@pytest.mark.slow
def test_errored_samples_fail_the_run_unless_allowed(evaluation_run):
    """Outputs are written either way; without --allow-errors the exit status says the metrics are partial."""
    assert "2 of 5 samples errored" in evaluation_run["stderr"]  # said loudly even when allowed
    rerun_dir = evaluation_run["work"] / "not_allowed"
    shutil.copytree(evaluation_run["output_dir"], rerun_dir)
    args = [a for a in evaluation_run["args"] if a != "--allow-errors"]
    result = subprocess.run(
        [sys.executable, "evaluate_model.py", *args, "--output-dir", str(rerun_dir)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1, result.stderr[-3000:]
    assert "2 of 5 samples errored" in result.stderr and "--allow-errors" in result.stderr
    assert "missing: " in result.stderr and "corrupt: " in result.stderr  # which ones, and why
    assert "6 answers kept, 2 errored samples retried" in result.stderr
    assert _records(rerun_dir) == _records(evaluation_run["output_dir"]) and (rerun_dir / "metrics.json").is_file()


@pytest.mark.slow
def test_score_only_ours_and_llamafactory(evaluation_run):
    output_dir, work = evaluation_run["output_dir"], evaluation_run["work"]
    run_cli("--score-only", str(output_dir / "predictions.jsonl"), "--output-dir", str(work / "rescored"))
    rescored = json.loads((work / "rescored" / "metrics.json").read_text())
    original = json.loads((output_dir / "metrics.json").read_text())
    assert rescored["results"] == original["results"] and rescored["identity"] == original["identity"]
    strip = _records(output_dir)[0]["frames"]
    report = (work / "rescored" / "report.md").read_text()
    assert f"](../results/{strip})" in report  # the strips stay where the run wrote them, linked from here

    lf_file = work / "lf" / "generated_predictions.jsonl"
    lf_file.parent.mkdir()
    lines = [
        {"prompt": "p", "predict": "a red circle moves left", "label": "A red circle moves left."},
        {"prompt": "p", "predict": "<|im_end|>", "label": "A blue square moves right."},
        {"prompt": "p", "predict": "green green green green", "label": "A green ball."},
    ]
    lf_file.write_text("".join(json.dumps(line) + "\n" for line in lines))
    run_cli("--score-only", str(lf_file))
    metrics = json.loads((lf_file.parent / "metrics.json").read_text())
    assert metrics["counts"] == {"samples": 3, "scored": 3, "empty": 1, "repetitive": 1, "errors": 0}
    assert 0 < metrics["metrics"]["bleu_1"] < 1 and (lf_file.parent / "report.md").is_file()


def _run_failing(*args: str) -> str:
    result = evaluate_cli(*args)
    assert result.returncode != 0
    return result.stderr


@pytest.mark.slow
def test_clear_errors_before_any_generation(tiny_model_dir, sample_dir, tmp_path):
    test_data = write_test_set(tmp_path, sample_dir, 1, with_bad_clips=False)
    common = ["--base-model", str(tiny_model_dir), "--video-dir", str(REPO_ROOT), "--output-dir", str(tmp_path / "o")]
    assert "does not exist" in _run_failing(*common, "--test-data", str(tmp_path / "nope.json"))
    broken = tmp_path / "broken_adapter"
    shutil.copytree(make_lora_adapter(tiny_model_dir, tmp_path / "adapter"), broken)
    (broken / "adapter_model.safetensors").unlink()
    unrecorded = ("--allow-guessed-settings",)  # make_lora_adapter writes no run_inputs.json
    assert "no adapter weights" in _run_failing(*common, *unrecorded, "--test-data", str(test_data), "--adapter-path",
                                                str(broken))  # fmt: skip
    assert not (tmp_path / "o" / "predictions.jsonl").exists()
