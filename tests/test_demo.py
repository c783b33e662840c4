"""`make demo`, shortened: the real demo script end to end in a scratch workspace; assert on what it writes."""

import hashlib
import json
import os
import shutil
import subprocess
import sys

import pytest

import demo
from demo import split_overrides
from evaluation.metrics import METRIC_KEYS
from plugins.run_config import load_run_config
from tests.interrupts import output_until, press_ctrl_c, start_in_own_group
from tests.training_fixtures import REPO_ROOT, run_main


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


def test_clips_below_one_are_refused_in_one_sentence(tmp_path, monkeypatch, capsys):
    args = ("--clips", "0", "--workspace", str(tmp_path), "--out-dir", str(tmp_path / "o"))
    result = run_main("demo", *args, monkeypatch=monkeypatch, capsys=capsys)
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


@pytest.mark.slow  # a kill: make test-fast runs no kill, browser or training
def test_ctrl_c_stops_the_running_stage_with_one_line_and_exit_130(tmp_path):
    running = start_in_own_group(
        [sys.executable, "demo.py", "--workspace", str(tmp_path / "w"), "--out-dir", str(tmp_path / "o")], REPO_ROOT
    )
    output_until(running.stdout, "$ ")  # stage 1's command: the stage is starting
    out, err = press_ctrl_c(running)  # the demo's group: its stage runs in a session of its own
    assert running.returncode == 130
    assert "Traceback" not in out + err and "KeyboardInterrupt" not in out + err
    # the stage's own progress bar may have drawn before the signal; the demo's one line ends the output
    assert err.strip().splitlines()[-1] == "demo interrupted (Ctrl-C): the running stage was stopped"


def _short_demo(workspace, out_dir, caller_threads: str) -> None:
    """demo.py on 12 clips for 2 epochs, from a caller whose OMP_NUM_THREADS is ``caller_threads``."""
    env = {**os.environ, "OMP_NUM_THREADS": caller_threads, "MKL_NUM_THREADS": caller_threads}
    result = subprocess.run(
        [sys.executable, "demo.py", "--clips", "12", "--workspace", str(workspace), "--out-dir", str(out_dir),
         "num_train_epochs=2", "logging_steps=1", "eval_steps=2"],
        cwd=REPO_ROOT, capture_output=True, text=True, env=env,
    )  # fmt: skip
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]


def _scores(out_dir, workspace) -> dict:
    """Every number the demo reports but its wall times, and the trained adapter's bytes."""
    metrics = json.loads((out_dir / "metrics.json").read_text())
    metrics.pop("stage_seconds")
    adapter = workspace / "saves" / "tiny_qwen2vl_demo" / "adapter_model.safetensors"
    return {"metrics": metrics, "adapter": hashlib.sha256(adapter.read_bytes()).hexdigest()}


@pytest.mark.slow
def test_short_demo_gives_the_same_numbers_whatever_threads_its_caller_set(tiny_model_dir, tmp_path):
    """Twice the same short demo, from callers with OMP_NUM_THREADS 1 and 2: the same adapter, bit for bit, and the
    same losses, metrics and attribute accuracies (demo.py pins every stage to --threads; the configs set
    full_determinism)."""
    first, second = tmp_path / "first", tmp_path / "second"
    _short_demo(first, first / "out", caller_threads="1")
    # the second run reuses the first one's clips (sample_webvid keeps clips already on disk): the same bytes
    shutil.copytree(first / "data" / "sample" / "videos", second / "data" / "sample" / "videos")
    _short_demo(second, second / "out", caller_threads="2")
    assert _scores(second / "out", second) == _scores(first / "out", first)


def test_every_stage_runs_on_the_demos_thread_count_whatever_the_caller_set():
    env = demo.stage_env(1, {"OMP_NUM_THREADS": "8", "MKL_NUM_THREADS": "4", "HF_HOME": "/somewhere"})
    assert env == {
        "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "PYTHONHASHSEED": "0",
        "HF_HOME": "/somewhere",
    }  # fmt: skip


@pytest.mark.parametrize("config", sorted((REPO_ROOT / "configs").glob("tiny_*_demo.yaml")), ids=lambda p: p.stem)
def test_every_demo_config_trains_deterministically(config):
    settings = load_run_config(config)
    assert settings["full_determinism"] is True, f"{config.name}: full_determinism: true keeps the demo repeatable"
    assert isinstance(settings["seed"], int)
