"""`make demo`, shortened: the real demo script end to end in a scratch workspace; assert on what it writes."""

import json
import subprocess
import sys

import pytest

from demo import split_overrides
from evaluation.metrics import METRIC_KEYS
from tests.interrupts import output_until, press_ctrl_c, start_in_own_group
from tests.training_fixtures import REPO_ROOT


@pytest.mark.slow
def test_short_demo_writes_summary_metrics_loss_plot_and_report(tiny_model_dir, tmp_path):
    workspace, out_dir = tmp_path / "workspace", tmp_path / "out"
    result = subprocess.run(
        [sys.executable, "demo.py", "--clips", "20", "--workspace", str(workspace), "--out-dir", str(out_dir),
         "num_train_epochs=3", "logging_steps=1", "eval_steps=5"],
        cwd=REPO_ROOT, capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]

    metrics = json.loads((out_dir / "metrics.json").read_text())
    for model in ("base", "finetuned"):
        assert set(metrics[model]) == set(METRIC_KEYS)
        assert metrics["counts"][model]["samples"] >= 1 and metrics["counts"][model]["errors"] == 0
    assert metrics["loss"]["last"] < metrics["loss"]["first"], "the training loss must fall"

    attributes = metrics["attributes"]
    clips = metrics["counts"]["finetuned"]["samples"]
    assert attributes["clips"] == clips
    assert attributes["chance"] == {"colour": 0.25, "shape": 1 / 3, "direction": 0.25, "background": 0.25}
    for run in ("base", "finetuned", "finetuned_reversed"):
        assert set(attributes[run]) == {"colour", "shape", "direction", "background"}
        # each accuracy is a whole number of the held-out clips
        assert all(0 <= v <= 1 and round(v * clips, 6).is_integer() for v in attributes[run].values())
    assert metrics["val_loss"]["first"] > 0 and metrics["val_loss"]["last"] > 0  # the config evaluates on val
    assert set(metrics["stage_seconds"]) >= {"preflight + train", "reverse clips", "evaluate reversed"}

    # the control evaluated the adapter on reversed copies of the same held-out clips, through evaluate_model.py
    reversed_set = json.loads((workspace / "data" / "webvid" / "reversed" / "webvid_test_reversed.json").read_text())
    test_set = json.loads((workspace / "data" / "webvid" / "webvid_test.json").read_text())
    assert [r["id"] for r in reversed_set] == [r["id"] for r in test_set] and len(test_set) == clips
    assert all((workspace / r["videos"][0]).is_file() and "/reversed/" in r["videos"][0] for r in reversed_set)
    reversed_run = json.loads((out_dir / "eval_reversed" / "metrics.json").read_text())
    assert reversed_run["results"]["adapter"]["counts"]["samples"] == clips

    summary = (out_dir / "summary.md").read_text()
    assert "| metric | base | fine-tuned |" in summary and "| cider |" in summary
    assert "| attribute | chance | base | fine-tuned | fine-tuned, frames reversed |" in summary
    assert "| direction | 25 |" in summary
    assert (out_dir / "loss.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    report = (out_dir / "report.html").read_text()
    strips = [line for line in report.splitlines() if "frames/" in line]
    jpegs = sorted((out_dir / "frames").glob("*.jpg"))
    assert strips and jpegs and all(path.read_bytes()[:3] == b"\xff\xd8\xff" for path in jpegs)
    assert len(list((out_dir / "frames").glob("*.jpg"))) == metrics["counts"]["finetuned"]["samples"]

    # everything went to the workspace: the checkout's own data and adapter were not touched
    assert (workspace / "dataset_info.json").is_file() and (workspace / "saves" / "tiny_qwen2vl_demo").is_dir()
    assert "workspace" not in (REPO_ROOT / "dataset_info.json").read_text()


def test_clips_below_one_are_refused_in_one_sentence(tmp_path):
    result = subprocess.run(
        [sys.executable, "demo.py", "--clips", "0", "--workspace", str(tmp_path), "--out-dir", str(tmp_path / "o")],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "argument --clips: expected a number of clips of at least 1, got '0'" in result.stderr
    assert not (tmp_path / "data").exists()  # nothing ran


def write_splits(data_dir, val: int, test: int) -> None:
    data_dir.mkdir(parents=True)
    for split, count in (("val", val), ("test", test)):
        (data_dir / f"webvid_{split}.json").write_text(json.dumps([{"id": str(i)} for i in range(count)]))


def test_an_empty_val_split_trains_without_validation_and_an_empty_test_split_stops(tmp_path, capsys):
    config = {"eval_dataset": "webvid_val", "eval_strategy": "steps"}
    write_splits(tmp_path / "full", val=1, test=2)
    assert split_overrides(tmp_path / "full", 30, config) == []
    write_splits(tmp_path / "no_val", val=0, test=1)
    assert split_overrides(tmp_path / "no_val", 3, config) == ["eval_dataset=", "eval_strategy=no"]
    assert "the val split" in capsys.readouterr().out
    assert split_overrides(tmp_path / "no_val", 3, {"eval_dataset": None}) == []  # nothing to turn off
    write_splits(tmp_path / "no_test", val=0, test=0)
    with pytest.raises(SystemExit, match=r"demo stopped: the held-out split .*webvid_test.json is empty \(3 clips\)"):
        split_overrides(tmp_path / "no_test", 3, config)


def test_ctrl_c_stops_the_running_stage_with_one_line_and_exit_130(tmp_path):
    demo = start_in_own_group(
        [sys.executable, "demo.py", "--workspace", str(tmp_path / "w"), "--out-dir", str(tmp_path / "o")], REPO_ROOT
    )
    output_until(demo.stdout, "$ ")  # stage 1's command: the stage is starting
    out, err = press_ctrl_c(demo)  # the demo's group: its stage runs in a session of its own
    assert demo.returncode == 130
    assert "Traceback" not in out + err and "KeyboardInterrupt" not in out + err
    assert err.strip().splitlines() == ["demo interrupted (Ctrl-C): the running stage was stopped"]
