"""Training's data path and evaluation's build the same input ids and pixels for the same clip and prompt.

Training: LLaMA-Factory's get_dataset (ShareGPT record -> tokenized sample) and its multimodal collator.
Evaluation: the template and plugin called directly on the prompt with an empty answer (what evaluation and
LLaMA-Factory's own inference engine do). Both under template qwen2_vl_exact with the same video settings.
"""

import json

import torch

import plugins

PROMPT = "<video>Describe this video in one sentence."
VIDEO_SETTINGS = {"video_maxlen": 8, "video_fps": 8.0, "video_max_pixels": 224 * 224}
IGNORE_INDEX = -100


def _write_dataset(directory, clips):
    records = [
        {"messages": [{"role": "user", "content": PROMPT}, {"role": "assistant", "content": f"caption {i}"}],
         "videos": [str(clip)]}
        for i, clip in enumerate(clips)
    ]  # fmt: skip
    (directory / "parity.json").write_text(json.dumps(records))
    info = {"parity": {"file_name": "parity.json", "formatting": "sharegpt",
                       "columns": {"messages": "messages", "videos": "videos"},
                       "tags": {"role_tag": "role", "content_tag": "content", "user_tag": "user",
                                "assistant_tag": "assistant"}}}  # fmt: skip
    (directory / "dataset_info.json").write_text(json.dumps(info))


def test_training_and_evaluation_build_identical_inputs(tiny_model_dir, sample_dir, tmp_path):
    from llamafactory.data import MultiModalDataCollatorForSeq2Seq, get_dataset, get_template_and_fix_tokenizer
    from llamafactory.hparams import get_train_args
    from llamafactory.model import load_tokenizer

    plugins.register()
    clips = sorted((sample_dir / "videos").rglob("*.mp4"))[:2]
    _write_dataset(tmp_path, clips)
    model_args, data_args, training_args, _, _ = get_train_args(
        {"model_name_or_path": str(tiny_model_dir), "stage": "sft", "do_train": True, "finetuning_type": "lora",
         "dataset": "parity", "dataset_dir": str(tmp_path), "template": "qwen2_vl_exact", "cutoff_len": 2048,
         "output_dir": str(tmp_path / "out"), "report_to": "none", "overwrite_cache": True, **VIDEO_SETTINGS}
    )  # fmt: skip
    tokenizer_module = load_tokenizer(model_args)
    tokenizer, processor = tokenizer_module["tokenizer"], tokenizer_module["processor"]
    template = get_template_and_fix_tokenizer(tokenizer, data_args)
    train_set = get_dataset(template, model_args, data_args, training_args, "sft", **tokenizer_module)["train_dataset"]
    collator = MultiModalDataCollatorForSeq2Seq(template=template, processor=processor, tokenizer=tokenizer)

    for clip, sample in zip(clips, train_set):
        batch = collator([sample])
        labels = batch["labels"][0].tolist()
        n_prompt = next(i for i, label in enumerate(labels) if label != IGNORE_INDEX)
        train_prompt_ids = batch["input_ids"][0, :n_prompt].tolist()

        plugin = template.mm_plugin
        messages = plugin.process_messages([{"role": "user", "content": PROMPT}], [], [str(clip)], [], processor)
        eval_prompt_ids, _ = template.encode_oneturn(tokenizer, messages + [{"role": "assistant", "content": ""}])
        eval_inputs = plugin.get_mm_inputs([], [str(clip)], [], [0], [1], [0], [eval_prompt_ids], processor)

        assert train_prompt_ids == eval_prompt_ids, clip
        assert train_prompt_ids.count(tokenizer.convert_tokens_to_ids("<|video_pad|>")) > 0
        assert torch.equal(batch["video_grid_thw"], eval_inputs["video_grid_thw"]), clip
        assert torch.equal(batch["pixel_values_videos"], eval_inputs["pixel_values_videos"]), clip
