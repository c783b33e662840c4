"""Load the base model through LLaMA-Factory and attach a LoRA adapter, after checking that the adapter fits.

    model, pre = load_for_evaluation(plan, device, keep_base=False)   # evaluate_model.py's loading stage

Every check runs before any generation: the adapter directory has adapter_config.json and weights, and every
LoRA matrix targets a module of the base model with matching shapes (an adapter trained on another architecture
fails here, with the module and the shapes named).
"""

from dataclasses import asdict

import torch

from evaluation.adapter_files import AdapterError, AdapterInfo
from evaluation.distributed import note
from evaluation.inputs import Preprocessing, load_preprocessing, parse_llamafactory_args
from evaluation.run_plan import EvaluationPlan
from evaluation.settings import ModelSettings
from plugins.frame_source import frame_source


def _adapter_tensor_shapes(weights_file: str) -> dict[str, tuple[int, ...]]:
    if weights_file.endswith(".safetensors"):
        from safetensors import safe_open

        with safe_open(weights_file, framework="pt") as f:
            return {key: tuple(f.get_slice(key).get_shape()) for key in f.keys()}
    state = torch.load(weights_file, map_location="meta", weights_only=True)
    return {key: tuple(value.shape) for key, value in state.items()}


def check_adapter_fits(model: torch.nn.Module, adapter: AdapterInfo) -> None:
    """Every lora_A / lora_B matrix must sit on a Linear of the base model with matching in/out features."""
    modules = dict(model.named_modules())
    for key, shape in _adapter_tensor_shapes(adapter.weights_file).items():
        for part, feature in ((".lora_A.", "in_features"), (".lora_B.", "out_features")):
            if part not in key:
                continue
            module_name = key.split(part)[0].removeprefix("base_model.model.")
            module = modules.get(module_name)
            if module is None:  # checkpoints saved with an older module layout may drop a "model." level
                matches = [m for name, m in modules.items() if name.endswith("." + module_name.split(".", 1)[-1])]
                module = matches[0] if len(matches) == 1 else None
            if module is None:
                raise AdapterError(
                    f"{adapter.weights_file}: targets module {module_name!r}, which the base model "
                    "does not have: the adapter was trained on another architecture"
                )
            expected = getattr(module, feature, None)
            actual = shape[1] if feature == "in_features" else shape[0]
            if expected != actual:
                raise AdapterError(
                    f"{adapter.weights_file}: {key} has shape {list(shape)}, but the base model's "
                    f"{module_name} has {feature}={expected}: the adapter was trained on another "
                    f"model (its config names {adapter.base_model_in_config!r})"
                )


def load_base_model(settings: ModelSettings, device: torch.device):
    """The base model through LLaMA-Factory's loader (its patches included), frozen, on ``device``."""
    from llamafactory.model import load_model, load_tokenizer

    model_args, _, finetuning_args, _ = parse_llamafactory_args(settings)
    model_args.device_map = {"": device}  # one full copy per process, also under torchrun
    tokenizer = load_tokenizer(model_args)["tokenizer"]
    return load_model(tokenizer, model_args, finetuning_args, is_trainable=False)


def attach_adapter(model, adapter: AdapterInfo, keep_base: bool):
    """Base + adapter. Merged (as LLaMA-Factory's inference does) unless ``keep_base`` needs base outputs too."""
    from peft import PeftModel

    check_adapter_fits(model, adapter)
    model = PeftModel.from_pretrained(model, adapter.path, is_trainable=False)
    model.eval()
    return model if keep_base else model.merge_and_unload()


def load_for_evaluation(
    plan: EvaluationPlan, device: torch.device, keep_base: bool
) -> tuple[torch.nn.Module, Preprocessing]:
    """(model, preprocessing) for ``plan``: the processor and template of the base model, reading frames from the
    run's frame store where it holds them (said in a note), and the base model with the adapter, if any, attached
    (merged, unless ``keep_base``: --compare-base turns it off for the base's answers). The adapter must fit before
    anything is generated."""
    pre = load_preprocessing(plan.settings)
    frames = frame_source(plan.frame_root, {**plan.resolved.data, **asdict(plan.settings)}, pre.template.mm_plugin)
    note(frames.attach(pre.template.mm_plugin).describe([sample.video_path for sample in plan.samples]))
    model = load_base_model(plan.settings, device)
    if plan.adapter:
        model = attach_adapter(model, plan.adapter, keep_base=keep_base)
    return model, pre
