"""A store on a read-only mount: a complete one serves the decode check (the preflight, `make train`) without taking
the write lock; an empty one stops it with one sentence naming the path and the fix."""

import json

import pytest

from frame_store.key import StoreTarget, store_dir
from plugins.decode_check import DecodeCheckError, decode_clips
from tests.frame_store_fixtures import TEMPLATE, build, exact_plugin, settings_for
from tests.read_only import read_only
from tests.training_fixtures import sample_clips


@pytest.mark.parametrize("merged_by", ["this checkout", "an earlier one"])
def test_a_complete_store_on_a_read_only_mount_serves_the_decode_check(sample_dir, tmp_path, merged_by):
    clips = [str(clip) for clip in sample_clips(sample_dir, 3)]
    target, built = build(tmp_path / "frames", clips, exact_plugin())
    assert built.n_decoded == 3
    if merged_by == "an earlier one":  # its manifest does not name the shards it indexed
        manifest = json.loads((target.directory / "manifest.json").read_text())
        del manifest["shards"]
        (target.directory / "manifest.json").write_text(json.dumps(manifest))
    with read_only(tmp_path / "frames"):
        check = decode_clips(clips, video_fps=8.0, video_maxlen=8, store=target, plugin=exact_plugin())
    assert (check.n_clips, check.already_stored, check.failures) == (3, 3, {})


def test_an_empty_store_root_on_a_read_only_mount_names_the_path_and_the_fix(sample_dir, tmp_path):
    root = tmp_path / "frames"
    root.mkdir()
    settings = settings_for(exact_plugin())
    target = StoreTarget(store_dir(root, settings), TEMPLATE, settings)
    clip = str(sample_clips(sample_dir, 1)[0])
    with read_only(root), pytest.raises(DecodeCheckError) as raised:
        decode_clips([clip], video_fps=8.0, video_maxlen=8, store=target, plugin=exact_plugin())
    message = str(raised.value)
    assert message.startswith(f"cannot write the frame store at {target.directory} (")
    assert "set FRAME_STORE_DIR to a writable folder, or FRAME_STORE_DIR=off" in message
