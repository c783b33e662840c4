"""Train/eval parity: LLaMA-Factory's TRAINING data path (get_dataset + MultiModalDataCollatorForSeq2Seq, our
template) and evaluation build the same prompt ids and the same pixel_values_videos for the same clip and prompt."""

import json

import torch

from data.eval_samples import Sample
from evaluation.inputs import build_inputs, load_preprocessing
from evaluation.settings import ModelSettings
from tests.evaluation_fixtures import PROMPT, sharegpt_record

DATASET_INFO = {
    "parity": {
        "file_name": "parity.json",
        "formatting": "sharegpt",
        "columns": {"messages": "messages", "videos": "videos"},
        "tags": {"role_tag": "role", "content_tag": "content", "user_tag": "user", "assistant_tag": "assistant"},
    }
}


def _training_batch(tiny_model_dir, dataset_dir, output_dir):
    """One collated training batch, exactly as LLaMA-Factory's SFT workflow builds it."""
    from llamafactory.data import MultiModalDataCollatorForSeq2Seq, get_dataset, get_template_and_fix_tokenizer
    from llamafactory.extras.constants import IGNORE_INDEX
    from llamafactory.hparams import get_train_args
    from llamafactory.model import load_tokenizer

    import plugins

    plugins.register()
    settings = ModelSettings(base_model=str(tiny_model_dir))
    model_args, data_args, training_args, _, _ = get_train_args(
        {
            "model_name_or_path": settings.base_model,
            "stage": "sft",
            "do_train": True,
            "finetuning_type": "lora",
            "lora_target": "q_proj,v_proj",
            "dataset": "parity",
            "dataset_dir": str(dataset_dir),
            "template": settings.template,
            "cutoff_len": settings.cutoff_len,
            "video_maxlen": settings.video_maxlen,
            "video_fps": settings.video_fps,
            "video_max_pixels": settings.video_max_pixels,
            "output_dir": str(output_dir),
            "overwrite_cache": True,
            "report_to": "none",
        }
    )
    tokenizer_module = load_tokenizer(model_args)
    template = get_template_and_fix_tokenizer(tokenizer_module["tokenizer"], data_args)
    dataset = get_dataset(template, model_args, data_args, training_args, stage="sft", **tokenizer_module)
    collator = MultiModalDataCollatorForSeq2Seq(template=template, label_pad_token_id=IGNORE_INDEX, **tokenizer_module)
    feature = {k: v for k, v in dataset["train_dataset"][0].items()}
    return collator([feature]), settings


def test_training_and_evaluation_build_identical_inputs(tiny_model_dir, sample_dir, tmp_path):
    from llamafactory.extras.constants import IGNORE_INDEX

    clip = min((sample_dir / "videos").glob("*/*.mp4"), key=lambda p: p.stat().st_size)
    (tmp_path / "parity.json").write_text(json.dumps([sharegpt_record(str(clip), "A red circle moves left")]))
    (tmp_path / "dataset_info.json").write_text(json.dumps(DATASET_INFO))
    batch, settings = _training_batch(tiny_model_dir, tmp_path, tmp_path / "out")

    labels = batch["labels"][0].tolist()
    prompt_length = next(i for i, label in enumerate(labels) if label != IGNORE_INDEX)
    train_prompt_ids = batch["input_ids"][0, :prompt_length].tolist()

    pre = load_preprocessing(settings)
    evaluation = build_inputs(Sample("0", str(clip), str(clip), PROMPT, ""), pre, settings.cutoff_len)
    assert evaluation["input_ids"] == train_prompt_ids
    assert train_prompt_ids.count(pre.video_token_id) > 0
    assert torch.equal(evaluation["video_grid_thw"], batch["video_grid_thw"])
    assert torch.equal(evaluation["pixel_values_videos"], batch["pixel_values_videos"])
