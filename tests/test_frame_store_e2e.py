"""End to end on the tiny model: with the frame store built, every clip moved away, training and evaluation still
run, from the store alone, and predict exactly what a run on the clips (store off) predicts."""

import json
import shutil
import subprocess
import sys

import pytest

from tests.evaluation_fixtures import evaluate_cli, sharegpt_record
from tests.training_fixtures import REPO_ROOT, log_of, run_entry_point, sample_clips, write_dataset, write_train_config


def _train_and_evaluate(config, tmp_path, name: str, frames: str) -> list[dict]:
    """Predictions after training then evaluating; both say ``frames`` (their frame source) on the console."""
    trained = run_entry_point("plugins.train", config, "max_steps=1", f"output_dir={tmp_path / name}")
    assert trained.returncode == 0, log_of(trained)[-4000:]
    assert frames in trained.stdout, trained.stdout[-4000:]
    output = tmp_path / f"eval_{name}"
    evaluated = evaluate_cli("--adapter-path", str(tmp_path / name), "--test-data", str(tmp_path / "test.json"),
                             "--max-new-tokens", "6", "--num-workers", "0", "--output-dir", str(output))  # fmt: skip
    assert evaluated.returncode == 0, log_of(evaluated)[-4000:]
    assert frames in evaluated.stderr, evaluated.stderr[-4000:]
    lines = (output / "predictions.jsonl").read_text().splitlines()
    return [{key: json.loads(line)[key] for key in ("id", "prediction")} for line in lines]


@pytest.mark.slow
def test_training_and_evaluation_read_the_store_alone_and_predict_the_same(
    tiny_model_dir, sample_dir, tmp_path, monkeypatch
):
    config = write_train_config(tmp_path, tiny_model_dir, sample_dir, n_clips=2)
    (tmp_path / "videos").mkdir()
    clips = [shutil.copy2(clip, tmp_path / "videos" / clip.name) for clip in sample_clips(sample_dir, 2)]
    write_dataset(tmp_path, clips)
    test_set = [sharegpt_record(str(clip), f"caption {i}", f"clip{i}") for i, clip in enumerate(clips)]
    (tmp_path / "test.json").write_text(json.dumps(test_set))
    monkeypatch.setenv("FRAME_STORE_DIR", "off")
    on_clips = _train_and_evaluate(config, tmp_path, "on_clips", "frames: decoding clips")
    monkeypatch.delenv("FRAME_STORE_DIR")

    built = subprocess.run(
        [sys.executable, "-m", "plugins.frames", "build", str(config)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )  # `make frames CONFIG=...`
    assert built.returncode == 0, log_of(built)[-4000:]
    assert "2 clips, 2 decoded" in built.stdout and (tmp_path / "frames").is_dir()
    (tmp_path / "videos").rename(tmp_path / "moved_away")
    assert not any(clip.exists() for clip in clips)
    from_store = _train_and_evaluate(config, tmp_path, "from_store", "(2 of 2 clips)")
    assert from_store == on_clips and len(on_clips) == 2
