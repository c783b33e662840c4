"""Preflight: token counts under the config's template and video settings, truncation and unreadable clips caught."""

import json

import pytest

from plugins.preflight import (
    TEXT_TRUNCATED,
    UNREADABLE,
    VIDEO_TRUNCATED,
    Offender,
    PreflightError,
    PreflightReport,
    error_message,
    main,
    run,
)
from tests.clips import make_clip


def record(sample_id, video):
    return {"id": sample_id, "videos": [video], "messages": [
        {"role": "user", "content": "<video>Describe this video in one sentence."},
        {"role": "assistant", "content": "A red circle moves left on a blue background"}]}


@pytest.fixture(scope="module")
def dataset_dir(tmp_path_factory):
    """small.mp4 (few video tokens), big.mp4 (224x224: 256 video tokens at 8 frames), broken.mp4 (not a video)."""
    root = tmp_path_factory.mktemp("preflight")
    make_clip(root / "clips" / "small.mp4", n_frames=24, fps=12, width=64, height=48)
    make_clip(root / "clips" / "big.mp4", n_frames=24, fps=12, width=224, height=224)
    (root / "clips" / "broken.mp4").write_text("not a video")
    records = [record("small", "clips/small.mp4"), record("big", "clips/big.mp4")]
    (root / "train.json").write_text(json.dumps(records))
    (root / "bad.json").write_text(json.dumps([record("small", "clips/small.mp4"), record("broken", "clips/broken.mp4")]))
    entry = {"formatting": "sharegpt", "columns": {"messages": "messages", "videos": "videos"},
             "tags": {"role_tag": "role", "content_tag": "content", "user_tag": "user", "assistant_tag": "assistant"}}
    (root / "dataset_info.json").write_text(json.dumps({
        "clips_train": {**entry, "file_name": "train.json"}, "clips_bad": {**entry, "file_name": "bad.json"}}))
    return root


def config(tiny_model_dir, dataset_dir, **overrides):
    return {"model_name_or_path": str(tiny_model_dir), "stage": "sft", "do_train": True, "finetuning_type": "lora",
            "dataset": "clips_train", "dataset_dir": str(dataset_dir), "template": "qwen2_vl_exact",
            "cutoff_len": 1024, "video_maxlen": 8, "video_fps": 8.0, "video_max_pixels": 50176,
            "output_dir": str(dataset_dir / "out"), "report_to": "none", "overwrite_cache": True, **overrides}


def test_counts_tokens_under_the_config_video_settings(tiny_model_dir, dataset_dir):
    report = run(config(tiny_model_dir, dataset_dir))
    assert report.n_samples == 2 and report.offenders == []
    assert max(report.video_token_counts) == 256  # 8 frames at 224x224: grid (4, 16, 16) / merge 4
    fewer_frames = run(config(tiny_model_dir, dataset_dir, video_maxlen=4))
    assert max(fewer_frames.video_token_counts) == 128
    assert report.distribution()["max"] - max(report.video_token_counts) == min(report.token_counts) - min(
        report.video_token_counts)  # same text around each clip


def test_cutoff_that_cuts_into_video_tokens_fails_with_the_fix(tiny_model_dir, dataset_dir):
    args = config(tiny_model_dir, dataset_dir, cutoff_len=200)
    with pytest.raises(PreflightError) as caught:
        run(args)
    message = str(caught.value)
    assert "clips_train[1] id=big" in message and "truncated into its video tokens" in message
    assert "id=small" not in message
    assert f"raise cutoff_len to at least {max(caught.value.report.token_counts)}" in message
    assert "video_max_pixels or video_maxlen" in message


def test_unreadable_clip_fails_and_drop_writes_the_rest(tiny_model_dir, dataset_dir, tmp_path, capsys):
    args = config(tiny_model_dir, dataset_dir, dataset="clips_bad")
    with pytest.raises(PreflightError, match=r"clips_bad\[1\] id=broken .*broken.mp4: clip cannot be read"):
        run(args)
    out = tmp_path / "fit"
    config_path = tmp_path / "cfg.yaml"
    config_path.write_text(json.dumps(args))  # JSON is YAML
    main([str(config_path), "cutoff_len=1024", "--drop-offending", str(out)])
    assert [r["id"] for r in json.loads((out / "clips_bad.json").read_text())] == ["small"]
    assert [d["sample_id"] for d in json.loads((out / "dropped.json").read_text())] == ["broken"]
    assert json.loads((out / "dataset_info.json").read_text())["clips_bad"]["file_name"] == "clips_bad.json"
    printed = capsys.readouterr().out
    assert f"dataset_dir={out} media_dir={dataset_dir}" in printed and "tokens per sample" in printed


def test_report_distribution_and_message_without_llamafactory():
    report = PreflightReport(cutoff_len=100, template="t", n_samples=25, token_counts=list(range(1, 21)))
    assert report.distribution() == {"min": 1, "median": 10.5, "p95": 19, "max": 20}
    report.offenders = [Offender("d", 3, "x", ["a.mp4"], VIDEO_TRUNCATED, 150, 120),
                        Offender("d", 4, "y", ["b.mp4"], TEXT_TRUNCATED, 110, 80),
                        Offender("d", 5, "z", ["c.mp4"], UNREADABLE, 0, 0, "c.mp4: cannot read video (empty)")]
    message = error_message(report)
    assert message.startswith("3 of 25 samples would break training")
    assert "raise cutoff_len to at least 150" in message and "re-convert the data" in message
