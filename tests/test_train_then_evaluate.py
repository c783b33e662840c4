"""End to end on the tiny model: an adapter remembers the inputs it was trained with, and a plain evaluation uses them.

`python -m plugins.train CONFIG video_maxlen=4 max_steps=1` (the YAML says 8) writes saves/run_inputs.json; a plain
`evaluate_model.py --adapter-path saves --test-data ... --output-dir ...` then evaluates with 4 frames (read back from
metrics.json and from the frame strip of what the model saw), and `video_maxlen=8` on its command line is refused.
"""

import json

import av
import pytest
from PIL import Image

from tests.evaluation_fixtures import evaluate_cli, sharegpt_record
from tests.training_fixtures import (
    SMALL_FRAME_PIXELS,
    log_of,
    run_entry_point,
    sample_clips,
    write_train_config,
)

GRID = 28  # Qwen2-VL resizes frames to multiples of patch 14 × merge 2: the strip keeps the size the model saw


def _frames_in_strip(strip_path, clip) -> float:
    """How many frames a strip holds: its width over one frame's width at the clip's aspect ratio."""
    with av.open(str(clip)) as container:
        stream = container.streams.video[0]
        aspect = stream.width / stream.height
    with Image.open(strip_path) as strip:
        assert strip.height % GRID == 0
        return strip.width / (strip.height * aspect)


@pytest.mark.slow
def test_a_plain_evaluation_uses_the_frames_the_adapter_was_trained_with(tiny_model_dir, sample_dir, tmp_path):
    config = write_train_config(tmp_path, tiny_model_dir, sample_dir, n_clips=2)  # video_maxlen: 8 in the YAML
    trained = run_entry_point("plugins.train", config, "video_maxlen=4", "max_steps=1")
    assert trained.returncode == 0, log_of(trained)[-4000:]
    adapter = tmp_path / "saves"
    record = json.loads((adapter / "run_inputs.json").read_text())
    assert record["source"] == [str(config), "video_maxlen=4", "max_steps=1"]
    recorded = record["settings"]
    assert recorded["video_maxlen"] == 4 and recorded["video_max_pixels"] == SMALL_FRAME_PIXELS
    assert recorded["model_name_or_path"] == str(tiny_model_dir) and recorded["dataset"] == ["tiny_train"]
    assert recorded["cutoff_len"] == 1024 and recorded["dataset_dir"] == str(tmp_path)

    clip = sample_clips(sample_dir, 1)[0]
    test_data = tmp_path / "test.json"
    test_data.write_text(json.dumps([sharegpt_record(str(clip), "A clip", "a")]))
    common = ["--adapter-path", str(adapter), "--test-data", str(test_data), "--max-new-tokens", "4",
              "--num-workers", "0"]  # fmt: skip
    evaluated = evaluate_cli(*common, "--output-dir", str(tmp_path / "eval"))
    assert evaluated.returncode == 0, log_of(evaluated)[-4000:]
    assert f"settings from {adapter / 'run_inputs.json'}" in evaluated.stderr and "video_maxlen 4" in evaluated.stderr
    metrics = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    assert metrics["settings"]["video_maxlen"] == 4 and metrics["settings"]["video_max_pixels"] == SMALL_FRAME_PIXELS
    assert metrics["settings"]["base_model"] == str(tiny_model_dir) and metrics["counts"]["scored"] == 1
    prediction = json.loads((tmp_path / "eval" / "predictions.jsonl").read_text().splitlines()[0])
    assert round(_frames_in_strip(tmp_path / "eval" / prediction["frames"], clip)) == 4  # what the model saw

    refused = evaluate_cli(*common, "video_maxlen=8", "--output-dir", str(tmp_path / "eval8"))
    assert refused.returncode == 1, log_of(refused)[-4000:]
    assert "video_maxlen=8 (trained with 4)" in refused.stderr and "--allow-setting-mismatch" in refused.stderr
    assert "Traceback" not in refused.stderr and not (tmp_path / "eval8").exists()
