"""`make frames` stores the held-out test split `make eval` scores by default, and evaluation's clip check consults
the store: with every clip moved away after the build, evaluation reads stored frames instead of stopping."""

import json
import shutil

from data.eval_samples import load_test_set
from data.held_out import held_out_test_set
from evaluation.outcome import check_clips_exist
from plugins.frame_source import store_root
from plugins.frames import main as frames_main
from tests.frame_store_fixtures import exact_plugin
from tests.training_fixtures import PROMPT, sample_clips, write_train_config

SPLIT_FILES = {"webvid_train": "webvid_train.json", "webvid_test": "webvid_test.json"}


def _write_split(tmp_path, name: str, clips: list[str]) -> None:
    records = [{"messages": [{"role": "user", "content": PROMPT}, {"role": "assistant", "content": f"caption {i}"}],
                "videos": [clip]} for i, clip in enumerate(clips)]  # fmt: skip
    (tmp_path / SPLIT_FILES[name]).write_text(json.dumps(records))


def test_make_frames_stores_the_held_out_split_and_evaluation_reads_it_with_the_clips_gone(
    tiny_model_dir, sample_dir, tmp_path, capsys
):
    """A converted dataset as `make data` leaves it: X_train and X_test registered, clip paths relative to
    media_dir (here dataset_dir)."""
    config = write_train_config(tmp_path, tiny_model_dir, sample_dir, dataset="webvid_train")
    (tmp_path / "videos").mkdir()
    for clip in sample_clips(sample_dir, 3):
        shutil.copy2(clip, tmp_path / "videos" / clip.name)
    names = sorted(path.name for path in (tmp_path / "videos").iterdir())
    _write_split(tmp_path, "webvid_train", [f"videos/{name}" for name in names[:2]])
    _write_split(tmp_path, "webvid_test", [f"videos/{names[2]}"])  # a clip only the test split reads
    info = json.loads((tmp_path / "dataset_info.json").read_text())["tiny_train"]
    (tmp_path / "dataset_info.json").write_text(json.dumps({name: {**info, "file_name": file_name}
                                                            for name, file_name in SPLIT_FILES.items()}))  # fmt: skip

    frames_main(["build", str(config)])  # `make frames CONFIG=...`
    printed = capsys.readouterr()
    assert "3 clips, 3 decoded" in printed.out and "held-out test split" in printed.out + printed.err
    (tmp_path / "videos").rename(tmp_path / "moved_away")

    data = {"dataset": ["webvid_train"], "dataset_dir": str(tmp_path), "media_dir": str(tmp_path)}  # as evaluate
    test_data = held_out_test_set(data["dataset"], data["dataset_dir"])
    root = store_root(data)  # as evaluate_model.py chooses it
    samples = load_test_set(test_data, tmp_path)
    assert check_clips_exist(samples, tmp_path, test_data, root) is None  # every clip: in the store
    read = {"video_fps": 8.0, "video_maxlen": 8, "image_max_pixels": 112 * 112, "image_min_pixels": 16 * 16}
    frames = exact_plugin(root).read_videos([samples[0].video_path], **read)["videos"][0]
    assert len(frames) == 8
