"""Each tiny model (models/tiny-qwen2_5vl, models/tiny-qwen3vl, models/tiny-qwen3_5) through its exact template:
training and evaluation build the same inputs (ids with Qwen3-VL's timestamps, pixels, grids, Qwen2.5-VL's seconds
per temporal patch), evaluation's frame strip is what the model saw, and (slow) a LoRA training step and a
generation run on it.
Qwen2-VL: tests/test_train_eval_parity.py, tests/test_train_entry.py.
"""

import json

import numpy as np
import pytest
import torch

from data.eval_samples import Sample
from evaluation.frames import frames_from_pixel_values
from evaluation.generation import GenerationSettings, collate_left_padded, generate_batch
from evaluation.inputs import build_inputs, load_preprocessing
from evaluation.settings import ModelSettings
from tests.training_fixtures import DATASET_NAME, PROMPT, log_of, run_entry_point, write_dataset, write_train_config

FAMILIES = {
    "qwen2_5_vl": ("tiny_qwen2_5vl_dir", "qwen2_vl_exact"),
    "qwen3_vl": ("tiny_qwen3vl_dir", "qwen3_vl_exact"),
    "qwen3_5": ("tiny_qwen3_5_dir", "qwen3_5_nothink_exact"),
}
VIDEO_KEYS = ("pixel_values_videos", "video_grid_thw", "second_per_grid_ts")


@pytest.fixture(params=sorted(FAMILIES))
def family(request):
    """(family, tiny model directory, exact template)."""
    fixture, template = FAMILIES[request.param]
    return request.param, request.getfixturevalue(fixture), template


def _training_batch(settings: ModelSettings, dataset_dir, output_dir) -> dict:
    """One collated training batch, exactly as LLaMA-Factory's SFT workflow builds it."""
    from llamafactory.data import MultiModalDataCollatorForSeq2Seq, get_dataset, get_template_and_fix_tokenizer
    from llamafactory.extras.constants import IGNORE_INDEX
    from llamafactory.hparams import get_train_args
    from llamafactory.model import load_tokenizer

    import plugins

    plugins.register()
    model_args, data_args, training_args, _, _ = get_train_args({
        "model_name_or_path": settings.base_model, "stage": "sft", "do_train": True, "finetuning_type": "lora",
        "dataset": DATASET_NAME, "dataset_dir": str(dataset_dir), "template": settings.template,
        "cutoff_len": settings.cutoff_len, "video_maxlen": settings.video_maxlen, "video_fps": settings.video_fps,
        "video_max_pixels": settings.video_max_pixels, "output_dir": str(output_dir), "overwrite_cache": True,
        "report_to": "none",
    })  # fmt: skip
    module = load_tokenizer(model_args)
    template = get_template_and_fix_tokenizer(module["tokenizer"], data_args)
    dataset = get_dataset(template, model_args, data_args, training_args, stage="sft", **module)
    collator = MultiModalDataCollatorForSeq2Seq(template=template, label_pad_token_id=IGNORE_INDEX, **module)
    return collator([dict(dataset["train_dataset"][0])])


def test_training_and_evaluation_build_identical_inputs(family, sample_dir, tmp_path):
    from llamafactory.extras.constants import IGNORE_INDEX

    name, model_dir, template = family
    clip = min((sample_dir / "videos").glob("*/*.mp4"), key=lambda path: path.stat().st_size)
    write_dataset(tmp_path, [clip])
    settings = ModelSettings(base_model=str(model_dir), template=template)
    batch = _training_batch(settings, tmp_path, tmp_path / "out")
    labels = batch["labels"][0].tolist()
    train_prompt_ids = batch["input_ids"][0, : next(i for i, label in enumerate(labels) if label != IGNORE_INDEX)]

    pre = load_preprocessing(settings)
    evaluation = build_inputs(Sample("0", str(clip), str(clip), PROMPT, ""), pre, settings.cutoff_len)
    assert evaluation["input_ids"] == train_prompt_ids.tolist()
    assert train_prompt_ids.tolist().count(pre.video_token_id) > 0
    assert ("seconds>" in pre.tokenizer.decode(evaluation["input_ids"])) == name.startswith("qwen3")
    assert ("second_per_grid_ts" in batch) == (name == "qwen2_5_vl")
    for key in VIDEO_KEYS:
        if key in batch:
            assert torch.equal(torch.as_tensor(evaluation[key]), torch.as_tensor(batch[key])), (name, key)


def test_the_frame_strip_is_what_the_model_saw(family, sample_dir):
    """evaluation/frames.py undoes each family's processor (its own patch size) back to the frames read."""
    from plugins.llamafactory_boundary import regularized_videos

    _, model_dir, template = family
    clip = str(min((sample_dir / "videos").glob("*/*.mp4"), key=lambda path: path.stat().st_size))
    pre = load_preprocessing(ModelSettings(base_model=str(model_dir), template=template))
    inputs = build_inputs(Sample("0", clip, clip, PROMPT, ""), pre, 100_000)
    strip = frames_from_pixel_values(
        inputs["pixel_values_videos"], inputs["video_grid_thw"][0], pre.processor.video_processor
    )
    processed = pre.processor.video_processor(
        videos=[np.stack(strip)], do_resize=False, do_sample_frames=False, return_tensors="pt"
    )
    assert torch.allclose(processed["pixel_values_videos"], inputs["pixel_values_videos"], atol=1e-2)
    settings = {"image_max_pixels": pre.processor.video_max_pixels, "image_min_pixels": pre.processor.video_min_pixels,
                "video_fps": pre.processor.video_fps, "video_maxlen": pre.processor.video_maxlen}  # fmt: skip
    assert len(strip) == len(regularized_videos(pre.template.mm_plugin, [clip], **settings)[0])


@pytest.mark.slow
def test_a_training_step_then_a_generation_through_the_exact_template(family, sample_dir, tmp_path):
    name, model_dir, template = family
    config = write_train_config(tmp_path, model_dir, sample_dir, n_clips=2, template=template, max_steps=1)
    result = run_entry_point("plugins.train", config)
    assert result.returncode == 0, log_of(result)[-3000:]
    assert "'loss'" in log_of(result) or "train_loss" in log_of(result)
    assert (tmp_path / "saves" / "adapter_model.safetensors").exists()

    from evaluation.model import load_base_model

    settings = ModelSettings(base_model=str(model_dir), template=template)
    pre = load_preprocessing(settings)
    model = load_base_model(settings, torch.device("cpu"))
    clip = str(sorted((sample_dir / "videos").rglob("*.mp4"))[0])
    item = {"sample": None, "error": None, **build_inputs(Sample("0", clip, clip, PROMPT, ""), pre, 100_000)}
    batch = collate_left_padded([item], pre.tokenizer.pad_token_id, pre.video_token_id)
    [answer] = generate_batch(model, batch["model_inputs"], GenerationSettings(max_new_tokens=4), pre)
    assert isinstance(answer, str) and json.dumps(answer)
