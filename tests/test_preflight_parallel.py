"""Preflight token counting over processes: the same report and --drop-offending output as one process (offenders
included, in file order), its rate printed, a killed worker an error instead of a hang, Ctrl-C a prompt exit."""

import dataclasses
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time

import pytest

from plugins.preflight import main, parse_options, run, split_preflight_options
from plugins.preflight_report import CHAT_MARKUP, TEXT_TRUNCATED, UNREADABLE, VIDEO_TRUNCATED, PreflightError
from tests.clips import make_clip
from tests.preflight_fixtures import CAPTION, config, record, write_config, write_datasets
from tests.worker_kill import error_when_a_worker_is_killed

LONG_CAPTION = " ".join([CAPTION] * 40)  # a few hundred text tokens: over cutoff_len in its text
N_KILL_SAMPLES = 4000  # seconds of work for two processes: time to kill one of them mid-run


@pytest.fixture(scope="module")
def dataset_dir(tmp_path_factory):
    """clips_train: 41 samples cycling through a fitting clip, a long caption, a 224x224 clip over cutoff_len,
    an unreadable clip and chat markup (a few samples per task, many tasks per worker); clips_val: 3 more, with
    the ids missing from one record; clips_many: N_KILL_SAMPLES fitting samples."""
    root = tmp_path_factory.mktemp("preflight_parallel")
    make_clip(root / "clips" / "small.mp4", n_frames=24, fps=12, width=64, height=48)
    make_clip(root / "clips" / "big.mp4", n_frames=24, fps=12, width=224, height=224)
    (root / "clips" / "broken.mp4").write_text("not a video")
    kinds = [
        lambda n: record(f"ok{n}", "clips/small.mp4"),
        lambda n: record(f"long{n}", "clips/small.mp4", caption=LONG_CAPTION),
        lambda n: record(f"big{n}", "clips/big.mp4"),
        lambda n: record(f"broken{n}", "clips/broken.mp4"),
        lambda n: record(f"markup{n}", "clips/small.mp4", caption="done.<|im_end|>"),
        lambda n: record(f"ok{n}", "clips/small.mp4", caption=f"A red circle moves {n} times"),
    ]
    val = [record("v0", "clips/big.mp4"), record("v1", "clips/small.mp4"), record("v2", "clips/broken.mp4")]
    del val[1]["id"]
    write_datasets(
        root,
        {
            "clips_train": [kinds[n % len(kinds)](n) for n in range(41)],
            "clips_val": val,
            "clips_many": [record(f"m{n}", "clips/small.mp4") for n in range(N_KILL_SAMPLES)],
        },
    )
    return root


def mixed_config(tiny_model_dir, dataset_dir, **overrides):
    return config(tiny_model_dir, dataset_dir, dataset="clips_train", eval_dataset="clips_val", cutoff_len=200,
                  **overrides)  # fmt: skip


def without_rate(report):
    return dataclasses.replace(report, token_count=None)


def test_processes_give_the_one_process_report_and_drop_output(tiny_model_dir, dataset_dir, tmp_path):
    args = mixed_config(tiny_model_dir, dataset_dir)
    reports, outputs = {}, {}
    for workers in (1, 2, 3):
        out = tmp_path / f"fit{workers}"
        reports[workers] = run(args, drop_offending_to=out, decode_check=False, workers=workers)
        outputs[workers] = {path.name: path.read_bytes() for path in sorted(out.iterdir())}
    one = reports[1]
    assert one.n_samples == 44 and len(one.token_counts) == 44 - 7 - 7 - 1  # not measured: markup, broken clips
    reasons = [(offender.dataset, offender.index, offender.reason) for offender in one.offenders]
    assert reasons[:6] == [
        ("clips_train", 1, TEXT_TRUNCATED),
        ("clips_train", 2, VIDEO_TRUNCATED),
        ("clips_train", 3, UNREADABLE),
        ("clips_train", 4, CHAT_MARKUP),
        ("clips_train", 7, TEXT_TRUNCATED),
        ("clips_train", 8, VIDEO_TRUNCATED),
    ]
    assert reasons[-2:] == [("clips_val", 0, VIDEO_TRUNCATED), ("clips_val", 2, UNREADABLE)]
    assert [offender.sample_id for offender in one.offenders[-2:]] == ["v0", "v2"]
    assert without_rate(reports[2]) == without_rate(one) and without_rate(reports[3]) == without_rate(one)
    assert outputs[2] == outputs[1] and outputs[3] == outputs[1]
    assert set(outputs[1]) == {"clips_train.json", "clips_val.json", "dataset_info.json", "dropped.json"}
    assert [r.get("id") for r in json.loads(outputs[1]["clips_val.json"])] == [None]  # the record without an id


def test_the_rate_and_processes_are_printed(tiny_model_dir, dataset_dir, tmp_path, capsys):
    path = write_config(tmp_path / "cfg.yaml", config(tiny_model_dir, dataset_dir))
    with pytest.raises(SystemExit):  # its broken clips and chat markup fail it
        main([path, "--skip-decode-check", "--workers", "2"])
    assert re.search(r"token count: 41 samples in [\d.]+ s \([\d.]+ samples/s, 2 processes\)", capsys.readouterr().out)


def test_the_workers_option_reaches_the_preflight_from_a_training_command_line():
    train_args, options = split_preflight_options(["c.yaml", "--workers", "3", "x=1", "--workers=2"])
    assert train_args == ["c.yaml", "x=1"] and parse_options(options).workers == 2
    with pytest.raises(PreflightError, match=r"argument --workers: 0: expected a number of processes >= 1"):
        parse_options(["--workers", "0"])


@pytest.mark.slow  # a kill: make test-fast runs no kill, browser or training
def test_a_killed_worker_is_an_error_not_a_hang(tiny_model_dir, dataset_dir):
    args = config(tiny_model_dir, dataset_dir, dataset="clips_many")
    message = str(error_when_a_worker_is_killed(lambda: run(args, decode_check=False, workers=2), PreflightError))
    assert "a preflight worker process died" in message and "clips_many samples" in message
    assert "--workers N, now 2" in message


@pytest.mark.slow  # a kill: make test-fast runs no kill, browser or training
def test_ctrl_c_stops_at_once_and_leaves_no_worker(tiny_model_dir, dataset_dir, tmp_path):
    path = write_config(tmp_path / "cfg.yaml", config(tiny_model_dir, dataset_dir, dataset="clips_many"))
    process = subprocess.Popen(
        [sys.executable, "-m", "plugins.preflight", path, "--skip-decode-check", "--workers", "2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,  # its own process group, as a terminal's: Ctrl-C reaches the workers too
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # a background shell may ignore Ctrl-C
    )
    seen = bytearray()

    def read_stderr():
        for chunk in iter(lambda: os.read(process.stderr.fileno(), 4096), b""):
            seen.extend(chunk)

    reader = threading.Thread(target=read_stderr, daemon=True)
    reader.start()
    deadline = time.monotonic() + 180
    counting = re.compile(rb"preflight clips_many: .*\| [1-9]\d*/4000")  # the bar has moved: workers are up
    while not counting.search(seen) and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert process.poll() is None, f"finished before it could be interrupted: {bytes(seen)[-2000:]}"
    os.killpg(process.pid, signal.SIGINT)
    assert process.wait(timeout=30) == 130
    reader.join(timeout=10)
    assert b"preflight interrupted (Ctrl-C): nothing was written" in seen
    # a worker finishes the range in hand (a fraction of a second), then exits: wait until the group is empty
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            os.killpg(process.pid, 0)
        except ProcessLookupError:
            break  # no process of the group is left
        time.sleep(0.05)
    with pytest.raises(ProcessLookupError):
        os.killpg(process.pid, 0)


FORK_AFTER_OPENMP = """
import sys
import torch
from PIL import Image
from plugins.preflight import run
from plugins.run_config import load_run_config

torch.set_num_threads(2)
torch.ones(4_000_000).add(1).sum()  # the parent's OpenMP thread pool is started before the workers are forked
for i in range(8):
    Image.new("RGB", (56, 56), (40 * i, 0, 0)).save(f"{sys.argv[2]}/frame{i}.png")
report = run(load_run_config(sys.argv[1]), decode_check=False, workers=2)
print("measured", len(report.token_counts))
"""


@pytest.mark.slow  # a fresh interpreter whose OpenMP pool started before the fork: make test runs it
def test_workers_forked_after_torch_ran_threads_do_not_hang(tiny_model_dir, tmp_path):
    """Frames given as images run torch ops inside the workers; forked from a process whose OpenMP pool had started
    (any torch op, e.g. in a notebook that calls plugins.preflight.check), they used to wait forever on it."""
    frames = [f"{tmp_path}/frame{i}.png" for i in range(8)]
    write_datasets(tmp_path, {"clips_frames": [record(f"f{n}", frames) for n in range(16)]})
    cfg = write_config(tmp_path / "cfg.yaml", config(tiny_model_dir, tmp_path, dataset="clips_frames"))
    try:
        result = subprocess.run(
            [sys.executable, "-c", FORK_AFTER_OPENMP, cfg, str(tmp_path)], capture_output=True, text=True, timeout=240
        )
    except subprocess.TimeoutExpired:
        pytest.fail("the preflight's workers hung (torch's OpenMP pool inherited through fork)")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "measured 16" in result.stdout
