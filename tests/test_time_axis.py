"""The preflight names the clips whose frames transformers 5.6.0's Qwen2.5-VL places at one time (under 4 s for 8
frames); tests/test_mrope_goldens.py shows the collapse itself on the tiny Qwen2.5-VL."""

from plugins import preflight
from plugins.time_axis import collapsed_clips, collapsed_time_warning
from tests.clips import make_clip
from tests.preflight_fixtures import config, record, write_datasets

SETTINGS = {"video_fps": 8.0, "video_maxlen": 8}


def _clips(tmp_path):
    short = make_clip(tmp_path / "short.mp4", n_frames=72, fps=24)  # 3 s: 0.75 s per temporal patch
    long = make_clip(tmp_path / "long.mp4", n_frames=120, fps=24)  # 5 s: 1.25 s
    return short, long


def test_clips_under_one_second_per_temporal_patch_are_named(tmp_path):
    short, long = _clips(tmp_path)
    assert [clip for clip, _ in collapsed_clips([str(short), str(long), str(short)], 8.0, 8)] == [str(short)]


def test_the_warning_counts_them_for_qwen2_5_vl_under_5_6_0_only(tmp_path, tiny_qwen2_5vl_dir, tiny_model_dir):
    short, long = _clips(tmp_path)
    clips = [str(short), str(long)]
    warning = collapsed_time_warning({**SETTINGS, "model_name_or_path": str(tiny_qwen2_5vl_dir)}, clips, "5.6.0")
    assert warning.startswith("WARNING: 1 of 2 clips give under 1 s per temporal patch")
    assert f"{short} (3.0 s)" in warning and str(long) not in warning
    assert collapsed_time_warning({**SETTINGS, "model_name_or_path": str(tiny_qwen2_5vl_dir)}, clips, "5.23.0") is None
    assert collapsed_time_warning({**SETTINGS, "model_name_or_path": str(tiny_model_dir)}, clips, "5.6.0") is None


def test_preflight_prints_the_warning(tmp_path, tiny_qwen2_5vl_dir, capsys):
    short, long = _clips(tmp_path)
    write_datasets(tmp_path, {"clips_train": [record("s0", str(short)), record("s1", str(long))]})
    preflight.check(config(tiny_qwen2_5vl_dir, tmp_path, video_max_pixels=12544), preflight.PreflightOptions())
    assert "WARNING: 1 of 2 clips give under 1 s per temporal patch" in capsys.readouterr().out
