"""Hostile clips: the probe raises nothing but VideoReadError, with a reason code and the file's name.

The fuzz test mutates bytes in the first few KB and in the moov box of real clips (thousands of mutants, fixed
seed, in-process): each mutant is either skipped with a named reason or kept; kept mutants are then read with the
frame reader training uses, and the ones it cannot decode are counted (a decode check before training catches
those: the probe reads metadata only).
"""

import random
from collections import Counter

import pytest

from data.clip_checks import ClipRules, check_probed_clip
from data.probe_cache import probe_clip
from tests.clips import make_clip, remux_mp4
from video import REASONS, VideoReadError, probe_video, read_sampled_frames

FUZZ_SEED = 20261201
MUTANTS_PER_CLIP = 750
HEAD_BYTES = 4096  # the container header region: ftyp/moov of a faststart MP4, EBML/tracks of MKV, AVI's hdrl
MOOV_BYTES = 4096  # how much of an index-last MP4's moov box is mutated


@pytest.fixture(scope="module")
def source_clips(tmp_path_factory):
    """Four short clips in the layouts real downloads have: MP4 index-last with B-frames, faststart MP4, MKV, AVI."""
    folder = tmp_path_factory.mktemp("fuzz_sources")
    size = {"n_frames": 24, "fps": 24, "width": 64, "height": 48}
    plain = make_clip(folder / "plain.mp4", **size)
    return [
        make_clip(folder / "bframes.mp4", bframes=2, **size),
        remux_mp4(plain, folder / "faststart.mp4", "faststart"),
        make_clip(folder / "clip.mkv", **size),
        make_clip(folder / "clip.avi", **size),
    ]


def _mutant(data: bytes, rng: random.Random) -> bytes:
    """1-6 random edits (a random byte, or a 32-bit field set to 0 or all ones) in the header or the moov box."""
    mutant = bytearray(data)
    moov = data.find(b"moov")
    if moov >= 0 and rng.random() < 0.5:
        start, end = moov, min(len(data), moov + MOOV_BYTES)
    else:
        start, end = 0, min(len(data), HEAD_BYTES)
    for _ in range(rng.randint(1, 6)):
        at = rng.randrange(start, end)
        kind = rng.random()
        if kind < 0.7:
            mutant[at] = rng.randrange(256)
        else:
            mutant[at : at + 4] = (b"\x00" if kind < 0.85 else b"\xff") * len(mutant[at : at + 4])
    return bytes(mutant)


@pytest.mark.slow  # 3,000 mutants probed, converted and read: make test runs it, make test-fast does not
def test_header_mutants_are_kept_or_skipped_with_a_named_reason(source_clips, tmp_path):
    rng = random.Random(FUZZ_SEED)
    outcomes: Counter[str] = Counter()
    crashes, unnamed = [], []
    kept_undecodable = 0
    for source in source_clips:
        data = source.read_bytes()
        path = tmp_path / f"mutant{source.suffix}"
        for number in range(MUTANTS_PER_CLIP):
            path.write_bytes(_mutant(data, rng))
            label = f"{source.name} mutant {number}"
            try:
                probe_video(path)
            except VideoReadError as error:
                if error.reason not in REASONS or str(path) not in str(error):
                    unnamed.append((label, str(error)))
            except Exception as error:  # noqa: BLE001 - the contract under test: nothing else escapes
                crashes.append((label, f"{type(error).__name__}: {error}"))
                continue
            outcome = probe_clip(str(path))  # the converter's worker function, in-process
            if outcome.summary is None:
                outcomes[outcome.error_reason] += 1
                continue
            problem = check_probed_clip(outcome.summary, ClipRules())
            if problem is not None:
                outcomes[problem[0]] += 1
                continue
            outcomes["kept"] += 1
            try:
                read_sampled_frames(path, video_fps=8.0, video_maxlen=8)
            except VideoReadError:
                kept_undecodable += 1
    assert crashes == []
    assert unnamed == []
    assert sum(outcomes.values()) == MUTANTS_PER_CLIP * len(source_clips)
    assert outcomes["kept"] > 0 and sum(outcomes.values()) > outcomes["kept"]  # the mutations do bite
    print(f"\nfuzz: {dict(outcomes)}; kept but undecodable: {kept_undecodable}")


def test_an_unknown_codec_is_a_named_skip(source_clips, tmp_path):
    """A stream description FFmpeg cannot read leaves no codec: PyAV then has no width (was an AttributeError)."""
    data = bytearray(source_clips[1].read_bytes())
    at = data.index(b"stsd")
    data[at : at + 4] = b"stsx"
    path = tmp_path / "unknown_codec.mp4"
    path.write_bytes(bytes(data))
    with pytest.raises(VideoReadError, match="unknown_codec.mp4: cannot read video \\(unknown_codec\\)"):
        probe_video(path)
    assert probe_clip(str(path)).error_reason == "unknown_codec"


def test_a_zero_timescale_is_a_named_skip(source_clips, tmp_path):
    """An MP4 whose mdhd timescale is 0 (and no edit list) made the probe divide by zero."""
    data = bytearray(source_clips[1].read_bytes())
    mdhd = data.index(b"mdhd")
    data[mdhd + 16 : mdhd + 20] = bytes(4)  # type, version/flags, creation, modification, then the timescale
    if b"edts" in data:
        at = data.index(b"edts")
        data[at : at + 4] = b"free"
    path = tmp_path / "zero_timescale.mp4"
    path.write_bytes(bytes(data))
    outcome = probe_clip(str(path))
    assert outcome.summary is not None  # FFmpeg times it in whole seconds: 24 frames over 12288 s
    assert check_probed_clip(outcome.summary, ClipRules()) == ("bad_metadata", "duration 12288.00 s")


def test_a_name_too_long_for_the_filesystem_is_unreadable_not_missing(tmp_path):
    path = tmp_path / ("9" * 300 + ".mp4")
    with pytest.raises(VideoReadError, match="cannot read video \\(unreadable\\).*name too long") as caught:
        probe_video(path)
    assert caught.value.reason == "unreadable" and str(path) in str(caught.value)
    assert probe_clip(str(path)).error_reason == "unreadable"
