"""`python -m plugins.export` merges a trained LoRA adapter into a standalone model that generates exactly as
base + adapter does: same clips, same inputs (the evaluation's builder), identical greedy token ids.

The adapter is trained by `python -m plugins.train` on the tiny model; the export runs the repo's
configs/merge/tiny_qwen2vl_demo_merge.yaml with its paths pointed into the test's tmp dir.
"""

import json
from dataclasses import replace

import pytest
import torch

from evaluation.adapter_files import inspect_adapter
from evaluation.generation import GenerationSettings, collate_left_padded, generation_kwargs
from evaluation.inputs import build_inputs, load_preprocessing
from evaluation.model import attach_adapter, load_base_model
from evaluation.samples import Sample
from evaluation.settings import ModelSettings
from tests.training_fixtures import (
    PROMPT,
    REPO_ROOT,
    SMALL_FRAME_PIXELS,
    log_of,
    run_entry_point,
    sample_clips,
    write_train_config,
)

MERGE_CONFIG = REPO_ROOT / "configs" / "merge" / "tiny_qwen2vl_demo_merge.yaml"
CPU = torch.device("cpu")
MAX_NEW_TOKENS = 12


def _greedy_token_ids(model, samples: list[Sample], pre, cutoff_len: int) -> list[list[int]]:
    """New token ids for a left-padded batch of ``samples``, inputs built as evaluation builds them."""
    from transformers import GenerationConfig

    items = [{**build_inputs(sample, pre, cutoff_len), "error": None} for sample in samples]
    inputs = collate_left_padded(items, pre.tokenizer.pad_token_id, pre.video_token_id)["model_inputs"]
    settings = GenerationSettings(max_new_tokens=MAX_NEW_TOKENS, min_new_tokens=MAX_NEW_TOKENS)
    with torch.inference_mode():
        output = model.generate(**inputs, generation_config=GenerationConfig(**generation_kwargs(settings, pre)))
    return output[:, inputs["input_ids"].shape[1] :].tolist()


@pytest.mark.slow
def test_merged_model_generates_exactly_as_base_plus_adapter(tiny_model_dir, sample_dir, tmp_path):
    # Train: a LoRA adapter large enough to change what the tiny model says
    config = write_train_config(tmp_path, tiny_model_dir, sample_dir, max_steps=4, learning_rate=0.02, lora_rank=8)
    trained = run_entry_point("plugins.train", config)
    assert trained.returncode == 0, log_of(trained)[-4000:]
    adapter_dir, merged_dir = tmp_path / "saves", tmp_path / "merged"

    # Export: the repo's merge config, pointed at this adapter; float32 as the tiny model was trained
    exported = run_entry_point("plugins.export", MERGE_CONFIG, f"model_name_or_path={tiny_model_dir}",
                               f"adapter_name_or_path={adapter_dir}", f"export_dir={merged_dir}",
                               "infer_dtype=float32")  # fmt: skip
    assert exported.returncode == 0, log_of(exported)[-4000:]
    assert (merged_dir / "config.json").is_file() and list(merged_dir.glob("*.safetensors"))
    assert not (merged_dir / "adapter_config.json").exists()  # standalone: no adapter left to attach
    record = (adapter_dir / "run_inputs.json").read_text()  # what training used travels with the merged model
    assert (merged_dir / "run_inputs.json").read_text() == record
    assert json.loads(record)["settings"]["video_max_pixels"] == SMALL_FRAME_PIXELS

    settings = ModelSettings(base_model=str(tiny_model_dir), video_max_pixels=SMALL_FRAME_PIXELS, infer_dtype="float32")
    merged_settings = replace(settings, base_model=str(merged_dir))
    pre, merged_pre = load_preprocessing(settings), load_preprocessing(merged_settings)
    samples = [Sample(id=str(i), video=str(clip), video_path=str(clip), prompt=PROMPT, reference="")
               for i, clip in enumerate(sample_clips(sample_dir, 2))]  # fmt: skip

    # the exported tokenizer/processor/template build the very same inputs
    for sample in samples:
        ours = build_inputs(sample, pre, settings.cutoff_len)
        theirs = build_inputs(sample, merged_pre, settings.cutoff_len)
        assert ours["input_ids"] == theirs["input_ids"]
        assert torch.equal(ours["pixel_values_videos"], theirs["pixel_values_videos"])

    base_plus_adapter = attach_adapter(
        load_base_model(settings, CPU), inspect_adapter(str(adapter_dir)), keep_base=True
    )  # unmerged PeftModel: base weights + LoRA at run time
    with base_plus_adapter.disable_adapter():
        base_ids = _greedy_token_ids(base_plus_adapter, samples, pre, settings.cutoff_len)
    adapter_ids = _greedy_token_ids(base_plus_adapter, samples, pre, settings.cutoff_len)
    merged_ids = _greedy_token_ids(load_base_model(merged_settings, CPU), samples, pre, settings.cutoff_len)

    assert adapter_ids != base_ids, "the adapter changes nothing: the comparison below would prove nothing"
    assert merged_ids == adapter_ids
