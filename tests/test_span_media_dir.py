"""Span references (``clip.mp4#t=START,END``) relative to ``media_dir`` are found from any current directory.

LLaMA-Factory joins ``media_dir`` to a media path only where the joined string is a file, which a span reference
never is (its ``#t=`` fragment); plugins/llamafactory_boundary.py joins it to the span's file part instead, keeping
the fragment, in training and the preflight alike (both align samples through LLaMA-Factory's dataset converter).
"""

import pytest

from plugins.preflight import check
from plugins.preflight_report import PreflightError
from tests.clips import make_clip
from tests.preflight_fixtures import config, record, write_datasets

SPANS = ("clips/long.mp4#t=0.5,1", "clips/long.mp4#t=2,5.5")  # 6 and 42 of the video's 72 frames


@pytest.fixture
def folders(tmp_path):
    """(dataset_dir, media_dir, another folder): a 6 s video under media_dir, the dataset naming spans of it."""
    dataset_dir, media_dir, elsewhere = (tmp_path / name for name in ("data", "media", "elsewhere"))
    for folder in (dataset_dir, elsewhere):
        folder.mkdir()
    make_clip(media_dir / "clips" / "long.mp4", n_frames=72, fps=12, width=64, height=48)
    write_datasets(dataset_dir, {"clips_train": [record(f"span{i}", span) for i, span in enumerate(SPANS)]})
    return dataset_dir, media_dir, elsewhere


def _aligned_videos(args: dict) -> list[list[str]]:
    """Each sample's videos as LLaMA-Factory's loader aligns them for training (after the media_dir join)."""
    from llamafactory.data.parser import get_dataset_list
    from llamafactory.hparams import get_train_args

    from plugins.llamafactory_boundary import load_aligned_samples

    model_args, data_args, training_args, *_ = get_train_args(args)
    (dataset_attr,) = get_dataset_list(data_args.dataset, data_args.dataset_dir)
    return [sample.videos for sample in load_aligned_samples(dataset_attr, model_args, data_args, training_args)]


def test_the_preflight_finds_spans_relative_to_media_dir_from_another_folder(tiny_model_dir, folders, monkeypatch):
    dataset_dir, media_dir, elsewhere = folders
    args = config(tiny_model_dir, dataset_dir, media_dir=str(media_dir))
    monkeypatch.chdir(media_dir)  # the one folder where the relative spans worked before
    from_media_dir = check(args)
    monkeypatch.chdir(elsewhere)
    try:
        report = check(args)
    except PreflightError as error:
        pytest.fail(f"spans relative to media_dir were not found from another folder: {error}")
    assert report.n_samples == 2 and report.offenders == []
    assert report.video_token_counts == from_media_dir.video_token_counts  # the same frames, hence tokens
    assert report.video_token_counts[0] < report.video_token_counts[1]  # each span's own length, not the video's
    assert _aligned_videos(args) == [[f"{media_dir}/{span}"] for span in SPANS]


def test_a_span_whose_file_is_not_under_media_dir_keeps_its_path(tiny_model_dir, folders, monkeypatch):
    dataset_dir, media_dir, elsewhere = folders
    monkeypatch.chdir(elsewhere)
    args = config(tiny_model_dir, dataset_dir, media_dir=str(elsewhere))  # LLaMA-Factory's rule: the path as written
    assert _aligned_videos(args) == [[span] for span in SPANS]
