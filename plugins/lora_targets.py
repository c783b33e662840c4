"""What a config's LoRA adapts: modules and parameters in the language model, the vision tower and the merger, as
LLaMA-Factory's own adapter code places them on the weightless (meta) model.

    from plugins.lora_targets import lora_placement, format_placement
    placement = lora_placement(model_config, settings)   # settings: the run config as a dict
    print(format_placement(placement))                   # "LoRA adapts: language model 56 modules, 20.2 M ..."
    lora_summary(settings)                               # that line for the config's model (the preflight prints it)

LLaMA-Factory 0.9.5 resolves ``lora_target`` (``all``: every linear layer but lm_head and the merger; a list: every
module whose name contains one of them) and, with ``freeze_vision_tower: true``, drops every module under the vision
tower's keys (``visual.blocks``, ``visual.patch_embed``, ...) and the merger, so ``gate_proj,up_proj,down_proj``
(also the names of Qwen2.5-VL's vision MLP) adapt the language model only. check_frozen_vision() holds that: LoRA in
a vision tower that the config freezes is an error naming the modules.
"""

from dataclasses import dataclass, field

import torch

PARTS = ("language model", "vision tower", "merger", "other")


class LoraTargetError(ValueError):
    """LoRA lands where the config says nothing is trained; the message names the modules and the fix."""


@dataclass
class LoraPlacement:
    modules: dict[str, list[str]] = field(default_factory=lambda: {part: [] for part in PARTS})
    parameters: dict[str, int] = field(default_factory=lambda: dict.fromkeys(PARTS, 0))
    total_parameters: int = 0  # the base model's, before LoRA
    largest_layer_parameters: int = 0  # one decoder layer of the language model
    layer_targets: tuple[str, ...] = ()  # leaf names LoRA adapts in the language model's layers (q_proj, ...)

    @property
    def trainable_parameters(self) -> int:
        return sum(self.parameters.values())


def part_of(name: str) -> str:
    """Which part of a Qwen-VL model a parameter or module name belongs to."""
    if "merger" in name:  # visual.merger, Qwen3-VL's visual.deepstack_merger_list
        return "merger"
    if "visual." in name:
        return "vision tower"
    if "language_model." in name:
        return "language model"
    return "other"  # lm_head (additional_target), embeddings


def parse_lora_args(settings: dict):
    """(model_args, finetuning_args) as LLaMA-Factory parses them from the config (no training arguments)."""
    from llamafactory.hparams import FinetuningArguments, ModelArguments
    from transformers import HfArgumentParser

    parser = HfArgumentParser((ModelArguments, FinetuningArguments))
    return parser.parse_dict(settings, allow_extra_keys=True)


def lora_placement(model_config, settings: dict) -> LoraPlacement:
    """LoRA of ``settings`` by LLaMA-Factory's init_adapter on the meta-device model of ``model_config``."""
    from llamafactory.model.adapter import init_adapter
    from transformers import AutoModelForImageTextToText

    model_args, finetuning_args = parse_lora_args(settings)
    with torch.device("meta"):
        model = AutoModelForImageTextToText.from_config(model_config)
    placement = LoraPlacement(total_parameters=sum(p.numel() for p in model.parameters()))
    layers = model.model.language_model.layers
    placement.largest_layer_parameters = max(sum(p.numel() for p in layer.parameters()) for layer in layers)
    with torch.device("meta"):
        model = init_adapter(model_config, model, model_args, finetuning_args, is_trainable=True)
    for name, module in model.named_modules():
        if hasattr(module, "lora_A") and len(module.lora_A):
            placement.modules[part_of(name)].append(name)
    for name, parameter in model.named_parameters():
        if parameter.requires_grad:
            placement.parameters[part_of(name)] += parameter.numel()
    placement.layer_targets = tuple(
        sorted({name.rsplit(".", 1)[-1] for name in placement.modules["language model"] if ".layers." in name})
    )
    return placement


def check_frozen_vision(placement: LoraPlacement, freeze_vision_tower: bool) -> None:
    """LoraTargetError if LoRA adapts vision-tower modules of a config that freezes the vision tower."""
    vision = placement.modules["vision tower"]
    if freeze_vision_tower and vision:
        shown = ", ".join(vision[:3]) + (f" and {len(vision) - 3} more" if len(vision) > 3 else "")
        raise LoraTargetError(
            f"lora_target adapts {len(vision)} vision-tower modules ({shown}) although freeze_vision_tower is true: "
            "name only language-model modules in lora_target, or set freeze_vision_tower: false"
        )


def lora_summary(settings: dict) -> str:
    """The one line the preflight prints about LoRA; LoraTargetError if it adapts a vision tower the config freezes."""
    from plugins.released_architectures import model_config

    placement = lora_placement(model_config(settings["model_name_or_path"])[0], settings)
    check_frozen_vision(placement, parse_lora_args(settings)[1].freeze_vision_tower)
    return format_placement(placement)


def _millions(count: int) -> str:
    return f"{count / 1e6:.1f} M"


def format_placement(placement: LoraPlacement) -> str:
    """One line: modules and parameters LoRA (and additional_target) trains in each part."""
    parts = [
        f"{part} {len(placement.modules[part])} modules, {_millions(placement.parameters[part])} params"
        for part in PARTS
        if part != "other" or placement.parameters[part]
    ]
    share = 100 * placement.trainable_parameters / max(placement.total_parameters, 1)
    return f"LoRA adapts: {'; '.join(parts)} ({_millions(placement.trainable_parameters)} trainable, {share:.2f} %)"
