"""What model, template and video settings to evaluate with: the training config's, read by LLaMA-Factory's parser.

Defaults without ``--config`` are the project's (template ``qwen2_vl_exact``, 8 frames at 8 fps, 224×224 frame
budget); with ``--config`` every value is what training used, including LLaMA-Factory's own defaults for keys the
YAML leaves out. Explicit command-line values win over both.
"""

from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

DEFAULT_TEMPLATE = "qwen2_vl_exact"
DEFAULT_VIDEO_SETTINGS = {"video_maxlen": 8, "video_fps": 8.0, "video_max_pixels": 224 * 224}


class SettingsError(ValueError):
    """No usable model or training config; the message says what to pass."""


@dataclass(frozen=True)
class ModelSettings:
    """Everything that decides the model's inputs. ``to_llamafactory_args`` feeds LLaMA-Factory's loaders."""

    base_model: str
    adapter_path: str | None = None
    template: str = DEFAULT_TEMPLATE
    video_maxlen: int = DEFAULT_VIDEO_SETTINGS["video_maxlen"]
    video_fps: float = DEFAULT_VIDEO_SETTINGS["video_fps"]
    video_max_pixels: int = DEFAULT_VIDEO_SETTINGS["video_max_pixels"]
    video_min_pixels: int = 16 * 16  # LLaMA-Factory's default
    cutoff_len: int = 2048  # LLaMA-Factory's default
    infer_dtype: str = "auto"

    def to_llamafactory_args(self) -> dict[str, Any]:
        """Arguments for LLaMA-Factory's get_infer_args; the adapter is attached separately (see evaluation.model)."""
        args = asdict(self)
        args["model_name_or_path"] = args.pop("base_model")
        args.pop("adapter_path")
        return args


def settings_from_config(config_path: Path) -> dict[str, Any]:
    """Model, adapter, template, video_* and cutoff_len of a LLaMA-Factory training YAML, as training parsed them."""
    from llamafactory.hparams import DataArguments, ModelArguments
    from omegaconf import OmegaConf
    from transformers import HfArgumentParser

    config_path = Path(config_path)
    if not config_path.is_file():
        raise SettingsError(f"training config {config_path} does not exist: pass --config CONFIG.yaml")
    raw = OmegaConf.to_container(OmegaConf.load(config_path))  # what llamafactory's read_args does with a YAML
    model_args, data_args = HfArgumentParser([ModelArguments, DataArguments]).parse_dict(raw, allow_extra_keys=True)
    settings = {
        "base_model": model_args.model_name_or_path,
        "template": data_args.template,
        "video_maxlen": model_args.video_maxlen,
        "video_fps": model_args.video_fps,
        "video_max_pixels": model_args.video_max_pixels,
        "video_min_pixels": model_args.video_min_pixels,
        "cutoff_len": data_args.cutoff_len,
    }
    if raw.get("output_dir") and raw.get("finetuning_type", "lora") == "lora":
        settings["adapter_path"] = str(raw["output_dir"])
    return settings


def resolve_settings(config_path: Path | None, **cli_values: Any) -> ModelSettings:
    """Config values (when given) overridden by every command-line value that is not None."""
    values: dict[str, Any] = settings_from_config(config_path) if config_path else {}
    values.update({key: value for key, value in cli_values.items() if value is not None})
    if not values.get("base_model"):
        raise SettingsError("no model to evaluate: pass --base-model (hub id or local directory) or "
                            "--config CONFIG.yaml")
    return replace(ModelSettings(base_model=values.pop("base_model")), **values)
