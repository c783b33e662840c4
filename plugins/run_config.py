"""Read a run the way ``llamafactory-cli`` reads it: a YAML config, then ``key=value`` overrides on top.

    settings = load_run_config("configs/tiny_qwen2vl_demo.yaml", ["video_maxlen=4"])
"""

from pathlib import Path


class RunConfigError(ValueError):
    """The config file or an override cannot be read; the message names it."""


def load_run_config(config_path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> dict:
    """The merged settings as a plain dict (OmegaConf, as LLaMA-Factory's ``read_args``)."""
    from omegaconf import OmegaConf

    path = Path(config_path)
    if path.suffix not in (".yaml", ".yml"):
        raise RunConfigError(f"{path}: expected a .yaml config")
    if not path.is_file():
        raise RunConfigError(f"{path}: no such config file")
    malformed = [item for item in overrides if "=" not in item]
    if malformed:
        raise RunConfigError(f"overrides must be key=value, got {' '.join(malformed)}")
    try:
        merged = OmegaConf.merge(OmegaConf.load(path.absolute()), OmegaConf.from_cli(list(overrides)))
    except Exception as error:  # OmegaConf/YAML errors have no common base worth naming
        raise RunConfigError(f"{path}: {error}") from None
    return OmegaConf.to_container(merged)
