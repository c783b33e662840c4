"""The frames our plugins return are pinned (tests/golden/frames.json): a change that alters them must bump
video.FRAMES_VERSION, which the frame store's key includes, so no store serves frames the code no longer makes."""

import json

from tests.frames_golden import GOLDEN, REGENERATE, frame_hashes

BUMP = f"bump FRAMES_VERSION in video/__init__.py, then regenerate the golden with {REGENERATE}"


def _changed(golden: dict, now: dict) -> list[str]:
    return [f"{template}/{name}" for template, clips in now.items() for name, clip in clips.items()
            if golden.get(template, {}).get(name) != clip]  # fmt: skip


def test_frames_match_the_golden_or_frames_version_was_bumped(clip_matrix):
    golden = json.loads(GOLDEN.read_text())
    now = frame_hashes(clip_matrix)
    assert now["read"] == golden["read"], f"the golden was recorded with other read settings: {REGENERATE}"
    if now["frames_version"] != golden["frames_version"]:
        raise AssertionError(f"FRAMES_VERSION is {now['frames_version']}, the golden was recorded at "
                             f"{golden['frames_version']}: regenerate the golden with {REGENERATE}")  # fmt: skip
    changed = _changed(golden["clips"], now["clips"])
    if changed and now["decoder"] != golden["decoder"]:
        raise AssertionError(f"frames changed with the decoding libraries ({golden['decoder']} -> {now['decoder']}),"
                             f" which the store key already names: regenerate the golden with {REGENERATE} "
                             f"({len(changed)} clips: {', '.join(changed[:5])})")  # fmt: skip
    assert not changed, f"frames changed: {BUMP} ({len(changed)} clips: {', '.join(changed[:5])})"
    assert sorted(now["clips"]) == sorted(golden["clips"]) and all(now["clips"].values())
