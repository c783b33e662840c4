"""The files of a LoRA adapter directory: config and weights present, weights hashed (no model needed).

from evaluation.adapter_files import inspect_adapter
adapter = inspect_adapter("saves/qwen2vl-7b/lora/sft")   # AdapterError naming the file and the fix
"""

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

ADAPTER_WEIGHT_FILES = ("adapter_model.safetensors", "adapter_model.bin")


class AdapterError(ValueError):
    """The adapter directory is unusable with this base model; the message names the file and the fix."""


@dataclass(frozen=True)
class AdapterInfo:
    path: str
    weights_file: str
    sha256: str
    base_model_in_config: str | None


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def inspect_adapter(adapter_path: str) -> AdapterInfo:
    """Check the adapter directory's files (config and weights) and hash its weights."""
    adapter_dir = Path(adapter_path)
    if not adapter_dir.is_dir():
        raise AdapterError(
            f"adapter directory {adapter_dir} does not exist: train first (`make train`) or fix --adapter-path"
        )
    config_file = adapter_dir / "adapter_config.json"
    if not config_file.is_file():
        raise AdapterError(
            f"{config_file} is missing: {adapter_dir} is not a PEFT adapter directory (a merged model "
            "goes to --base-model instead)"
        )
    weights = next((adapter_dir / name for name in ADAPTER_WEIGHT_FILES if (adapter_dir / name).is_file()), None)
    if weights is None:
        raise AdapterError(
            f"{adapter_dir} has no adapter weights ({' or '.join(ADAPTER_WEIGHT_FILES)}): the "
            "training run did not finish saving"
        )
    config = json.loads(config_file.read_text(encoding="utf-8"))
    return AdapterInfo(str(adapter_dir), str(weights), _sha256(weights), config.get("base_model_name_or_path"))
