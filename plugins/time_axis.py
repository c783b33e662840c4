"""Clips whose frames transformers 5.6.0's Qwen2.5-VL places at one time: the preflight names them in a warning.

    from plugins.time_axis import collapsed_time_warning
    collapsed_time_warning(settings, clips)   # "WARNING: 3 of 40 clips ..." or None

Qwen2.5-VL's get_rope_index in transformers <= 5.6.0 (the version LLaMA-Factory 0.9.5 allows) steps the temporal
position by ``tokens_per_second * int(second_per_grid_ts)``. LLaMA-Factory's ``second_per_grid_ts`` is
``temporal_patch_size / (frames sampled / seconds shown)``: 8 frames over less than 4 s give less than 1 s per
temporal patch, int() makes it 0, and every temporal patch of the clip gets the same position: the model cannot
tell the order of its frames (tests/test_mrope_goldens.py shows it on the tiny Qwen2.5-VL). transformers PR #48669
keeps the float; until LLaMA-Factory allows that version, longer clips (or fewer frames) avoid it.
"""

from importlib.metadata import version

from packaging.version import Version

from video.llamafactory_defaults import LLAMAFACTORY_DEFAULTS

LAST_AFFECTED = Version("5.6.0")  # verified there; transformers PR #48669 (merged 2026-09-10) fixes it later
TEMPORAL_PATCH_SIZE = 2  # frames per temporal patch, every Qwen-VL release
AFFECTED_MODEL_TYPES = ("qwen2_5_vl",)
MAX_EXAMPLES = 5


def seconds_per_temporal_patch(duration_s: float, frames: int) -> float:
    """LLaMA-Factory's second_per_grid_ts for a clip of ``duration_s`` seconds read as ``frames`` frames."""
    return TEMPORAL_PATCH_SIZE * duration_s / frames


def collapsed_clips(clips: list[str], video_fps: float, video_maxlen: int) -> list[tuple[str, float]]:
    """(clip, seconds) of each clip whose temporal patches would all share one position (more than one patch and
    less than 1 s per patch)."""
    from video import VideoReadError, probe_video, sample_indices

    found = []
    for clip in dict.fromkeys(clips):
        try:
            info = probe_video(clip)
        except (VideoReadError, OSError):
            continue  # the preflight reports unreadable clips itself
        frames = len(sample_indices(info, video_fps=video_fps, video_maxlen=video_maxlen))
        if frames > TEMPORAL_PATCH_SIZE and int(seconds_per_temporal_patch(info.duration_s, frames)) == 0:
            found.append((clip, info.duration_s))
    return found


def collapsed_time_warning(settings: dict, clips: list[str], transformers_version: str | None = None) -> str | None:
    """The preflight's warning naming the clips whose frames Qwen2.5-VL would place at one time, or None."""
    from plugins.released_architectures import model_config

    if Version(transformers_version or version("transformers")) > LAST_AFFECTED:
        return None
    if model_config(settings["model_name_or_path"])[0].model_type not in AFFECTED_MODEL_TYPES:
        return None
    video_fps = float(settings.get("video_fps", LLAMAFACTORY_DEFAULTS["video_fps"]))
    video_maxlen = int(settings.get("video_maxlen", LLAMAFACTORY_DEFAULTS["video_maxlen"]))
    found = collapsed_clips(clips, video_fps, video_maxlen)
    if not found:
        return None
    examples = ", ".join(f"{clip} ({seconds:.1f} s)" for clip, seconds in found[:MAX_EXAMPLES])
    return (
        f"WARNING: {len(found)} of {len(set(clips))} clips give under 1 s per temporal patch ({video_maxlen} frames "
        f"over less than {video_maxlen / TEMPORAL_PATCH_SIZE:g} s): Qwen2.5-VL under transformers {LAST_AFFECTED} "
        f"gives all their frames one temporal position (int(second_per_grid_ts) = 0), so their frame order is lost; "
        f"e.g. {examples}"
    )
