"""Build a sample's model inputs exactly as training does: LLaMA-Factory's template and our mm plugin.

The tokenizer, processor and chat template always come from the base model (never from an adapter directory),
and every sample is checked before generation: its number of <|video_pad|> tokens must equal the number of video
features, the mismatch behind "Video features and video tokens do not match".
"""

from dataclasses import dataclass
from typing import Any

import torch

import plugins
from data.eval_samples import Sample
from evaluation.settings import ModelSettings
from frame_store.plugin_hook import clip_available
from plugins.frame_source import store_root_of
from plugins.video_tokens import video_token_count


class SampleInputError(RuntimeError):
    """This sample cannot be turned into model inputs; recorded with its reason, not fatal to the run."""


@dataclass
class Preprocessing:
    """Tokenizer, processor and template of the base model, with the video settings applied to the processor."""

    tokenizer: Any
    processor: Any
    template: Any

    @property
    def video_token_id(self) -> int:
        return self.tokenizer.convert_tokens_to_ids(self.template.mm_plugin.video_token)


def register_plugins() -> None:
    """Register our ``qwen2_vl_exact`` template (explicit, idempotent) so configs that name it resolve."""
    plugins.register()


def parse_llamafactory_args(settings: ModelSettings):
    """LLaMA-Factory's own parsing and checks of the model/template/video arguments."""
    from llamafactory.hparams import get_infer_args

    return get_infer_args(settings.to_llamafactory_args())


def load_preprocessing(settings: ModelSettings) -> Preprocessing:
    """Tokenizer, processor and template through LLaMA-Factory's loaders, from the base model only."""
    from llamafactory.data import get_template_and_fix_tokenizer
    from llamafactory.model import load_tokenizer

    register_plugins()
    model_args, data_args, _, _ = parse_llamafactory_args(settings)
    tokenizer_module = load_tokenizer(model_args)
    template = get_template_and_fix_tokenizer(tokenizer_module["tokenizer"], data_args)
    if tokenizer_module["processor"] is None:
        raise ValueError(f"{settings.base_model} has no multimodal processor: is it a Qwen2-VL checkpoint?")
    return Preprocessing(tokenizer_module["tokenizer"], tokenizer_module["processor"], template)


def build_inputs(sample: Sample, pre: Preprocessing, cutoff_len: int) -> dict[str, Any]:
    """Prompt ids and video tensors for one sample, as LLaMA-Factory's chat engine and training build them.

    Raises SampleInputError (missing clip, too long prompt, token/feature mismatch); decoding errors of a corrupt
    clip propagate as they are, and the caller records them.
    """
    plugin, videos = pre.template.mm_plugin, [sample.video_path]
    if not clip_available(sample.video_path, store_root_of(plugin)):  # on disk, or in the run's frame store
        raise SampleInputError(f"{sample.video_path}: missing (no such file)")
    messages = plugin.process_messages([{"role": "user", "content": sample.prompt}], [], videos, [], pre.processor)
    prompt_ids, _ = pre.template.encode_oneturn(pre.tokenizer, messages + [{"role": "assistant", "content": ""}])
    prompt_ids, _ = plugin.process_token_ids(prompt_ids, None, [], videos, [], pre.tokenizer, pre.processor)
    mm_inputs = plugin.get_mm_inputs([], videos, [], [0], [1], [0], [prompt_ids], pre.processor)

    n_tokens = prompt_ids.count(pre.video_token_id)
    n_features = video_token_count(mm_inputs["video_grid_thw"][0], pre.processor)  # from the pixels read
    if n_tokens != n_features:
        raise SampleInputError(f"{sample.video_path}: {n_tokens} video tokens but {n_features} video features")
    if len(prompt_ids) > cutoff_len:
        raise SampleInputError(
            f"{sample.video_path}: prompt is {len(prompt_ids)} tokens, over cutoff_len {cutoff_len}, so training "
            "would have cut into its video tokens; raise cutoff_len or lower video_maxlen / video_max_pixels"
        )
    inputs = {
        "input_ids": prompt_ids,
        "pixel_values_videos": mm_inputs["pixel_values_videos"],
        "video_grid_thw": mm_inputs["video_grid_thw"],
    }
    if "second_per_grid_ts" in mm_inputs:  # Qwen2.5-VL: seconds per temporal patch, its M-RoPE time axis
        inputs["second_per_grid_ts"] = torch.tensor(mm_inputs["second_per_grid_ts"], dtype=torch.float)
    return inputs


def mm_token_type_ids(input_ids: torch.Tensor, video_token_id: int) -> torch.Tensor:
    """Modality of every token (2 = video, 0 = text), which transformers 5's Qwen2-VL needs for M-RoPE."""
    return (input_ids == video_token_id).long() * 2
