"""The decode check: damaged clips whose headers look fine fail it, good clips pass, a dead worker raises."""

import os

import pytest

from plugins.decode_check import DecodeCheck, DecodeCheckError, decode_clips
from tests.damaged_clips import corrupt_bytes, cut_short, faststart_clip, zero_frames, zero_tail
from tests.worker_kill import error_when_a_worker_is_killed
from video import VideoReadError, probe_video, read_sampled_frames

SETTINGS = {"video_fps": 8.0, "video_maxlen": 8}


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    root = tmp_path_factory.mktemp("decode_check")
    good = faststart_clip(root / "good.mp4")
    return {
        "good": good,
        "good_whole_gop": faststart_clip(root / "good_whole_gop.mp4", gop=1000),
        "zero_tail": zero_tail(good, root / "zero_tail.mp4"),
        "cut_short": cut_short(good, root / "cut_short.mp4"),
        "corrupt_middle": corrupt_bytes(good, root / "corrupt_middle.mp4"),
    }


def test_damaged_clips_fail_and_good_clips_pass(clips):
    assert clips["zero_tail"].stat().st_size == clips["good"].stat().st_size  # preallocated: same length
    for name in ("zero_tail", "corrupt_middle"):
        probe_video(clips[name])  # the header is intact: metadata alone cannot tell
    check = decode_clips([str(path) for path in clips.values()], workers=2, **SETTINGS)
    assert sorted(check.failures) == sorted(str(clips[name]) for name in ("zero_tail", "cut_short", "corrupt_middle"))
    for path, reason in check.failures.items():
        assert reason.startswith(f"{path}: cannot read video (truncated)"), reason
    assert check.n_clips == 5 and check.workers == 2


def test_with_a_store_the_check_fails_the_same_clips_and_stores_the_good_ones(clips, tmp_path):
    """The store build is the decode check: same verdicts; a second pass decodes nothing and keeps them."""
    from frame_store.key import StoreSettings, StoreTarget
    from frame_store.merge import merge_store
    from plugins.frame_source import builder_plugin
    from tests.frame_store_fixtures import TEMPLATE, exact_plugin

    plugin = exact_plugin()
    settings = StoreSettings.for_plugin(plugin, max_pixels=112 * 112, min_pixels=256, **SETTINGS)
    target = StoreTarget(tmp_path / "frames", TEMPLATE, settings)
    paths = [str(path) for path in clips.values()]
    check = decode_clips(paths, workers=2, store=target, plugin=builder_plugin(plugin), **SETTINGS)
    assert sorted(check.failures) == sorted(str(clips[name]) for name in ("zero_tail", "cut_short", "corrupt_middle"))
    for path, reason in check.failures.items():
        assert reason.startswith(f"{path}: cannot read video (truncated)") and "preflight" not in reason, reason
    assert merge_store(target.directory)["entries"] == 2
    again = decode_clips(paths, workers=2, store=target, plugin=builder_plugin(plugin), **SETTINGS)
    assert again.failures == check.failures and again.workers == 0
    assert again.summary().endswith("3 failed, 5 already checked (frame store)")


def test_each_clip_is_decoded_once_and_the_rate_is_reported(clips):
    paths = [str(clips["good"])] * 3 + [str(clips["zero_tail"])]
    check = decode_clips(paths, workers=4, **SETTINGS)
    assert check.n_clips == 2 and check.workers == 2  # no more processes than clips
    assert list(check.failures) == [str(clips["zero_tail"])]
    summary = DecodeCheck(120, 2, 2.0, {"a.mp4": "x"}).summary()
    assert summary == "decode check: 120 clips in 2.0 s (60.0 clips/s, 2 processes), 1 failed"
    nothing = decode_clips([], **SETTINGS)
    assert (nothing.n_clips, nothing.workers, nothing.summary()) == (0, 0, "decode check: no clips to decode")


def test_frames_decoded_with_concealed_errors_are_a_read_error(clips, tmp_path):
    """A few corrupt bytes the decoder patches over (no error raised, frame only flagged) must not train."""
    damaged = corrupt_bytes(clips["good_whole_gop"], tmp_path / "concealed.mp4", at=0.6, n_bytes=16)
    with pytest.raises(VideoReadError, match=r"concealed.mp4: cannot read video \(truncated\).*decoded with errors"):
        read_sampled_frames(damaged, **SETTINGS)
    assert len(read_sampled_frames(clips["good_whole_gop"], **SETTINGS)[2]) == 8


@pytest.mark.slow  # a kill: make test-fast runs no kill, browser or training
def test_a_killed_worker_raises_instead_of_hanging(clips, tmp_path):
    links = []
    for i in range(600):
        link = tmp_path / f"clip{i}.mp4"
        os.symlink(clips["good"], link)
        links.append(str(link))
    error = error_when_a_worker_is_killed(lambda: decode_clips(links, workers=2, **SETTINGS), DecodeCheckError, 60)
    assert "worker process died" in str(error) and "--decode-workers" in str(error)


def test_only_the_sampled_frames_count(clips, tmp_path):
    """Frames 48-59 (one GOP) zeroed: 8 evenly spaced frames need frame 54, 4 of them (0, 31, 63, 95) need none of
    that GOP. The check reads what training reads under the same settings, no more."""
    damaged = zero_frames(clips["good"], tmp_path / "gop_48_zeroed.mp4", range(48, 60))
    assert decode_clips([damaged], video_fps=8.0, video_maxlen=4, workers=1).failures == {}
    assert list(decode_clips([damaged], video_fps=8.0, video_maxlen=8, workers=1).failures) == [str(damaged)]


@pytest.mark.slow  # a kill: make test-fast runs no kill, browser or training
def test_a_killed_worker_of_the_store_build_raises_instead_of_hanging(clips, tmp_path):
    """With a store the check is the frame store's build (its own pool): a dead worker is an error naming clips."""
    from frame_store.key import StoreSettings, StoreTarget
    from tests.frame_store_fixtures import TEMPLATE, exact_plugin

    settings = StoreSettings.for_plugin(exact_plugin(), max_pixels=112 * 112, min_pixels=256, **SETTINGS)
    target = StoreTarget(tmp_path / "frames", TEMPLATE, settings)
    links = []
    for i in range(40):  # more than the build decodes in its own process
        links.append(str(tmp_path / f"clip{i}.mp4"))
        os.link(clips["good"], links[-1])
    call = lambda: decode_clips(links, workers=2, store=target, plugin=exact_plugin(), **SETTINGS)  # noqa: E731
    message = str(error_when_a_worker_is_killed(call, DecodeCheckError, 60))
    assert "a frame-store worker process died" in message and "clips unstored" in message, message
    assert str(tmp_path / "clip") in message  # the first clip of a task it had
