"""Building the store like the tools people trust: a killed build resumes with nothing lost or written twice, and a
sharded build (one shard per machine) is merged only when every shard is complete."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

from frame_store.build import build_store, shard_of
from frame_store.key import ClipIdentity, StoreTarget, store_dir
from frame_store.merge import MergeError, merge_store
from frame_store.plugin_hook import open_store
from frame_store.shard import ShardWriter, read_lines
from plugins.decode_check import decode_clips
from plugins.frame_source import FRAME_STORE_ENV, builder_plugin, frame_source, store_root, target_for_run
from plugins.frames import main as frames_main
from tests.frame_store_fixtures import READ, TEMPLATE, exact_plugin, settings_for
from tests.training_fixtures import REPO_ROOT, write_train_config


def _copies(source, directory, count: int) -> list:
    directory.mkdir(parents=True, exist_ok=True)
    paths = [directory / f"clip_{index:02d}{source.suffix}" for index in range(count)]
    for path in paths:
        shutil.copy2(source, path)
    return paths


def _entry_lines(directory, pattern: str = "shard-*.jsonl") -> list[dict]:
    return [line for path in sorted(directory.glob(pattern)) for line in read_lines(path)]


@pytest.mark.slow  # a kill: make test-fast runs no kill, browser or training
def test_a_killed_build_resumes_with_nothing_lost_or_duplicated(clip_matrix, tiny_model_dir, tmp_path):
    clips = _copies(clip_matrix["h264_25fps_60s_single_gop.mp4"][0], tmp_path / "videos", 14)
    config = write_train_config(tmp_path, tiny_model_dir, REPO_ROOT / "data" / "sample", video_max_pixels=112 * 112)
    (tmp_path / "tiny_train.json").write_text(json.dumps([
        {"messages": [{"role": "user", "content": "<video>Describe."}, {"role": "assistant", "content": "x"}],
         "videos": [str(clip)]} for clip in clips
    ]))  # fmt: skip
    command = [sys.executable, "-m", "plugins.frames", "build", str(config), "--workers", "1", "video_fps=8.0"]  # mixed
    env = {**os.environ, "FRAME_STORE_DIR": str(tmp_path / "frames")}
    process = subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)  # fmt: skip
    deadline = time.monotonic() + 300
    while not _entry_lines(tmp_path / "frames", "*/shard-*.jsonl"):
        assert process.poll() is None and time.monotonic() < deadline, "the build ended before any entry was written"
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    (directory,) = (tmp_path / "frames").iterdir()
    written = len(_entry_lines(directory))
    assert 0 < written < len(clips) and not (directory / "manifest.json").exists()
    with open(next(directory.glob("shard-*.data")), "ab") as data:
        data.write(b"bytes of an entry whose index line never made it")
    resumed = subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, check=False)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert f"{len(clips)} clips, {len(clips) - written} decoded" in resumed.stdout
    lines = _entry_lines(directory)
    assert sorted(line["path"] for line in lines) == sorted(os.path.realpath(clip) for clip in clips)  # once each
    data_size = next(directory.glob("shard-*.data")).stat().st_size
    assert data_size == sum(line["length"] for line in lines)  # the orphan bytes were cut off, nothing else lost
    assert json.loads((directory / "manifest.json").read_text())["entries"] == len(clips)


def test_a_torn_index_line_and_unindexed_bytes_are_cut_off_on_reopen(tmp_path):
    writer = ShardWriter(tmp_path, 0, 1)
    writer.add("/a.mp4", ClipIdentity(10, 1, "ab"), b"entry-a", None)
    writer.flush()
    writer.close()
    with open(tmp_path / "shard-00000-of-00001.data", "ab") as data:
        data.write(b"half an entry")
    with open(tmp_path / "shard-00000-of-00001.jsonl", "a") as index:
        index.write('{"path": "/b.mp4", "off')
    reopened = ShardWriter(tmp_path, 0, 1)
    assert list(reopened.latest) == ["/a.mp4"] and reopened.known("/a.mp4", ClipIdentity(10, 1, "ab")) is not None
    assert reopened.known("/a.mp4", ClipIdentity(10, 2, "ab")) is None  # changed since: built again
    reopened.close()
    assert (tmp_path / "shard-00000-of-00001.data").read_bytes() == b"entry-a"


def test_two_shards_merge_only_when_both_are_complete(clip_matrix, tmp_path, monkeypatch, capsys):
    plugin = exact_plugin()
    settings = settings_for(plugin)
    clips = [str(path) for path, _ in list(clip_matrix.values())[:8]]
    assert {shard_of(clip, 2) for clip in clips} == {0, 1}  # both shards get clips
    directory = store_dir(tmp_path, settings)
    builder = builder_plugin(plugin)
    first = build_store(clips, StoreTarget(directory, TEMPLATE, settings, num_shards=2, shard_index=0), builder, 1)
    assert first.n_clips == sum(shard_of(clip, 2) == 0 for clip in clips)
    with pytest.raises(MergeError, match=r"1 of 2 shards not complete: shard-00001-of-00002 is missing"):
        merge_store(directory)
    with pytest.raises(SystemExit, match="merge FAILED"):
        frames_main(["merge", "--store-dir", str(directory)])
    second = build_store(clips, StoreTarget(directory, TEMPLATE, settings, num_shards=2, shard_index=1), builder, 1)
    assert first.n_clips + second.n_clips == len(clips) and not first.failures and not second.failures
    frames_main(["merge", "--store-dir", str(directory)])
    assert f"{len(clips)} clips indexed, 0 failed" in capsys.readouterr().out
    for clip in clips:
        assert exact_plugin(tmp_path).read_videos([clip], **READ)["videos"]
    assert open_store(directory).counts["hits"] == len(clips)
    config = {"template": TEMPLATE, "video_fps": READ["video_fps"], "video_maxlen": READ["video_maxlen"],
              "video_max_pixels": READ["image_max_pixels"], "video_min_pixels": READ["image_min_pixels"]}  # fmt: skip
    monkeypatch.setenv(FRAME_STORE_ENV, str(tmp_path))  # the user's override of the root
    source = frame_source(store_root(config), config, plugin)
    training = target_for_run(source, config, plugin)  # what the preflight before training uses: the array's 2 shards
    assert (training.directory, training.num_shards, training.shard_index) == (directory, 2, None)
    check = decode_clips(clips, video_fps=8.0, video_maxlen=8, store=training, plugin=builder)
    assert (check.already_stored, check.failures) == (len(clips), {})
    with pytest.raises(Exception, match="built with codec zlib, 2 shards"):
        build_store(clips, StoreTarget(directory, TEMPLATE, settings, num_shards=3, shard_index=0), builder, 1)
