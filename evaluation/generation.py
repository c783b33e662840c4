"""Batched generation: DataLoader workers decode clips and build inputs while the model generates.

Prompts are padded on the LEFT so every answer starts at the same position; decoding is greedy unless
``num_beams`` > 1 (beam search), never sampled, so a run is reproducible.
"""

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset

from data.eval_samples import Sample
from evaluation.frames import frames_from_pixel_values, save_frame_strip
from evaluation.inputs import Preprocessing, build_inputs, mm_token_type_ids

MAX_STRIP_NAME = 80


@dataclass(frozen=True)
class GenerationSettings:
    """Decoding settings; written to metrics.json as the settings used."""

    batch_size: int = 8
    num_beams: int = 1
    max_new_tokens: int = 64
    repetition_penalty: float = 1.0
    no_repeat_ngram_size: int = 0
    min_new_tokens: int = 0
    seed: int = 42


def frame_strip_name(sample_id: str) -> str:
    """File name (under the output dir) of a sample's frame strip; ids may hold any character and any length.

    The readable part is the id with unsafe characters replaced, cut to 80 characters; a short hash of the raw id
    keeps ids that read alike apart ("clip 1" and "clip_1" get different strips)."""
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in sample_id)[:MAX_STRIP_NAME]
    return f"frames/{safe}-{hashlib.sha256(sample_id.encode('utf-8')).hexdigest()[:10]}.jpg"


class SampleInputs(Dataset):
    """Model inputs per sample, built in DataLoader workers; a sample that fails carries its error instead."""

    def __init__(self, samples: Sequence[Sample], pre: Preprocessing, cutoff_len: int, output_dir: Path | None):
        self.samples, self.pre, self.cutoff_len, self.output_dir = list(samples), pre, cutoff_len, output_dir

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> dict[str, Any]:
        sample = self.samples[index]
        item: dict[str, Any] = {"sample": sample, "error": None, "frames": None}
        try:
            item.update(build_inputs(sample, self.pre, self.cutoff_len))
        except Exception as error:  # recorded per sample: one bad clip must not end the run
            item["error"] = f"{type(error).__name__}: {error}"
            return item
        if self.output_dir is not None:
            frames = frames_from_pixel_values(
                item["pixel_values_videos"], item["video_grid_thw"][0], self.pre.processor.video_processor
            )
            item["frames"] = frame_strip_name(sample.id)
            save_frame_strip(frames, self.output_dir / item["frames"])
        return item


def collate_left_padded(items: list[dict[str, Any]], pad_token_id: int, video_token_id: int) -> dict[str, Any]:
    """Left-pad the prompts of the items that built, stack their video tensors; keep the failed ones aside."""
    ready = [item for item in items if item["error"] is None]
    batch: dict[str, Any] = {"ready": ready, "failed": [item for item in items if item["error"] is not None]}
    if not ready:
        return batch
    length = max(len(item["input_ids"]) for item in ready)
    input_ids = torch.full((len(ready), length), pad_token_id, dtype=torch.long)
    attention_mask = torch.zeros((len(ready), length), dtype=torch.long)
    for row, item in enumerate(ready):
        ids = item["input_ids"]
        input_ids[row, length - len(ids) :] = torch.tensor(ids)
        attention_mask[row, length - len(ids) :] = 1
    batch["model_inputs"] = {
        "input_ids": input_ids,
        "attention_mask": attention_mask,
        "mm_token_type_ids": mm_token_type_ids(input_ids, video_token_id),
        "pixel_values_videos": torch.cat([item["pixel_values_videos"] for item in ready]),
        "video_grid_thw": torch.cat([item["video_grid_thw"] for item in ready]),
    }
    if "second_per_grid_ts" in ready[0]:  # Qwen2.5-VL
        batch["model_inputs"]["second_per_grid_ts"] = torch.cat([item["second_per_grid_ts"] for item in ready])
    return batch


class _Collator:
    """Picklable collate function for DataLoader workers."""

    def __init__(self, pad_token_id: int, video_token_id: int):
        self.pad_token_id, self.video_token_id = pad_token_id, video_token_id

    def __call__(self, items: list[dict[str, Any]]) -> dict[str, Any]:
        return collate_left_padded(items, self.pad_token_id, self.video_token_id)


def _single_thread_worker(_: int) -> None:
    torch.set_num_threads(1)  # workers decode; the generating process keeps the cores for the model


def make_loader(dataset: SampleInputs, batch_size: int, num_workers: int) -> DataLoader:
    """Batches in test-set order; ``num_workers`` > 0 decodes the next batches while the model generates."""
    return DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=False,
        num_workers=num_workers,
        collate_fn=_Collator(dataset.pre.tokenizer.pad_token_id, dataset.pre.video_token_id),
        worker_init_fn=_single_thread_worker if num_workers else None,
        prefetch_factor=2 if num_workers else None,
        persistent_workers=False,
    )


def generation_kwargs(settings: GenerationSettings, pre: Preprocessing) -> dict[str, Any]:
    """GenerationConfig fields: deterministic (no sampling), stopping at the template's stop tokens."""
    return {
        "do_sample": False,
        "num_beams": settings.num_beams,
        "max_new_tokens": settings.max_new_tokens,
        "min_new_tokens": settings.min_new_tokens,
        "repetition_penalty": settings.repetition_penalty,
        "no_repeat_ngram_size": settings.no_repeat_ngram_size,
        "eos_token_id": pre.template.get_stop_token_ids(pre.tokenizer),
        "pad_token_id": pre.tokenizer.pad_token_id,
        "temperature": None,
        "top_p": None,
        "top_k": None,
    }


@torch.inference_mode()
def generate_batch(
    model, model_inputs: dict[str, torch.Tensor], settings: GenerationSettings, pre: Preprocessing
) -> list[str]:
    """Raw answer text for every row of a left-padded batch, cut at the first stop token."""
    from transformers import GenerationConfig

    device = next(model.parameters()).device
    dtype = next(model.parameters()).dtype
    inputs = {key: value.to(device) for key, value in model_inputs.items()}
    inputs["pixel_values_videos"] = inputs["pixel_values_videos"].to(dtype)
    config = GenerationConfig(**generation_kwargs(settings, pre))
    output = model.generate(**inputs, generation_config=config)
    new_tokens = output[:, inputs["input_ids"].shape[1] :].tolist()
    stop_ids = set(config.eos_token_id) | {pre.tokenizer.pad_token_id}
    answers = []
    for tokens in new_tokens:
        end = next((i for i, token in enumerate(tokens) if token in stop_ids), len(tokens))
        answers.append(pre.tokenizer.decode(tokens[:end], skip_special_tokens=False))
    return answers
