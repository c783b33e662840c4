"""What a stored entry is served for: the store key names what decides the frames (not our source text), a clip's
identity catches a replaced file, a directory holding another setting's frames is not read, and a damaged entry is
reported as not stored, so the next build re-decodes it."""

import logging
import os
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest

from frame_store.build import build_store
from frame_store.key import StoreTarget, clip_identity, reader_fingerprint
from frame_store.plugin_hook import open_store
from frame_store.reader import FrameStore, read_counts
from plugins.frame_source import FRAME_STORE_ENV, builder_plugin
from tests.frame_store_fixtures import READ, TEMPLATE, build, exact_plugin, settings_for
from tests.training_fixtures import REPO_ROOT, write_train_config


def _decoded(plugin, clip, read=READ) -> list[np.ndarray]:
    """The clip's frames, decoded (through a copy of ``plugin`` that reads no store)."""
    return [np.asarray(frame) for frame in builder_plugin(plugin).read_videos([str(clip)], **read)["videos"][0]]


@pytest.fixture
def stored(clip_matrix, tmp_path):
    """Copies of two matrix clips (the tests change them) and their built store."""
    clips = []
    for name in ("h264_24fps_gop24.mp4", "h264_2997fps_gop1.mp4"):
        clips.append(tmp_path / "videos" / name)
        clips[-1].parent.mkdir(exist_ok=True)
        shutil.copy2(clip_matrix[name][0], clips[-1])
    target, result = build(tmp_path / "frames", clips, exact_plugin())
    assert result.failures == {} and result.n_decoded == 2
    return clips, target


def test_the_key_names_a_declared_frames_version_not_source_text(monkeypatch):
    """A bumped FRAMES_VERSION reads another directory; the key holds no hash of our modules' bytes."""
    import video

    plugin = exact_plugin()
    before = settings_for(plugin)
    assert f"frames={video.FRAMES_VERSION};" in before.code and "pillow=" in before.code and "libavcodec" in before.code
    monkeypatch.setattr(video, "FRAMES_VERSION", video.FRAMES_VERSION + 1)
    reader_fingerprint.cache_clear()
    try:
        bumped = settings_for(plugin)
    finally:
        monkeypatch.undo()
        reader_fingerprint.cache_clear()
    assert bumped.digest != before.digest and settings_for(plugin) == before


def _replace_keeping_size_and_mtime(clip, content: bytes) -> None:
    """What `cp -p` / `rsync -t` of another file of the same size leaves: other bytes, the old size and mtime."""
    stat = os.stat(clip)
    assert len(content) == stat.st_size
    clip.write_bytes(content)
    os.utime(clip, ns=(stat.st_atime_ns, stat.st_mtime_ns))


@pytest.mark.parametrize("replacement", ["another clip", "zeros"])
def test_a_replaced_clip_with_its_old_size_and_mtime_is_not_served_its_old_frames(
    stored, clip_matrix, caplog, replacement
):
    clips, target = stored
    size = clips[0].stat().st_size
    if replacement == "zeros":
        content = bytes(size)
    else:  # another clip's bytes, cut or padded to the old size
        content = clip_matrix["h264_30fps_gop15.avi"][0].read_bytes()[:size].ljust(size, b"\0")
    _replace_keeping_size_and_mtime(clips[0], content)
    store = FrameStore.open(target.directory)
    with caplog.at_level(logging.WARNING, logger="frame_store"):
        assert store.get(str(clips[0])) is None
    assert read_counts(store)["stale"] == 1 and "changed since its frames were stored" in caplog.text
    assert store.get(str(clips[1])) is not None  # the other clip is still served
    assert store.status(str(clips[0])) == "stale"
    _, again = build(target.directory.parent, clips, exact_plugin())
    assert again.n_decoded == 1  # the build decodes the replaced clip again (and fails on zeros, as training would)


def test_a_clip_moved_away_is_still_served_from_the_store(stored):
    clips, target = stored
    plugin = exact_plugin()
    expected = _decoded(plugin, clips[0])
    clips[0].parent.rename(clips[0].parent.with_name("moved_away"))
    plugin = exact_plugin(target.directory.parent)  # reading the store
    frames = plugin.read_videos([str(clips[0])], **READ)["videos"][0]
    assert all(np.array_equal(np.asarray(a), b) for a, b in zip(frames, expected, strict=True))
    assert read_counts(open_store(target.directory))["hits"] == 1
    assert clip_identity(clips[0]) is None


def test_the_identity_reads_only_both_ends_of_a_clip(tmp_path):
    """A stat and at most 128 KiB read, however long the clip (WebVid clips are MBs)."""
    clip = tmp_path / "long.mp4"
    clip.write_bytes(os.urandom(4 * 1024 * 1024))
    first = clip_identity(clip)
    data = bytearray(clip.read_bytes())
    data[100] ^= 1  # in the header: caught
    clip.write_bytes(bytes(data))
    os.utime(clip, ns=(first.mtime_ns, first.mtime_ns))
    assert clip_identity(clip).sample != first.sample and clip_identity(clip).size == first.size


def test_a_directory_holding_another_settings_frames_is_not_read(stored, caplog):
    """An rsync mix-up: the video_maxlen=4 store copied where the video_maxlen=8 store belongs."""
    clips, target = stored
    plugin = exact_plugin()
    four = {**READ, "video_maxlen": 4}
    other, _ = build(target.directory.parent, clips, plugin, four)
    expected = _decoded(plugin, clips[0])
    shutil.rmtree(target.directory)
    shutil.copytree(other.directory, target.directory)
    plugin = exact_plugin(target.directory.parent)  # reading the store
    with caplog.at_level(logging.WARNING, logger="frame_store"):
        frames = plugin.read_videos([str(clips[0])], **READ)["videos"][0]
    assert len(frames) == len(expected) == 8
    assert all(np.array_equal(np.asarray(a), b) for a, b in zip(frames, expected, strict=True))
    warning = caplog.text
    assert str(target.directory) in warning and "another setting's frames" in warning
    assert "video_maxlen 4" in warning and other.directory.name in warning  # what it holds, where it belongs
    assert FrameStore.open(target.directory) is None
    with pytest.raises(Exception, match=r"video_maxlen 4 \(asked for: 8\)"):  # the build names both, not the codec
        build_store([str(clip) for clip in clips], target, exact_plugin(), workers=1)


def _flip_byte_of_entry(target, index: int = 0) -> None:
    from frame_store.shard import read_lines

    (data_file,) = target.directory.glob("shard-*.data")
    line = read_lines(data_file.with_suffix(".jsonl"))[index]
    data = bytearray(data_file.read_bytes())
    data[line["offset"] + line["length"] - 10] ^= 0xFF  # in the frame bytes: the header still parses
    data_file.write_bytes(bytes(data))


def test_a_damaged_entry_is_not_stored_and_make_frames_repairs_it(stored, caplog):
    clips, target = stored
    plugin = exact_plugin()
    expected = _decoded(plugin, clips[0])
    _flip_byte_of_entry(target)
    plugin = exact_plugin(target.directory.parent)  # reading the store
    store = open_store(target.directory)
    damaged = [clip for clip in clips if store.status(str(clip)) == "damaged"]
    assert len(damaged) == 1 and not store.holds(str(damaged[0]))  # not "stored", not "available without the clip"
    settings = settings_for(plugin)
    target = StoreTarget(target.directory, TEMPLATE, settings)
    paths = [str(clip) for clip in clips]
    unverified = build_store(paths, target, exact_plugin(), workers=1)  # the preflight's pass: identity only
    assert unverified.n_decoded == 0
    result = build_store(paths, target, exact_plugin(), workers=1, verify=True)  # make frames' pass
    assert (result.n_decoded, result.failures) == (1, {})  # decoded again
    store = open_store(target.directory)  # the merge wrote a new index
    assert all(store.status(str(clip)) == "stored" for clip in clips)
    with caplog.at_level(logging.WARNING, logger="frame_store"):
        frames = plugin.read_videos([str(clips[0])], **READ)["videos"][0]
    assert all(np.array_equal(np.asarray(a), b) for a, b in zip(frames, expected, strict=True))
    assert read_counts(store) == {"hits": 1, "not_stored": 0, "stale": 0, "corrupt": 0} and caplog.text == ""


def test_a_damaged_entry_of_a_clip_moved_away_is_reported_as_failed_not_stored(stored):
    clips, target = stored
    _flip_byte_of_entry(target)
    store = open_store(target.directory)
    damaged = next(clip for clip in clips if store.status(str(clip)) == "damaged")
    damaged.unlink()
    settings = settings_for(exact_plugin())
    result = build_store(
        [str(clip) for clip in clips], StoreTarget(target.directory, TEMPLATE, settings), exact_plugin(), workers=1
    )
    assert list(result.failures) == [str(damaged)]


def _checkout_copy(directory):
    """Our packages as a user's checkout has them (the generated models and sample data left out)."""
    packages = [path for path in REPO_ROOT.iterdir() if (path / "__init__.py").exists() and path.name != "tests"]
    for package in packages:
        shutil.copytree(
            package, directory / package.name, ignore=shutil.ignore_patterns("__pycache__", "sample", "tiny-*")
        )
    return directory


@pytest.mark.slow
def test_make_frames_keeps_the_store_through_a_comment_and_starts_another_for_a_bumped_frames_version(
    tiny_model_dir, sample_dir, tmp_path
):
    checkout = _checkout_copy(tmp_path / "checkout")
    config = write_train_config(tmp_path, tiny_model_dir, sample_dir, n_clips=2)
    root = tmp_path / "frames"

    def make_frames() -> str:
        built = subprocess.run([sys.executable, "-m", "plugins.frames", "build", str(config)], cwd=checkout,
                               env={**os.environ, FRAME_STORE_ENV: str(root)}, capture_output=True, text=True,
                               check=False)  # fmt: skip
        assert built.returncode == 0, built.stdout + built.stderr[-3000:]
        return built.stdout

    assert "2 clips, 2 decoded" in make_frames()
    (store,) = root.iterdir()
    decode = checkout / "video" / "decode.py"
    decode.write_text(decode.read_text().replace('"""', '"""Edited. ', 1) + "\n# a comment changes no frame\n")
    assert "2 clips, 0 decoded" in make_frames()  # the same store: nothing decoded again
    assert list(root.iterdir()) == [store]
    version = checkout / "video" / "__init__.py"
    version.write_text(re.sub(r"^FRAMES_VERSION = (\d+)$", lambda m: f"FRAMES_VERSION = {int(m[1]) + 1}",
                              version.read_text(), count=1, flags=re.MULTILINE))  # fmt: skip
    assert "2 clips, 2 decoded" in make_frames()  # a bumped version: another store directory, built afresh
    assert len(list(root.iterdir())) == 2
