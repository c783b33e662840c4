"""evaluate_model.py and evaluation/: pure pieces on in-memory data, then the real CLI on the tiny model.

The predictions file and resuming are in tests/test_evaluate_resume.py, the real CLI in tests/test_evaluate_cli.py.
"""

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from data.eval_samples import InvalidTestSetError, Sample, load_test_set
from evaluation.cleaning import clean_answer, is_repetitive
from evaluation.generation import GenerationSettings, collate_left_padded, generate_batch
from tests.evaluation_fixtures import PROMPT, make_lora_adapter, sharegpt_record

# ---------- cleaning ----------


def test_clean_answer_strips_special_tokens_role_prefix_and_whitespace():
    assert clean_answer("assistant\n  A red ball<|im_end|><|endoftext|>") == "A red ball"
    assert clean_answer("Assistant: a  dog\n runs ") == "a dog runs"
    assert clean_answer("<|im_start|>assistant\nA cat\x00 sleeps\ufffd") == "A cat sleeps"
    assert clean_answer("<|im_end|>  ") == ""
    assert clean_answer("a user interface", special_tokens=["<|im_end|>"]) == "a user interface"


def test_is_repetitive_flags_loops_not_normal_captions():
    assert is_repetitive("rain rain rain")
    assert is_repetitive("a red ball a red ball a red ball on grass")
    assert is_repetitive("the the sky the the sky the the sky")
    assert not is_repetitive("A red circle moves left on a blue background")
    assert not is_repetitive("a dog and a cat and a bird")
    assert is_repetitive("4|upupupupupupupupupup")  # a loop with no spaces
    assert not is_repetitive("Mississippi river at sunset, 4k 1080p footage")
    assert not is_repetitive("")


# ---------- test set ----------


def test_load_test_set_resolves_paths_and_ids(tmp_path):
    path = tmp_path / "t.json"
    path.write_text(json.dumps([sharegpt_record("a/1.mp4", "one", "v1"), sharegpt_record("/abs/2.mp4", "two")]))
    samples = load_test_set(path, tmp_path)
    assert [s.id for s in samples] == ["v1", "1"]  # no id: the record index
    assert samples[0].video_path == str(tmp_path / "a/1.mp4") and samples[1].video_path == "/abs/2.mp4"
    assert samples[0].reference == "one" and samples[0].prompt == PROMPT
    assert len(load_test_set(path, tmp_path, num_samples=1)) == 1


def test_load_test_set_clear_errors(tmp_path):
    with pytest.raises(InvalidTestSetError, match="does not exist.*make data"):
        load_test_set(tmp_path / "nope.json", tmp_path)
    empty = tmp_path / "empty.json"
    empty.write_text("[]")
    with pytest.raises(InvalidTestSetError, match="no samples"):
        load_test_set(empty, tmp_path)
    with pytest.raises(InvalidTestSetError, match="video directory .* does not exist"):
        load_test_set(empty, tmp_path / "videos")


# ---------- inputs, frames, batching ----------


@pytest.fixture(scope="module")
def preprocessing(tiny_model_dir):
    from evaluation.inputs import load_preprocessing
    from evaluation.settings import ModelSettings

    return load_preprocessing(ModelSettings(base_model=str(tiny_model_dir)))


@pytest.fixture(scope="module")
def tiny_model(tiny_model_dir):
    from evaluation.model import load_base_model
    from evaluation.settings import ModelSettings

    return load_base_model(ModelSettings(base_model=str(tiny_model_dir)), torch.device("cpu"))


def _samples(sample_dir: Path, count: int) -> list[Sample]:
    paths = sorted((sample_dir / "videos").glob("*/*.mp4"))[:count]
    return [Sample(p.stem, str(p), str(p), PROMPT, "ref") for p in paths]


def test_frames_recovered_from_pixel_values_are_the_frames_processed(preprocessing):
    from evaluation.frames import frames_from_pixel_values

    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, size=(4, 56, 84, 3), dtype=np.uint8)  # multiples of 28: no resize
    video_processor = preprocessing.processor.video_processor
    processed = video_processor(videos=[list(frames)], return_tensors="pt")
    recovered = frames_from_pixel_values(
        processed["pixel_values_videos"], processed["video_grid_thw"][0], video_processor
    )
    assert recovered.shape == frames.shape
    assert np.abs(recovered.astype(int) - frames.astype(int)).max() <= 1


def test_build_inputs_tokens_equal_features_and_errors_are_named(preprocessing, sample_dir, tmp_path):
    from evaluation.inputs import SampleInputError, build_inputs

    sample = _samples(sample_dir, 1)[0]
    inputs = build_inputs(sample, preprocessing, cutoff_len=2048)
    n_tokens = inputs["input_ids"].count(preprocessing.video_token_id)
    assert n_tokens == int(inputs["video_grid_thw"].prod()) // 4 > 0
    assert inputs["video_grid_thw"][0, 0] == 4  # 8 frames, temporal patch 2
    with pytest.raises(SampleInputError, match="over cutoff_len 100"):
        build_inputs(sample, preprocessing, cutoff_len=100)
    missing = Sample("m", "x.mp4", str(tmp_path / "x.mp4"), PROMPT, "ref")
    with pytest.raises(SampleInputError, match="x.mp4: missing"):
        build_inputs(missing, preprocessing, cutoff_len=2048)


def test_collate_pads_left_and_marks_video_tokens():
    items = [
        {
            "error": None,
            "input_ids": [5, 6, 9, 9, 7],
            "pixel_values_videos": torch.ones(8, 3),
            "video_grid_thw": torch.tensor([[1, 2, 4]]),
        },
        {
            "error": None,
            "input_ids": [9, 7],
            "pixel_values_videos": torch.zeros(4, 3),
            "video_grid_thw": torch.tensor([[1, 2, 2]]),
        },
        {"error": "VideoReadError: bad", "sample": None},
    ]
    batch = collate_left_padded(items, pad_token_id=0, video_token_id=9)
    inputs = batch["model_inputs"]
    assert inputs["input_ids"].tolist() == [[5, 6, 9, 9, 7], [0, 0, 0, 9, 7]]
    assert inputs["attention_mask"].tolist() == [[1, 1, 1, 1, 1], [0, 0, 0, 1, 1]]
    assert inputs["mm_token_type_ids"].tolist() == [[0, 0, 2, 2, 0], [0, 0, 0, 2, 0]]
    assert inputs["pixel_values_videos"].shape == (12, 3) and len(batch["failed"]) == 1


@pytest.fixture(scope="module")
def built_items(preprocessing, tmp_path_factory):
    """Inputs of three short clips of different sizes (so prompts of different lengths), built once."""
    from evaluation.generation import SampleInputs
    from tests.clips import make_clip

    clip_dir = tmp_path_factory.mktemp("clips")
    sizes = [(224, 168), (168, 280), (336, 196)]
    paths = [make_clip(clip_dir / f"{w}x{h}.mp4", n_frames=24, fps=24, width=w, height=h) for w, h in sizes]
    samples = [Sample(p.stem, str(p), str(p), PROMPT, "ref") for p in paths]
    dataset = SampleInputs(samples, preprocessing, cutoff_len=2048, output_dir=None)
    return [dataset[i] for i in range(len(samples))]


@pytest.mark.parametrize("num_beams", [1, 3])
def test_batched_generation_equals_one_at_a_time(preprocessing, tiny_model, built_items, num_beams):
    """Left padding and beam expansion must not mix up samples: visual inputs stay with their own prompt."""
    assert len({len(item["input_ids"]) for item in built_items}) > 1
    settings = GenerationSettings(num_beams=num_beams, max_new_tokens=6)

    def generate(items):
        batch = collate_left_padded(items, preprocessing.tokenizer.pad_token_id, preprocessing.video_token_id)
        return generate_batch(tiny_model, batch["model_inputs"], settings, preprocessing)

    single = [generate([item])[0] for item in built_items]
    assert generate(built_items) == single


def test_batched_next_token_logits_match_each_sample_alone(preprocessing, tiny_model, built_items):
    """Stronger than equal strings from a random model: every row's next-token logits equal its own solo run."""

    def last_logits(items):
        batch = collate_left_padded(items, preprocessing.tokenizer.pad_token_id, preprocessing.video_token_id)
        with torch.no_grad():
            return tiny_model(**batch["model_inputs"]).logits[:, -1]

    single = torch.cat([last_logits([item]) for item in built_items])
    assert torch.allclose(last_logits(built_items), single, atol=1e-4)
    assert not torch.allclose(single[0], single[1], atol=1e-3), "clips should give different logits"


# ---------- adapters ----------


def test_adapter_errors_before_generation(tiny_model_dir, tiny_model, tmp_path):
    from evaluation.adapter_files import AdapterError, inspect_adapter
    from evaluation.model import check_adapter_fits

    with pytest.raises(AdapterError, match="does not exist"):
        inspect_adapter(str(tmp_path / "nope"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(AdapterError, match="adapter_config.json is missing"):
        inspect_adapter(str(tmp_path / "empty"))
    (tmp_path / "empty" / "adapter_config.json").write_text("{}")
    with pytest.raises(AdapterError, match="no adapter weights"):
        inspect_adapter(str(tmp_path / "empty"))

    good = inspect_adapter(str(make_lora_adapter(tiny_model_dir, tmp_path / "good")))
    assert len(good.sha256) == 64
    check_adapter_fits(tiny_model, good)

    from transformers import Qwen2VLConfig, Qwen2VLForConditionalGeneration

    config = Qwen2VLConfig.from_pretrained(tiny_model_dir)
    config.text_config.hidden_size, config.text_config.intermediate_size = 64, 128
    config.vision_config.hidden_size = 64
    other = Qwen2VLForConditionalGeneration(config)
    wrong = inspect_adapter(str(make_lora_adapter(tiny_model_dir, tmp_path / "other", model=other)))
    with pytest.raises(AdapterError, match="another model"):
        check_adapter_fits(tiny_model, wrong)


# settings from a training config: tests/test_evaluate_settings.py
