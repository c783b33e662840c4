"""Read a run the way ``llamafactory-cli`` reads it: a YAML config, then ``key=value`` overrides on top.

    settings = load_run_config("configs/tiny_qwen2vl_demo.yaml", ["video_maxlen=4"])
    settings = load_run_config(None, ["video_maxlen=4"])   # overrides alone (evaluate_model.py without --config)

The one reader of run configs: training, preflight, export, evaluation, the demo and the tests all call it, so a
value means the same everywhere (``video_maxlen=4`` is the integer 4, as LLaMA-Factory reads it).
"""

from pathlib import Path


class RunConfigError(ValueError):
    """The config file or an override cannot be read; the message names it."""


def is_override(item: str) -> bool:
    """Whether a command-line word is a ``key=value`` override (not an option, not a file)."""
    return "=" in item and not item.startswith("-")


def load_run_config(config_path: str | Path | None, overrides: list[str] | tuple[str, ...] = ()) -> dict:
    """The merged settings as a plain dict (OmegaConf, as LLaMA-Factory's ``read_args``); no config: the overrides."""
    import yaml
    from omegaconf import DictConfig, OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    malformed = [item for item in overrides if not is_override(item)]
    if malformed:
        raise RunConfigError(f"overrides must be key=value, got {' '.join(malformed)}")
    where = "overrides"
    try:
        layers = [OmegaConf.from_cli(list(overrides))]
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
    except (yaml.YAMLError, OmegaConfBaseException, OSError, UnicodeDecodeError) as error:
        raise RunConfigError(f"{where}: {error}") from None
    return OmegaConf.to_container(merged)
