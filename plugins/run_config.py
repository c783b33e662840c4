"""Read a run the way ``llamafactory-cli`` reads it: a YAML config, then ``key=value`` overrides on top.

    settings = load_run_config("configs/tiny_qwen2vl_demo.yaml", ["video_maxlen=4"])
    settings = load_run_config(None, ["video_maxlen=4"])   # overrides alone (evaluate_model.py without --config)
    argv = llamafactory_argv("configs/tiny_qwen2vl_demo.yaml", ["eval_strategy=no"])   # for LLaMA-Factory's parser

The one reader of run configs: training, preflight, export, evaluation, the demo and the tests all call it, so a
value means the same everywhere (``video_maxlen=4`` is the integer 4, as LLaMA-Factory reads it).

One difference from LLaMA-Factory: OmegaConf reads ``no``, ``off``, ``yes`` and ``on`` as booleans, so
``eval_strategy=no`` (or ``eval_strategy: no`` in the YAML) reaches LLaMA-Factory as False and its
``IntervalStrategy(False)`` fails with a traceback. Here a key whose LLaMA-Factory field takes text and not a
boolean (decided by the field's type in LLaMA-Factory's argument dataclasses) keeps the text as written.
``llamafactory_argv`` gives LLaMA-Factory's own parser (training) the same values, quoted.

A key that none of LLaMA-Factory's argument dataclasses knows, or an empty key (``=4``), is refused in one
sentence, as LLaMA-Factory refuses it unless ALLOW_EXTRA_ARGS is set.
"""

import functools
import json
import os
import types
import typing
from enum import Enum
from pathlib import Path


class RunConfigError(ValueError):
    """The config file or an override cannot be read; the message names it."""


def is_override(item: str) -> bool:
    """Whether a command-line word is a ``key=value`` override (not an option, not a file)."""
    return "=" in item and not item.startswith("-")


@functools.cache
def llamafactory_fields() -> dict[str, typing.Any]:
    """Every key LLaMA-Factory's train and infer parsers know -> its field type (its public argument dataclasses)."""
    from dataclasses import fields

    from llamafactory.hparams import (
        DataArguments,
        FinetuningArguments,
        GeneratingArguments,
        ModelArguments,
        TrainingArguments,
    )

    known = {}
    for cls in (ModelArguments, DataArguments, FinetuningArguments, GeneratingArguments, TrainingArguments):
        hints = typing.get_type_hints(cls)
        known.update({field.name: hints[field.name] for field in fields(cls) if field.init})
    return known


def _takes_text_not_bool(kind: typing.Any) -> bool:
    """A field type that accepts a string (str, a string Enum, or a union holding one) but not a boolean."""
    members = typing.get_args(kind) if typing.get_origin(kind) in (typing.Union, types.UnionType) else (kind,)
    if bool in members:
        return False
    return any(member is str or (isinstance(member, type) and issubclass(member, Enum)) for member in members)


def _raw_yaml(path: Path) -> dict:
    """The YAML's top-level values as the text written (every scalar a string): what ``no`` was before YAML 1.1."""
    import yaml

    raw = yaml.load(path.read_text(encoding="utf-8"), Loader=yaml.BaseLoader)
    return raw if isinstance(raw, dict) else {}


def _text_as_written(settings: dict, config_path: Path | None, overrides: list[str]) -> dict[str, str]:
    """key -> the text written, for each key OmegaConf turned into a boolean although LLaMA-Factory wants text."""
    flipped = [key for key, value in settings.items() if isinstance(value, bool)]
    if not flipped:
        return {}  # the common case: no need to import LLaMA-Factory
    known = llamafactory_fields()
    flipped = [key for key in flipped if key in known and _takes_text_not_bool(known[key])]
    if not flipped:
        return {}
    written = _raw_yaml(config_path) if config_path is not None else {}
    written.update(item.split("=", 1) for item in overrides)  # later overrides win, as in OmegaConf.merge
    return {key: str(written[key]).strip() for key in flipped if key in written}


def _check_keys(settings: dict, config_path: Path | None, overrides: list[str]) -> None:
    """Refuse keys LLaMA-Factory does not know, naming where each was written."""
    if os.environ.get("ALLOW_EXTRA_ARGS", "0").lower() in ("true", "y", "1"):  # LLaMA-Factory's own switch
        return
    unknown = sorted(set(settings) - set(llamafactory_fields()))
    if unknown:
        given = {item.split("=", 1)[0] for item in overrides}
        named = ", ".join(f"{key} (a key=value)" if key in given else f"{key} (in {config_path})" for key in unknown)
        raise RunConfigError(
            f"unknown setting {named}: not a LLaMA-Factory key; check the spelling (ALLOW_EXTRA_ARGS=1 makes "
            "LLaMA-Factory ignore unknown keys)"
        )


def load_run_config(
    config_path: str | Path | None, overrides: list[str] | tuple[str, ...] = (), check_keys: bool = True
) -> dict:
    """The merged settings as a plain dict (OmegaConf, as LLaMA-Factory's ``read_args``); no config: the overrides.

    ``check_keys``: refuse a key LLaMA-Factory does not know (evaluation checks its own overrides and passes False).
    """
    import yaml
    from omegaconf import DictConfig, OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    overrides = list(overrides)
    malformed = [item for item in overrides if not is_override(item)]
    if malformed:
        raise RunConfigError(f"overrides must be key=value, got {' '.join(malformed)}")
    empty = [item for item in overrides if not item.split("=", 1)[0].strip()]
    if empty:
        raise RunConfigError(f"override {' '.join(empty)} has no key: write key=value, e.g. video_maxlen=8")
    where = "overrides"
    path = None
    try:
        layers = [OmegaConf.from_cli(overrides)]
        if config_path is not None:
            path = Path(config_path)
            where = str(path)
            if path.suffix not in (".yaml", ".yml"):
                raise RunConfigError(f"{path}: expected a .yaml config")
            if not path.is_file():
                raise RunConfigError(f"{path}: no such config file")
            loaded = OmegaConf.load(path.absolute())
            if not isinstance(loaded, DictConfig):
                raise RunConfigError(f"{path}: expected a mapping of settings (key: value), found a list")
            layers.insert(0, loaded)
        merged = OmegaConf.merge(*layers)
        settings = OmegaConf.to_container(merged)
        settings.update(_text_as_written(settings, path, overrides))
    except (yaml.YAMLError, OmegaConfBaseException, OSError, UnicodeDecodeError) as error:
        raise RunConfigError(f"{where}: {error}") from None
    if check_keys:
        _check_keys(settings, path, overrides)
    return settings


def llamafactory_argv(config_path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> list[str]:
    """``[config, *overrides]`` for LLaMA-Factory's own parser (``run_exp`` reads sys.argv), with a quoted override
    appended for each text value OmegaConf would read as a boolean, so it reads what load_run_config reads."""
    from omegaconf import OmegaConf

    settings = load_run_config(config_path, overrides)
    as_omegaconf_reads = OmegaConf.to_container(
        OmegaConf.merge(OmegaConf.load(Path(config_path).absolute()), OmegaConf.from_cli(list(overrides)))
    )
    quoted = [
        f"{key}={json.dumps(value)}"
        for key, value in settings.items()
        if isinstance(value, str) and isinstance(as_omegaconf_reads.get(key), bool)
    ]
    return [str(config_path), *overrides, *quoted]
