"""The frames our plugins return are pinned (tests/golden/frames.json): a change that alters them must bump
video.FRAMES_VERSION, which the frame store's key includes, so no store serves frames the code no longer makes."""

import json

from tests.frames_golden import GOLDEN, REGENERATE, frame_hashes

BUMP = f"bump FRAMES_VERSION in video/__init__.py, then regenerate the golden with {REGENERATE}"


def _names(clips: dict) -> set[str]:
    return {f"{template}/{name}" for template, by_name in clips.items() for name in by_name}


def test_frames_match_the_golden_or_frames_version_was_bumped(clip_matrix):
    golden = json.loads(GOLDEN.read_text())
    now = frame_hashes(clip_matrix)
    if now["frames_version"] != golden["frames_version"]:
        raise AssertionError(f"FRAMES_VERSION is {now['frames_version']}, the golden was recorded at "
                             f"{golden['frames_version']}: regenerate the golden with {REGENERATE}")  # fmt: skip
    if now["read"] != golden["read"] or _names(now["clips"]) != _names(golden["clips"]):
        raise AssertionError(f"the clip matrix, templates or read settings changed: regenerate the golden with "
                             f"{REGENERATE}")  # fmt: skip
    changed = sorted(f"{template}/{name}" for template, clips in now["clips"].items() for name, clip in clips.items()
                     if golden["clips"][template][name] != clip)  # fmt: skip
    if changed and now["decoder"] != golden["decoder"]:
        raise AssertionError(f"frames changed with the decoding libraries ({golden['decoder']} -> {now['decoder']}),"
                             f" which the store key already names: regenerate the golden with {REGENERATE} "
                             f"({len(changed)} clips: {', '.join(changed[:5])})")  # fmt: skip
    assert not changed, f"frames changed: {BUMP} ({len(changed)} clips: {', '.join(changed[:5])})"
