"""The converter publishes its outputs together, only after a complete run: failures, Ctrl-C and kill -9 leave the
previous outputs exactly as they were; a run that keeps nothing fails loudly; the user's data stays out of git."""

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import data.probe_cache as probe_cache
from data.convert_webvid import ConversionFailed, ConvertOptions, convert, main
from tests.clips import make_clip
from tests.process_tree import children, frozen, kill_session, session_processes, wait_for

REPO_ROOT = Path(__file__).resolve().parents[1]
HEADER = "videoid,name,page_idx,page_dir,duration,contentUrl\n"
OUTPUTS = (
    "webvid_train.json",
    "webvid_val.json",
    "webvid_test.json",
    "report.json",
    "skipped.csv",
    "dataset_info.json",
)


@pytest.fixture(scope="module")
def good_clip(tmp_path_factory):
    return make_clip(tmp_path_factory.mktemp("clips") / "good.mp4", n_frames=36, fps=24, width=64, height=48)


def small_dataset(root: Path, good_clip: Path, n_good: int = 6, n_missing: int = 0) -> tuple[Path, Path]:
    videos = root / "videos"
    videos.mkdir(parents=True, exist_ok=True)
    for i in range(n_good):
        shutil.copy(good_clip, videos / f"{i}.mp4")
    rows = [f"{i},clip number {i},1,p,PT00H00M02S,u{i}" for i in range(n_good)]
    rows += [f"m{i},missing clip {i},1,p,PT00H00M02S,m{i}" for i in range(n_missing)]
    csv_path = root / "webvid.csv"
    csv_path.write_text(HEADER + "\n".join(rows) + "\n", encoding="utf-8")
    return csv_path, videos


def snapshot(out_dir: Path) -> dict[str, bytes]:
    files = {name: (out_dir / name).read_bytes() for name in OUTPUTS if (out_dir / name).exists()}
    assert {"webvid_train.json", "report.json", "skipped.csv"} <= set(files)
    return files


def cli_args(csv_path: Path, videos: Path, out_dir: Path, workers: int = 1) -> list[str]:
    return [
        "--csv",
        str(csv_path),
        "--video-dir",
        str(videos),
        "--out-dir",
        str(out_dir),
        "--workers",
        str(workers),
        "--val-ratio",
        "0.2",
        "--test-ratio",
        "0.2",
    ]


def test_a_failing_run_leaves_the_previous_outputs_untouched(tmp_path, good_clip, monkeypatch):
    csv_path, videos = small_dataset(tmp_path, good_clip)
    out_dir = tmp_path / "out"
    main(cli_args(csv_path, videos, out_dir))
    before = snapshot(out_dir)
    assert json.loads(before["report.json"])["kept"] == 6

    # The next run breaks half-way (any unexpected error inside the pipeline), after its files were opened.
    csv_path.write_text(csv_path.read_text() + "6,a new row,1,p,PT00H00M02S,u6\n")
    shutil.copy(good_clip, videos / "6.mp4")
    calls = []

    def breaks_on_third_clip(summary, rules):
        calls.append(summary)
        if len(calls) == 3:
            raise RuntimeError("a clip nobody expected")
        return None

    monkeypatch.setattr(probe_cache, "check_probed_clip", breaks_on_third_clip)
    with pytest.raises(RuntimeError, match="nobody expected"):
        main(cli_args(csv_path, videos, out_dir))
    assert snapshot(out_dir) == before
    assert not list(out_dir.glob(".incomplete-*")), "the failed run's staging folder is removed"


def _start_busy_conversion(args: list[str]) -> subprocess.Popen:
    """The converter CLI in its own session, returned once its two probe workers are running."""
    process = subprocess.Popen(
        [sys.executable, "-m", "data.convert_webvid", *args],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    seen = []
    reader = threading.Thread(target=lambda: seen.extend(iter(process.stderr.readline, "")), daemon=True)
    reader.start()
    wait_for(lambda: process.poll() is not None or len(children(process.pid)) == 2, "the probe workers")
    assert process.poll() is None, "".join(seen)
    process.stderr_text = lambda: (reader.join(timeout=10), "".join(seen))[1]
    return process


@pytest.mark.slow  # a kill: make test-fast runs no kill, browser or training
@pytest.mark.parametrize("how", ["ctrl-c", "kill-9"])
def test_interrupted_or_killed_run_keeps_previous_outputs_and_a_rerun_completes(tmp_path, good_clip, how):
    csv_path, videos = small_dataset(tmp_path, good_clip, n_good=6)
    out_dir = tmp_path / "out"
    main(cli_args(csv_path, videos, out_dir))
    before = snapshot(out_dir)

    # 3,000 more clips to probe (hard links: distinct paths, no disk) keep two probe workers busy for seconds.
    rows = [f"busy{i},busy clip {i},1,p,PT00H00M02S,b{i}" for i in range(3000)]
    for i in range(3000):
        os.link(good_clip, videos / f"busy{i}.mp4")
    busy_csv = tmp_path / "busy.csv"
    busy_csv.write_text(csv_path.read_text() + "\n".join(rows) + "\n", encoding="utf-8")

    process = _start_busy_conversion(cli_args(busy_csv, videos, out_dir, workers=2))
    try:
        with frozen(process.pid):  # its probe pool is open, so it cannot have published when the signal lands
            assert process.poll() is None and len(children(process.pid)) == 2, "the run must still be busy"
            if how == "ctrl-c":
                os.killpg(process.pid, signal.SIGINT)  # a terminal's Ctrl-C: the whole process group
            else:
                process.kill()
        started = time.monotonic()
        process.wait(timeout=30)
        if how == "ctrl-c":
            assert time.monotonic() - started < 10, "Ctrl-C stops promptly"
            assert process.returncode == 130 and "nothing published" in process.stderr_text()
        else:
            assert process.returncode == -signal.SIGKILL
        wait_for(lambda: not session_processes(process.pid), "the probe workers to exit", timeout=10)
    finally:
        kill_session(process.pid)
    assert snapshot(out_dir) == before

    report = convert(ConvertOptions(csv=csv_path, video_dir=videos, out_dir=out_dir, workers=1))
    assert report["kept"] == 6
    assert not list(out_dir.glob(".incomplete-*")), "a killed run's staging folder is cleaned up by the next run"


def test_a_run_that_keeps_nothing_fails_and_names_the_cause(tmp_path, good_clip, capsys):
    csv_path, videos = small_dataset(tmp_path, good_clip, n_good=3)
    out_dir = tmp_path / "out"
    main(cli_args(csv_path, videos, out_dir))
    before = snapshot(out_dir)
    wrong_dir = tmp_path / "not-the-videos"
    wrong_dir.mkdir()
    with pytest.raises(SystemExit) as stop:
        main(cli_args(csv_path, wrong_dir, out_dir))
    message = str(stop.value.code)
    assert "0 of 3 rows kept" in message and "not found under --video-dir" in message
    assert str(wrong_dir) in message and "line 2" in message
    assert snapshot(out_dir) == before


def test_an_empty_train_split_is_refused(tmp_path, good_clip):
    csv_path, videos = small_dataset(tmp_path, good_clip, n_good=2)
    with pytest.raises(ConversionFailed, match="train split would be empty"):
        convert(
            ConvertOptions(
                csv=csv_path, video_dir=videos, out_dir=tmp_path / "out", workers=1, val_ratio=0.5, test_ratio=0.4999
            )
        )
    assert not (tmp_path / "out" / "webvid_train.json").exists()


def test_splits_are_registered_in_the_output_folder_not_the_repository(tmp_path, good_clip, capsys):
    tracked = (REPO_ROOT / "dataset_info.json").read_bytes()
    csv_path, videos = small_dataset(tmp_path, good_clip)
    out_dir = tmp_path / "my data"
    main(cli_args(csv_path, videos, out_dir))
    assert (REPO_ROOT / "dataset_info.json").read_bytes() == tracked
    info = json.loads((out_dir / "dataset_info.json").read_text())
    assert info["webvid_train"]["file_name"] == "webvid_train.json"  # relative to dataset_dir = the output folder
    assert (out_dir / ".gitignore").read_text().splitlines()[-1] == "*"
    printed = capsys.readouterr().out
    assert f"dataset_dir={out_dir}" in printed and f"media_dir={os.path.abspath('.')}" in printed


def test_make_data_forwards_args():
    dry_run = subprocess.run(
        ["make", "-n", "data", "ARGS=--workers 1 --val-ratio 0.2"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "--out-dir data/webvid --workers 1 --val-ratio 0.2" in dry_run
    shards_only = subprocess.run(
        ["make", "-n", "data", "CSV=", "VIDEO_DIR=/shards"], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    ).stdout
    assert "-m data.convert_webvid --video-dir /shards --out-dir" in shards_only  # captions from the shards


def test_a_bad_header_is_one_sentence_not_a_traceback(tmp_path):
    csv_path = tmp_path / "webvid.csv"
    csv_path.write_text("videoid,name,name,page_dir\n1,a,b,p\n")
    (tmp_path / "videos").mkdir()
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "data.convert_webvid",
            "--csv",
            str(csv_path),
            "--video-dir",
            str(tmp_path / "videos"),
            "--out-dir",
            str(tmp_path / "out"),
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "conversion FAILED" in result.stderr and "column 'name' appears 2 times" in result.stderr
    assert not (tmp_path / "out" / "report.json").exists()
