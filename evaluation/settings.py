"""What model, template and video settings to evaluate with, so evaluation reads its inputs as training did.

    run = resolve_run(config=None, overrides=["video_maxlen=4"], base_model=None, adapter_path="saves/x")
    run.settings   # ModelSettings: base model, adapter, template, video_*, cutoff_len
    run.notes      # what was used and where it came from, said on the console

Each layer wins over the one before it:

1. without --config, the project's defaults (template ``qwen2_vl_exact``, 8 frames at 8 fps, 224×224 frame budget);
   with --config, the YAML as LLaMA-Factory parses it (its own defaults for keys the YAML leaves out);
2. the adapter's run_inputs.json (plugins.run_inputs: what training really used, its overrides included), read from
   --adapter-path, the config's output_dir, or a merged model's folder given as --base-model;
3. explicit command-line values: --base-model, --template and ``key=value`` overrides. One that contradicts the
   adapter's record is refused (RunMismatchError) unless --allow-setting-mismatch (--allow-base-mismatch: the base
   model only).

An adapter without a record is evaluated only under settings someone vouches for: with --config (the config it was
trained with), or with --allow-guessed-settings, and then a warning names each setting that was guessed (a project or
LLaMA-Factory default, not given on the command line). Otherwise it is refused (UnrecordedAdapterError).
"""

import os
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from evaluation.base_model import same_base_model
from plugins.run_config import RunConfigError, llamafactory_fields, load_run_config
from plugins.run_inputs import DATA_LOCATION_KEYS, RUN_INPUTS_FILE, RunInputs, input_settings, read_run_inputs
from plugins.versions import version_note
from video.llamafactory_defaults import LLAMAFACTORY_DEFAULTS

DEFAULT_TEMPLATE = "qwen2_vl_exact"
DEFAULT_VIDEO_SETTINGS = {"video_maxlen": 8, "video_fps": 8.0, "video_max_pixels": 224 * 224}
MODEL_KEY = "model_name_or_path"
REVISION_KEY = "model_revision"
DEFAULT_MODEL_REVISION = "main"  # LLaMA-Factory's ModelArguments.model_revision
ADAPTER_KEY = "output_dir"  # with --config: the adapter the config trains


class SettingsError(ValueError):
    """No usable model or training config; the message says what to pass."""


class RunMismatchError(SettingsError):
    """An explicit value contradicts what the adapter was trained with; the message names both and the way out."""


class UnrecordedAdapterError(SettingsError):
    """An adapter without run_inputs.json, and nothing that says what it was trained with; the message says what to
    pass."""


@dataclass(frozen=True)
class ModelSettings:
    """Everything that decides the model's inputs. ``to_llamafactory_args`` feeds LLaMA-Factory's loaders."""

    base_model: str
    adapter_path: str | None = None
    model_revision: str = DEFAULT_MODEL_REVISION  # a hub branch, tag or commit; a local folder ignores it
    template: str = DEFAULT_TEMPLATE
    video_maxlen: int = DEFAULT_VIDEO_SETTINGS["video_maxlen"]
    video_fps: float = DEFAULT_VIDEO_SETTINGS["video_fps"]
    video_max_pixels: int = DEFAULT_VIDEO_SETTINGS["video_max_pixels"]
    video_min_pixels: int = LLAMAFACTORY_DEFAULTS["video_min_pixels"]
    cutoff_len: int = LLAMAFACTORY_DEFAULTS["cutoff_len"]
    infer_dtype: str = "auto"

    def to_llamafactory_args(self) -> dict[str, Any]:
        """Arguments for LLaMA-Factory's get_infer_args; the adapter is attached separately (see evaluation.model)."""
        args = asdict(self)
        args["model_name_or_path"] = args.pop("base_model")
        args.pop("adapter_path")
        return args


INPUT_KEYS = tuple(f.name for f in fields(ModelSettings) if f.name not in ("base_model", "adapter_path"))


@dataclass(frozen=True)
class ResolvedRun:
    """The settings to evaluate with, the data keys of the run (dataset, dataset_dir, media_dir: for the default
    test set), the adapter's record when there is one, and notes saying where the values came from."""

    settings: ModelSettings
    data: dict[str, Any]
    record: RunInputs | None = None
    notes: list[str] = field(default_factory=list)


def _explicit_values(overrides: list[str], base_model: str | None, template: str | None) -> dict[str, Any]:
    """key=value overrides and the --base-model/--template flags as one dict of LLaMA-Factory keys."""
    try:
        explicit = load_run_config(None, overrides, check_keys=False)  # unknown keys: named below, for evaluation
    except RunConfigError as error:
        raise SettingsError(str(error)) from None
    unknown = sorted(set(explicit) - set(llamafactory_fields()))
    if unknown:
        raise SettingsError(
            f"unknown setting {', '.join(unknown)}: not a LLaMA-Factory key (evaluation reads "
            f"{', '.join((MODEL_KEY, *INPUT_KEYS))}, dataset, dataset_dir, media_dir)"
        )
    for key, flag_value, flag in ((MODEL_KEY, base_model, "--base-model"), ("template", template, "--template")):
        if flag_value is not None:
            if key in explicit and str(explicit[key]) != flag_value:
                raise SettingsError(f"{flag} {flag_value} and {key}={explicit[key]} disagree: give one")
            explicit[key] = flag_value
    return explicit


def _config_values(config: Path) -> tuple[dict[str, Any], str | None]:
    """(input settings of a training YAML as LLaMA-Factory parses them, the adapter it trains or None)."""
    config = Path(config)
    if not config.is_file():
        raise SettingsError(f"training config {config} does not exist: pass --config CONFIG.yaml")
    try:
        raw = load_run_config(config)
    except RunConfigError as error:
        raise SettingsError(str(error)) from None
    values = input_settings(raw)
    if "infer_dtype" in raw:
        values["infer_dtype"] = raw["infer_dtype"]
    adapter = str(raw[ADAPTER_KEY]) if raw.get(ADAPTER_KEY) and raw.get("finetuning_type", "lora") == "lora" else None
    return values, adapter


def _typed(key: str, value: Any) -> Any:
    """``value`` as the type of ModelSettings' field (video_fps=8 is 8.0); a value that does not fit names the key."""
    kind = type(ModelSettings.__dataclass_fields__[key].default)
    try:
        typed = kind(value)
    except (TypeError, ValueError):
        typed = None
    if typed is None or isinstance(value, bool) or (kind is int and float(value) != typed):
        expected = {int: "a whole number", float: "a number"}.get(kind, "text")
        raise SettingsError(f"{key}={value!r} is not valid: expected {expected}")
    return typed


def _same_value(key: str, recorded: Any, given: Any) -> bool:
    if key == MODEL_KEY:
        return same_base_model(str(recorded), str(given))
    return recorded == given


def _check_against_record(explicit: dict[str, Any], record: RunInputs, allow: bool, allow_base: bool) -> list[str]:
    """Refuse explicit values that contradict the record (unless allowed); the notes for those allowed. Where the
    data lives (dataset, dataset_dir, media_dir) may change freely: it picks the test set, not the model's inputs."""
    conflicts = [
        key
        for key, value in explicit.items()
        if key in record.settings
        and key not in DATA_LOCATION_KEYS
        and not _same_value(key, record.settings[key], value)
    ]
    refused = [key for key in conflicts if not (allow or (key == MODEL_KEY and allow_base))]
    described = {
        key: f"{'base model ' if key == MODEL_KEY else key + '='}{explicit[key]} (trained with {record.settings[key]})"
        for key in conflicts
    }
    if refused:
        flag = "--allow-base-mismatch" if refused == [MODEL_KEY] else "--allow-setting-mismatch"
        raise RunMismatchError(
            f"the adapter was trained with other settings than given: {'; '.join(described[k] for k in refused)} "
            f"(its record: {record.path}). Drop the value to evaluate as it was trained, or pass {flag} to "
            "evaluate with the value given anyway"
        )
    return [
        f"WARNING: evaluating with {described[key]}, not what the adapter was trained with (forced)"
        for key in conflicts
    ]


def _model_by_hub_id(record: RunInputs, values: dict[str, Any]) -> list[str]:
    """Where the recorded base model folder does not exist here (a copied adapter) but the record names its hub id:
    that hub id in ``values``, and the note saying so. Otherwise nothing changes (a missing folder is then refused
    when the model is looked up, never swapped for another checkout's)."""
    recorded, hub_id = str(values.get(MODEL_KEY) or ""), record.base_model.get("hub_id")
    if not hub_id or not os.path.isabs(recorded) or os.path.exists(recorded):
        return []
    values[MODEL_KEY] = hub_id
    commit = record.base_model.get("commit")
    trained_at = f" (trained on its snapshot {commit})" if commit else ""
    return [
        f"base model {recorded} (recorded in {record.path}) does not exist here: using its hub id {hub_id}"
        f"{trained_at} instead; pass --base-model to choose another copy"
    ]


def _trained_revision(record: RunInputs, values: dict[str, Any], explicit: dict[str, Any]) -> list[str]:
    """Load the base model at the revision training loaded: a model named by hub id whose record has the commit of
    the snapshot training used is pinned to that commit (the hub's ``main`` may have moved since), with a note; a
    base model other than the recorded one gets the default revision. An explicit model_revision=... stays."""
    if REVISION_KEY in explicit:
        return []
    model, identity = str(values[MODEL_KEY]), record.base_model
    if model not in (record.settings.get(MODEL_KEY), identity.get("hub_id")):
        values[REVISION_KEY] = DEFAULT_MODEL_REVISION
        return []
    commit = identity.get("commit")
    if not commit or model != identity.get("hub_id"):
        return []
    values[REVISION_KEY] = commit
    return [f"base model {model} at its snapshot {commit}, the one training loaded (its record: {record.path})"]


def _guessed(adapter: str, explicit: dict[str, Any], allowed: bool) -> list[str]:
    """The warning naming each input setting guessed for an adapter without a record (one not given explicitly);
    UnrecordedAdapterError unless guessing is ``allowed``."""
    if not allowed:
        raise UnrecordedAdapterError(
            f"{adapter} has no {RUN_INPUTS_FILE}, so the settings it was trained with (template, frames, pixels, "
            "cutoff_len) are unknown: pass --config CONFIG.yaml, the config it was trained with, or "
            "--allow-guessed-settings to evaluate with defaults (each one is then named)"
        )
    defaults = {**asdict(ModelSettings(base_model="")), "template": DEFAULT_TEMPLATE, **DEFAULT_VIDEO_SETTINGS}
    guessed = [
        f"{key} {defaults[key]}"
        for key in INPUT_KEYS
        if key not in explicit and key not in ("infer_dtype", REVISION_KEY)
    ]
    if not guessed:
        return []
    return [
        f"WARNING: {adapter} has no {RUN_INPUTS_FILE}; evaluating with guessed settings, not what it was trained "
        f"with: {', '.join(guessed)} (--allow-guessed-settings)"
    ]


def _read_record(adapter_path: str | None, base_model: str | None) -> tuple[RunInputs | None, bool]:
    """(the record of the adapter, else of a merged model folder given as the base model; whether it is the base
    model's own record, whose model_name_or_path is the model it was merged from)."""
    if adapter_path:
        return read_run_inputs(adapter_path), False
    if base_model and Path(base_model).is_dir():
        return read_run_inputs(base_model), True
    return None, False


def resolve_run(
    config: Path | None,
    overrides: list[str] | tuple[str, ...] = (),
    *,
    base_model: str | None = None,
    adapter_path: str | None = None,
    template: str | None = None,
    allow_setting_mismatch: bool = False,
    allow_base_mismatch: bool = False,
    allow_guessed_settings: bool = False,
) -> ResolvedRun:
    """Layer project defaults or the config, the adapter's record and the explicit values (module docstring)."""
    explicit = _explicit_values(list(overrides), base_model, template)
    notes: list[str] = []
    if config:
        values, config_adapter = _config_values(config)
        source = f"config {config}"
    else:
        values, config_adapter = {"template": DEFAULT_TEMPLATE, **DEFAULT_VIDEO_SETTINGS}, None
        source = "project defaults"
    adapter = adapter_path or (explicit.pop(ADAPTER_KEY, None) if config else None) or config_adapter
    explicit.pop(ADAPTER_KEY, None)
    record, of_base_model = _read_record(adapter, explicit.get(MODEL_KEY))
    if record:
        recorded = {k: v for k, v in record.settings.items() if not (of_base_model and k == MODEL_KEY)}
        differing = [k for k in (MODEL_KEY, *INPUT_KEYS) if config and k in recorded and values.get(k) != recorded[k]]
        if differing:
            notes.append(
                f"the adapter was trained with {', '.join(f'{k}={recorded[k]}' for k in differing)} "
                f"(not the config's {', '.join(f'{k}={values.get(k)}' for k in differing)}): using those"
            )
        values.update(recorded)
        if not of_base_model and MODEL_KEY not in explicit:
            notes.extend(_model_by_hub_id(record, values))
        source = f"{record.path} (trained with: {' '.join(record.source)})"
        notes.extend(note for note in [version_note(record.versions)] if note)
        notes.extend(
            _check_against_record(
                {k: v for k, v in explicit.items() if k in recorded},
                record,
                allow_setting_mismatch,
                allow_base_mismatch,
            )
        )
    elif adapter and config:
        notes.append(f"{adapter} has no {RUN_INPUTS_FILE}: settings from the {source}, not checked against training")
    elif adapter:
        notes.extend(_guessed(adapter, explicit, allow_guessed_settings))
    values.update(explicit)
    if not values.get(MODEL_KEY):
        raise SettingsError(
            "no model to evaluate: pass --base-model (hub id or local directory), --adapter-path of "
            f"an adapter with its {RUN_INPUTS_FILE}, or --config CONFIG.yaml"
        )
    if record and not of_base_model:
        notes.extend(_trained_revision(record, values, explicit))
    settings = ModelSettings(
        base_model=str(values[MODEL_KEY]),
        adapter_path=adapter,
        **{key: _typed(key, values[key]) for key in INPUT_KEYS if values.get(key) is not None},
    )
    notes.insert(
        0,
        f"settings from {source}: "
        + ", ".join(f"{key} {value}" for key, value in asdict(settings).items() if key != "adapter_path"),
    )
    data = {key: values.get(key) for key in DATA_LOCATION_KEYS}
    if isinstance(data["dataset"], str):  # from a key=value override: LLaMA-Factory's comma-separated list
        data["dataset"] = [name.strip() for name in data["dataset"].split(",")]
    if data["media_dir"] is None:
        data["media_dir"] = data["dataset_dir"]  # LLaMA-Factory's default
    return ResolvedRun(settings, data, record, notes)
