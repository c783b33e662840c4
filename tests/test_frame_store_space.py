"""Every build says where the store is and how big it got; it estimates the rest from the entries stored and stops
(keeping them) when the disk cannot hold it, and a resumed build that cannot fit refuses to start."""

import collections
import shutil

import pytest

from frame_store.build import StoreBuildError
from frame_store.shard import read_lines
from tests.frame_store_fixtures import build, exact_plugin
from tests.training_fixtures import sample_clips

Usage = collections.namedtuple("Usage", "total used free")


def _disk_with_free(monkeypatch, free: int) -> None:
    """The store's file system reports ``free`` bytes (shutil.disk_usage, what the build asks)."""
    monkeypatch.setattr(shutil, "disk_usage", lambda path: Usage(10**12, 10**12 - free, free))


def _entries(directory) -> int:
    return sum(1 for path in directory.glob("shard-*.jsonl") for line in read_lines(path) if "offset" in line)


def test_a_build_prints_its_directory_estimate_free_space_and_size(sample_dir, tmp_path, capsys):
    target, result = build(tmp_path / "frames", sample_clips(sample_dir, 6), exact_plugin())
    printed = capsys.readouterr().out
    assert result.n_decoded == 6 and not result.failures
    texts = (f"frame store: {target.directory}\n", "free on that disk", f"{target.directory} holds")
    before, estimate, after = (printed.index(text) for text in texts)
    assert before < estimate < after
    assert "more for 2 clips" in printed  # estimated after the first 4 were stored, for the other 2


def test_a_build_that_cannot_fit_stops_keeping_what_it_stored_and_a_rerun_refuses_then_resumes(
    sample_dir, tmp_path, monkeypatch, capsys
):
    clips, plugin = sample_clips(sample_dir, 6), exact_plugin()
    _disk_with_free(monkeypatch, 1000)
    with pytest.raises(StoreBuildError, match=r"frames/\w+ needs about .* more for 2 clips but its disk has 1.00 kB "
                       "free: free space there, or set FRAME_STORE_DIR"):  # fmt: skip
        build(tmp_path / "frames", clips, plugin)
    (directory,) = (tmp_path / "frames").iterdir()
    assert _entries(directory) == 4 and not (directory / "manifest.json").exists()  # the first batch is kept
    with pytest.raises(StoreBuildError, match="more for 2 clips"):  # refused before decoding anything
        build(tmp_path / "frames", clips, plugin)
    assert _entries(directory) == 4
    monkeypatch.undo()
    capsys.readouterr()
    _, result = build(tmp_path / "frames", clips, plugin)
    assert (result.n_clips, result.n_decoded) == (6, 2) and _entries(directory) == 6
