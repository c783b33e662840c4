"""Damaged store files name themselves: a settings.json that is not JSON stops `make frames`, the preflight (and so
`make train`) and the merge with one sentence naming it and what to do, and `make frames-prune` lists it; a garbage
line in a shard's index is skipped, counted, and its clip decoded again."""

import logging

import pytest

from frame_store.build import build_store
from frame_store.plugin_hook import open_store
from plugins.decode_check import DecodeCheckError, decode_clips
from plugins.frames import load_config, target_for_config
from plugins.frames import main as frames_main
from tests.frame_store_fixtures import build, exact_plugin
from tests.training_fixtures import REPO_ROOT, sample_clips, write_train_config


def test_a_settings_json_that_is_not_json_is_named_by_every_command(tiny_model_dir, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("FRAME_STORE_DIR", str(tmp_path / "frames"))
    config = write_train_config(tmp_path, tiny_model_dir, REPO_ROOT / "data" / "sample", n_clips=1)
    target = target_for_config(load_config(config), config)
    target.directory.mkdir(parents=True)
    settings = target.directory / "settings.json"
    settings.write_text('{"settings": {"family": "plugins.mm_pl')  # cut short
    named = rf"{settings} cannot be read \(.*\): delete {target.directory} \(make frames-prune lists it"
    with pytest.raises(SystemExit, match=rf"frame store FAILED: {named}"):
        frames_main(["build", str(config)])  # make frames
    target = target_for_config(load_config(config), config)  # what the preflight before training gets: no error yet
    clip = str(sample_clips(REPO_ROOT / "data" / "sample", 1)[0])
    with pytest.raises(DecodeCheckError, match=named):  # the preflight's decode check
        decode_clips([clip], video_fps=8.0, video_maxlen=8, store=target, plugin=exact_plugin())
    with pytest.raises(SystemExit, match=rf"merge FAILED: {named}"):
        frames_main(["merge", "--store-dir", str(target.directory)])
    capsys.readouterr()
    frames_main(["prune", str(config)])  # make frames-prune
    (line,) = [line for line in capsys.readouterr().out.splitlines() if target.directory.name in line]
    assert "settings.json damaged" in line and settings.exists()


def test_a_garbage_index_line_is_skipped_counted_and_its_clip_decoded_again(sample_dir, tmp_path, caplog):
    clips = [str(clip) for clip in sample_clips(sample_dir, 3)]
    target, _ = build(tmp_path / "frames", clips, exact_plugin())
    (index,) = target.directory.glob("shard-*.jsonl")
    lines = index.read_text().splitlines(keepends=True)
    index.write_text(lines[0] + "\x00garbage{\n" + "".join(lines[2:]))  # the second clip's line is damaged
    with caplog.at_level(logging.WARNING, logger="frame_store"):
        result = build_store(clips, target, exact_plugin(), workers=1)
    assert f"{index}: skipped 1 damaged index lines" in caplog.text
    assert (result.n_clips, result.n_decoded, result.failures) == (3, 1, {})
    store = open_store(target.directory)
    assert all(store.get(clip) is not None for clip in clips) and store.manifest["entries"] == 3
