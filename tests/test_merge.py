"""`python -m plugins.export` merges a trained LoRA adapter into a standalone model that generates exactly as
base + adapter does: same clips, same inputs (the evaluation's builder, so Qwen2.5-VL's second_per_grid_ts and
Qwen3's timestamp text), identical greedy token ids. For every family: Qwen2-VL, Qwen2.5-VL, Qwen3-VL, Qwen3.5.

The adapter is trained by `python -m plugins.train` on that family's tiny model with the template its merge config
names; the export runs the repo's configs/merge/tiny_<family>_demo_merge.yaml with its paths pointed into the test's
tmp dir.
"""

import json
from dataclasses import replace

import pytest
import torch

from data.eval_samples import Sample
from evaluation.adapter_files import inspect_adapter
from evaluation.generation import GenerationSettings, collate_left_padded, generation_kwargs
from evaluation.inputs import build_inputs, load_preprocessing
from evaluation.model import attach_adapter, load_base_model
from evaluation.settings import ModelSettings
from plugins.run_config import load_run_config
from tests.test_family_models import FAMILIES, VIDEO_KEYS
from tests.training_fixtures import (
    PROMPT,
    REPO_ROOT,
    SMALL_FRAME_PIXELS,
    log_of,
    run_entry_point,
    sample_clips,
    write_train_config,
)

# family -> conftest fixture that builds its tiny model (test_family_models' table, plus the default Qwen2-VL)
MODEL_FIXTURES = {"qwen2_vl": "tiny_model_dir", **{family: fixture for family, (fixture, _) in FAMILIES.items()}}
MERGE_CONFIGS = {
    "qwen2_vl": "tiny_qwen2vl_demo_merge.yaml",
    "qwen2_5_vl": "tiny_qwen2_5vl_demo_merge.yaml",
    "qwen3_vl": "tiny_qwen3vl_demo_merge.yaml",
    "qwen3_5": "tiny_qwen3_5_demo_merge.yaml",
}
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
@pytest.mark.parametrize("family", sorted(MERGE_CONFIGS))
def test_merged_model_generates_exactly_as_base_plus_adapter(family, request, sample_dir, tmp_path):
    merge_config = REPO_ROOT / "configs" / "merge" / MERGE_CONFIGS[family]
    tiny_model_dir = request.getfixturevalue(MODEL_FIXTURES[family])
    merge_settings = load_run_config(merge_config)
    assert REPO_ROOT / merge_settings["model_name_or_path"] == tiny_model_dir, "the merge config's own tiny model"
    template = merge_settings["template"]
    assert template.endswith("_exact"), "the merge config names the family's exact template"

    # Train: a LoRA adapter large enough to change what the tiny model says, with the template the merge uses
    config = write_train_config(tmp_path, tiny_model_dir, sample_dir, n_clips=2, template=template, max_steps=3,
                                learning_rate=0.02, lora_rank=8)  # fmt: skip
    trained = run_entry_point("plugins.train", config)
    assert trained.returncode == 0, log_of(trained)[-4000:]
    adapter_dir, merged_dir = tmp_path / "saves", tmp_path / "merged"

    # Export: the repo's merge config, pointed at this adapter; float32 as the tiny model was trained
    exported = run_entry_point("plugins.export", merge_config, f"model_name_or_path={tiny_model_dir}",
                               f"adapter_name_or_path={adapter_dir}", f"export_dir={merged_dir}",
                               "infer_dtype=float32")  # fmt: skip
    assert exported.returncode == 0, log_of(exported)[-4000:]
    assert (merged_dir / "config.json").is_file() and list(merged_dir.glob("*.safetensors"))
    assert not (merged_dir / "adapter_config.json").exists()  # standalone: no adapter left to attach
    record = (adapter_dir / "run_inputs.json").read_text()  # what training used travels with the merged model
    assert (merged_dir / "run_inputs.json").read_text() == record
    assert json.loads(record)["settings"]["video_max_pixels"] == SMALL_FRAME_PIXELS
    assert json.loads(record)["settings"]["template"] == template

    settings = ModelSettings(base_model=str(tiny_model_dir), template=template, video_max_pixels=SMALL_FRAME_PIXELS,
                             infer_dtype="float32")  # fmt: skip
    merged_settings = replace(settings, base_model=str(merged_dir))
    pre, merged_pre = load_preprocessing(settings), load_preprocessing(merged_settings)
    samples = [Sample(id=str(i), video=str(clip), video_path=str(clip), prompt=PROMPT, reference="")
               for i, clip in enumerate(sample_clips(sample_dir, 2))]  # fmt: skip

    # the exported tokenizer/processor/template build the very same inputs
    for sample in samples:
        ours = build_inputs(sample, pre, settings.cutoff_len)
        theirs = build_inputs(sample, merged_pre, settings.cutoff_len)
        assert ours["input_ids"] == theirs["input_ids"]
        for key in VIDEO_KEYS:  # pixels, grids and (Qwen2.5-VL) seconds per temporal patch
            assert (key in ours) == (key in theirs), key
            if key in ours:
                assert torch.equal(torch.as_tensor(ours[key]), torch.as_tensor(theirs[key])), key
        assert ("second_per_grid_ts" in ours) == (family == "qwen2_5_vl")

    base_plus_adapter = attach_adapter(
        load_base_model(settings, CPU), inspect_adapter(str(adapter_dir)), keep_base=True
    )  # unmerged PeftModel: base weights + LoRA at run time
    with base_plus_adapter.disable_adapter():
        base_ids = _greedy_token_ids(base_plus_adapter, samples, pre, settings.cutoff_len)
    adapter_ids = _greedy_token_ids(base_plus_adapter, samples, pre, settings.cutoff_len)
    merged_ids = _greedy_token_ids(load_base_model(merged_settings, CPU), samples, pre, settings.cutoff_len)

    assert adapter_ids != base_ids, "the adapter changes nothing: the comparison below would prove nothing"
    assert merged_ids == adapter_ids
