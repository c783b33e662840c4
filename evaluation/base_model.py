"""Was this adapter trained on the base model it is about to be attached to?

PEFT records the base model in adapter_config.json (``base_model_name_or_path``): whatever name training loaded it
by, a hub id or a local folder. An adapter of another model with the same shapes (Qwen2-VL-7B vs a 7B fine-tune,
base vs instruct) attaches without any error and gives silently wrong answers, so the names are compared first.
The same model goes by several names, and these match:

- a hub id and a local folder of the same name ("Qwen/Qwen2-VL-7B-Instruct" and ".../Qwen2-VL-7B-Instruct");
- a hub id and its hub-cache snapshot (".../models--Qwen--Qwen2-VL-7B-Instruct/snapshots/<revision>");
- two spellings of one local folder (relative and absolute, trailing slash), compared once resolved.

Hub ids compare without regard to case (as the hub does); an owner on both sides must be the same owner.
"""

import re
from pathlib import Path

from evaluation.adapter_files import AdapterError, AdapterInfo

HUB_CACHE_FOLDER = re.compile(r"models--(?P<owner>.+?)--(?P<name>.+)")


def _is_local(name: str) -> bool:
    return Path(name).exists()


def _owner_and_name(model: str) -> tuple[str | None, str]:
    """(owner or None, name), lower-cased: from a hub id, a hub-cache snapshot path, or a local folder."""
    parts = [part for part in model.replace("\\", "/").split("/") if part not in ("", ".")]
    for part in reversed(parts):
        match = HUB_CACHE_FOLDER.fullmatch(part)
        if match:
            return match["owner"].lower(), match["name"].lower()
    if not parts:
        return None, ""
    looks_like_hub_id = len(parts) == 2 and not model.startswith(("/", ".", "~")) and not _is_local(model)
    return (parts[0].lower() if looks_like_hub_id else None), parts[-1].lower()


def same_base_model(recorded: str, given: str) -> bool:
    """Whether two names of a base model name the same model (see the module docstring for the rules)."""
    if _is_local(recorded) and _is_local(given) and Path(recorded).resolve() == Path(given).resolve():
        return True
    (recorded_owner, recorded_name), (given_owner, given_name) = _owner_and_name(recorded), _owner_and_name(given)
    if not recorded_name or recorded_name != given_name:
        return False
    return recorded_owner is None or given_owner is None or recorded_owner == given_owner


def check_adapter_base(adapter: AdapterInfo, base_model: str, allow_mismatch: bool) -> str | None:
    """None when the adapter's recorded base model is ``base_model``; a warning when it is not checked or when a
    mismatch is allowed; AdapterError naming both models and the way out when a mismatch is not allowed."""
    config_file = Path(adapter.path) / "adapter_config.json"
    recorded = adapter.base_model_in_config
    if not recorded:
        return f"{config_file} names no base model (base_model_name_or_path): the base model was not checked"
    if same_base_model(recorded, base_model):
        return None
    message = (
        f"the adapter {adapter.path} was trained on {recorded!r} (base_model_name_or_path in {config_file}), "
        f"but the base model given is {base_model!r}"
    )
    if allow_mismatch:
        return f"{message}; evaluating anyway (--allow-base-mismatch)"
    raise AdapterError(
        f"{message}. Pass the base model it was trained on (--base-model {recorded}), or "
        "--allow-base-mismatch if it is the same model under another name"
    )
