"""run_inputs.json: the input settings an adapter was trained with, written next to it so evaluation can reuse them.

    settings = input_settings(load_run_config("configs/tiny_qwen2vl_demo.yaml", ["video_maxlen=4"]))
    write_run_inputs("saves/tiny_qwen2vl_demo", settings, source=["configs/tiny_qwen2vl_demo.yaml", "video_maxlen=4"])
    read_run_inputs("saves/tiny_qwen2vl_demo")   # -> RunInputs, or None when the folder has no record

The settings are the values LLaMA-Factory's own parser gives (its defaults included): the base model
(``model_name_or_path``, ``model_revision``), ``template``, every ``video_*`` key, the ``image_*_pixels`` budget,
``cutoff_len``, the dataset names, ``dataset_dir`` and ``media_dir`` (LLaMA-Factory: ``dataset_dir`` when unset).
Those folders, and a base model that is a local folder, are made absolute (LLaMA-Factory resolves them against the
directory it ran in), so evaluation started from elsewhere finds the same files. Beside the settings, ``base_model``
names the model as the user named it (hub id, revision and snapshot commit where known: plugins.model_identity).
``plugins.train`` writes the record once the preflight passed, before training starts (a crashed run has it too);
``llamafactory-cli train`` writes it as training starts (plugins.llamafactory_cli); ``plugins.export`` copies it into
the merged model's folder; ``evaluate_model.py`` uses it by default.
"""

import json
import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from data.publish import write_text_atomic
from plugins.versions import versions

RUN_INPUTS_FILE = "run_inputs.json"
RECORD_VERSION = 1
DATA_KEYS = ("template", "cutoff_len", "dataset", "dataset_dir", "media_dir")
IMAGE_KEYS = ("image_max_pixels", "image_min_pixels")
LOCAL_FOLDER_KEYS = ("dataset_dir", "media_dir")
DATA_LOCATION_KEYS = ("dataset", *LOCAL_FOLDER_KEYS)  # where the data is, not how the model reads it


class RunInputsError(ValueError):
    """A run_inputs.json that cannot be read, or settings LLaMA-Factory's parser refuses; the message names it."""


@dataclass(frozen=True)
class RunInputs:
    """A record read back: its file, the settings (LLaMA-Factory key -> value), what produced them and the base model
    as the user named it (plugins.model_identity; empty in records written before it was kept)."""

    path: Path
    settings: dict[str, Any]
    source: list[str]
    base_model: dict[str, Any] = field(default_factory=dict)
    versions: dict[str, str | None] = field(default_factory=dict)  # plugins.versions at training ({}: not recorded)


def _model_keys() -> list[str]:
    from llamafactory.hparams import ModelArguments

    names = [field.name for field in fields(ModelArguments)]
    return ["model_name_or_path", "model_revision", *(name for name in names if name.startswith("video_")), *IMAGE_KEYS]


def input_settings(config: dict[str, Any]) -> dict[str, Any]:
    """The input settings of a run config (``load_run_config``'s dict) as LLaMA-Factory parses them."""
    from llamafactory.hparams import DataArguments, ModelArguments
    from transformers import HfArgumentParser

    try:
        model_args, data_args = HfArgumentParser([ModelArguments, DataArguments]).parse_dict(
            config, allow_extra_keys=True
        )
    except (ValueError, TypeError) as error:
        raise RunInputsError(f"LLaMA-Factory refuses these settings: {error}") from None
    settings = {key: getattr(model_args, key) for key in _model_keys()}
    settings.update({key: getattr(data_args, key) for key in DATA_KEYS})
    for key in LOCAL_FOLDER_KEYS:
        if settings[key] is not None:
            settings[key] = os.path.abspath(settings[key])
    if os.path.isdir(settings["model_name_or_path"]):  # a local model folder, not a hub id
        settings["model_name_or_path"] = os.path.abspath(settings["model_name_or_path"])
    return settings


def write_run_inputs(
    output_dir: str | Path,
    settings: dict[str, Any],
    source: list[str],
    written_by: str = "plugins.train",
    base_model: dict[str, Any] | None = None,
) -> Path:
    """``output_dir/run_inputs.json``, replaced atomically; ``written_by`` names the command that trained,
    ``base_model`` the model as the user named it (plugins.model_identity). Returns its path."""
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    path = output_dir / RUN_INPUTS_FILE
    record = {"version": RECORD_VERSION, "written_by": written_by, "source": list(source), "settings": settings}
    if base_model is not None:
        record["base_model"] = base_model
    record["versions"] = versions()
    write_text_atomic(path, json.dumps(record, indent=2, ensure_ascii=False) + "\n")
    return path


def read_run_inputs(folder: str | Path) -> RunInputs | None:
    """The record in ``folder`` (an adapter or a merged model), None when there is none."""
    path = Path(folder) / RUN_INPUTS_FILE
    if not path.is_file():
        return None
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, OSError) as error:
        raise RunInputsError(f"{path} cannot be read ({error}): fix or delete it") from None
    if not isinstance(record, dict) or not isinstance(record.get("settings"), dict):
        raise RunInputsError(f"{path} is not a run_inputs.json written by plugins.train (no 'settings' object)")
    base_model = record.get("base_model") if isinstance(record.get("base_model"), dict) else {}
    versions_at_training = record.get("versions") if isinstance(record.get("versions"), dict) else {}
    source = [str(item) for item in record.get("source") or []]
    return RunInputs(path, record["settings"], source, base_model, versions_at_training)
