"""data.probe_cache: every probe failure is a named outcome the converter can count; a dead worker is an error."""

import multiprocessing
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from data import convert_webvid
from data.convert_report import SKIP_REASONS
from data.probe_cache import ProbeCache, ProbeOutcome, Prober, ProbeWorkerDied
from tests.clips import make_clip
from tests.process_tree import ON_LINUX, children, frozen, kill_session, session_processes, wait_for
from video import REASONS

REPO_ROOT = Path(__file__).resolve().parents[1]


def test_every_probe_reason_is_a_skip_reason_the_converter_can_count():
    """A probe reason the report does not know would make ConversionReport.skip raise mid-run."""
    assert set(REASONS) - set(SKIP_REASONS) == set()


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return make_clip(tmp_path_factory.mktemp("probe_cache") / "clip.mp4", n_frames=24, fps=24, width=64, height=48)


def _finishes_within(seconds: float, function) -> dict:
    """Run ``function`` on a thread; fail (rather than hang the suite) if it is still running after ``seconds``."""
    result: dict = {}

    def target():
        try:
            result["value"] = function()
        except BaseException as error:  # noqa: BLE001 - handed to the test to assert on
            result["error"] = error

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"still running after {seconds} s: the probe hangs"
    return result


@pytest.mark.slow  # a kill: make test-fast runs no kill, browser or training
def test_a_killed_worker_is_an_error_not_a_hang(clip):
    """The out-of-memory killer's SIGKILL on one worker used to leave the run waiting forever."""
    with Prober(2) as prober:
        outcomes = prober.probe([str(clip)] * 3000)
        assert next(outcomes).summary is not None  # the workers are up and busy
        os.kill(multiprocessing.active_children()[0].pid, signal.SIGKILL)
        result = _finishes_within(20, lambda: sum(1 for _ in outcomes))
    assert isinstance(result.get("error"), ProbeWorkerDied), result
    assert "a probe worker died (out of memory?)" in str(result["error"]) and "rerun" in str(result["error"])


@pytest.mark.slow  # a kill: make test-fast runs no kill, browser or training
@pytest.mark.skipif(not ON_LINUX, reason="watches the process tree through /proc")
def test_ctrl_c_stops_the_converter_promptly(clip, tmp_path):
    """Ctrl-C in a terminal (SIGINT to the whole process group) while probing: out within seconds, workers gone."""
    videos = tmp_path / "videos"
    videos.mkdir()
    rows = 4000
    for videoid in range(rows):
        (videos / f"{videoid}.mp4").symlink_to(clip)
    csv_path = tmp_path / "webvid.csv"
    csv_path.write_text("videoid,name\n" + "".join(f"{videoid},caption {videoid}\n" for videoid in range(rows)))
    log = tmp_path / "log.txt"
    with open(log, "w") as sink:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "data.convert_webvid",
                "--csv",
                str(csv_path),
                "--video-dir",
                str(videos),
                "--out-dir",
                str(tmp_path / "out"),
                "--workers",
                "2",
            ],
            cwd=REPO_ROOT,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            wait_for(lambda: process.poll() is not None or len(children(process.pid)) == 2, "the probe workers")
            with frozen(process.pid):  # the pool is open, so the run cannot have published when the signal lands
                assert process.poll() is None and len(children(process.pid)) == 2, log.read_text()
                os.killpg(process.pid, signal.SIGINT)
            started = time.monotonic()
            process.wait(timeout=15)
            assert time.monotonic() - started < 10
            wait_for(lambda: not session_processes(process.pid), "the probe workers to exit", timeout=10)
        finally:
            kill_session(process.pid)
    assert process.returncode == 130, log.read_text()
    assert "interrupted" in log.read_text()


class _DiesAfterTwo(Prober):
    """A prober whose pool loses a worker after two outcomes (what the out-of-memory killer does mid-run)."""

    def probe(self, paths):
        outcomes = super().probe(paths)
        yield next(outcomes)
        yield next(outcomes)
        raise ProbeWorkerDied("a probe worker died (out of memory?)")


def test_probes_done_before_a_worker_died_are_cached(clip, tmp_path, monkeypatch):
    videos = tmp_path / "videos"
    videos.mkdir()
    for videoid in range(5):
        (videos / f"{videoid}.mp4").symlink_to(clip)
    csv_path = tmp_path / "webvid.csv"
    csv_path.write_text("videoid,name\n" + "".join(f"{videoid},caption {videoid}\n" for videoid in range(5)))
    monkeypatch.setattr(convert_webvid, "Prober", _DiesAfterTwo)
    options = convert_webvid.ConvertOptions(csv=csv_path, video_dir=videos, out_dir=tmp_path / "out", workers=1)
    with pytest.raises(ProbeWorkerDied):
        convert_webvid.convert(options)
    with ProbeCache(tmp_path / "out" / "probe_cache.sqlite") as cache:
        keys = [(str(videos / f"{videoid}.mp4"), clip.stat().st_size, clip.stat().st_mtime_ns) for videoid in range(5)]
        assert len(cache.get_many(keys)) == 2  # a rerun probes only the three left


@pytest.mark.slow  # a kill: make test-fast runs no kill, browser or training
def test_the_converter_stops_with_a_clear_error_when_a_worker_is_killed(clip, tmp_path):
    videos = tmp_path / "videos"
    videos.mkdir()
    rows = 4000
    for videoid in range(rows):
        (videos / f"{videoid}.mp4").symlink_to(clip)
    csv_path = tmp_path / "webvid.csv"
    csv_path.write_text("videoid,name\n" + "".join(f"{videoid},caption {videoid}\n" for videoid in range(rows)))
    out = tmp_path / "out"
    argv = ["--csv", str(csv_path), "--video-dir", str(videos), "--out-dir", str(out), "--workers", "2"]
    thread_result: dict = {}

    def convert_until_done():
        thread_result.update(_finishes_within(60, lambda: convert_webvid.main(argv)))

    runner = threading.Thread(target=convert_until_done)
    runner.start()
    deadline = time.monotonic() + 60
    while not (workers := multiprocessing.active_children()):  # the pool starts when probing starts
        assert runner.is_alive() and time.monotonic() < deadline
        time.sleep(0.02)
    os.kill(workers[0].pid, signal.SIGKILL)
    killed = time.monotonic()
    runner.join(60)
    assert time.monotonic() - killed < 15
    error = thread_result.get("error")
    assert isinstance(error, SystemExit) and "a probe worker died (out of memory?)" in str(error.code), thread_result
    assert not (out / "webvid_train.json").exists()  # nothing published


def test_a_corrupt_probe_cache_is_set_aside_and_rebuilt(tmp_path, capsys):
    """Only a cache: a file that is not a readable database (a half copy, garbage) costs a re-probe, not the run."""
    path = tmp_path / "probe_cache.sqlite"
    path.write_bytes(b"not a database" * 100)
    key = ("clip.mp4", 10, 20)
    with ProbeCache(path) as cache:
        assert cache.get_many([key]) == {}
        cache.put_many([(key, ProbeOutcome(None, "missing", ""))])
    assert (tmp_path / "probe_cache.sqlite.corrupt").read_bytes() == b"not a database" * 100
    assert f"probe cache {path} is not a readable SQLite file" in capsys.readouterr().err
    with ProbeCache(path) as cache:
        assert cache.get_many([key]) == {key: ProbeOutcome(None, "missing", "")}
