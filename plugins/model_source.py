"""Where a run's model comes from, checked before any long work starts: a local folder, or a hub id.

A hub id is resolved exactly as transformers resolves it, from the user's own environment (``HF_HOME``,
``HF_HUB_CACHE``, ``HF_HUB_OFFLINE``, ``HF_TOKEN``): a cached snapshot is used, otherwise it is downloaded.
This module only turns the failures a user can fix into one sentence each, instead of a library traceback:
the embedded tiny model not built yet, a local folder that does not exist, a hub id that offline mode cannot find.
Where HF_HUB_OFFLINE is not set, one short request tells whether the hub answers at all: on a node without internet
a cached model would otherwise be looked up online (and retried) for minutes, so the fix is named at once.

    python -c "from plugins.model_source import describe_model_source as d; print(d('Qwen/Qwen2-VL-7B-Instruct'))"
"""

import os
from pathlib import Path

from huggingface_hub import constants, try_to_load_from_cache
from huggingface_hub.utils import HFValidationError, validate_repo_id

TINY_MODEL_DIR = Path(__file__).resolve().parents[1] / "models" / "tiny-qwen2vl"
# the other families' embedded tiny models (models/tiny_qwen2_5_vl.py, ...); `make tiny-model` builds all
FAMILY_TINY_MODEL_DIRS = tuple(
    TINY_MODEL_DIR.parent / name for name in ("tiny-qwen2_5vl", "tiny-qwen3vl", "tiny-qwen3_5")
)


HUB_PROBE_SECONDS = 3.0  # one connection attempt; transformers' own retries take minutes on a node without internet


class ModelSourceError(ValueError):
    """The model named by a config cannot be loaded; the message says what to do."""


def _looks_like_a_path(name: str) -> bool:
    """True for names transformers would never send to the hub: absolute, ./ ../ ~, or an existing parent folder."""
    if name.startswith(("/", ".", "~")) or name.count("/") != 1:
        return True
    try:
        validate_repo_id(name)
    except HFValidationError:
        return True
    return Path(name.split("/", 1)[0]).is_dir()  # e.g. models/tiny-qwen2vl, not an org on the hub


def describe_model_source(name_or_path: str, key: str = "model_name_or_path", revision: str | None = None) -> str:
    """'local folder ...' or 'hub id ... (cached|downloaded on first use)'; raises ModelSourceError with the fix.
    ``revision`` (a branch, tag or commit; None: main) is where a hub id is looked up; a local folder ignores it."""
    path = Path(os.path.expanduser(name_or_path))
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise ModelSourceError(f"{key}={name_or_path}: the folder has no config.json, so it holds no model")
        return f"local folder {path.resolve()}"
    if path.resolve() == TINY_MODEL_DIR or path.resolve() in FAMILY_TINY_MODEL_DIRS:
        raise ModelSourceError(f"{key}={name_or_path}: the embedded tiny model is not built yet; run `make tiny-model`")
    if path.exists():
        raise ModelSourceError(f"{key}={name_or_path} is a file; it must be a model folder or a hub id (ORG/NAME)")
    if _looks_like_a_path(name_or_path):
        raise ModelSourceError(
            f"{key}={name_or_path}: no such folder (from {Path.cwd()}); give an existing model folder or a hub id "
            "such as Qwen/Qwen2-VL-7B-Instruct"
        )
    cached = try_to_load_from_cache(name_or_path, "config.json", revision=revision)
    snapshot = Path(cached).parent if isinstance(cached, str) else None
    at = f" at revision {revision}" if revision and revision != "main" else ""
    if snapshot is None and constants.HF_HUB_OFFLINE:
        raise ModelSourceError(
            f"{key}={name_or_path}{at}: not in the Hugging Face cache {constants.HF_HUB_CACHE} and HF_HUB_OFFLINE is "
            f"set; {_download_fix(name_or_path, revision)}, or unset HF_HUB_OFFLINE"
        )
    if not constants.HF_HUB_OFFLINE and not hub_reachable():
        # transformers would retry the hub for minutes before falling back to the cache (or failing)
        if snapshot is not None:
            raise ModelSourceError(
                f"{key}={name_or_path}: the hub {constants.ENDPOINT} cannot be reached; the model is in the cache "
                f"({snapshot}), so set HF_HUB_OFFLINE=1 to load it from there"
            )
        raise ModelSourceError(
            f"{key}={name_or_path}{at}: not in the Hugging Face cache {constants.HF_HUB_CACHE} and the hub "
            f"{constants.ENDPOINT} cannot be reached; {_download_fix(name_or_path, revision)}"
        )
    if snapshot is not None:
        return f"hub id {name_or_path}{at}, cached snapshot {snapshot}"
    return f"hub id {name_or_path}{at}, downloaded into {constants.HF_HUB_CACHE} on first use"


def _download_fix(name: str, revision: str | None = None) -> str:
    command = f"hf download {name}" + (f" --revision {revision}" if revision and revision != "main" else "")
    return (
        f"download it first where the hub is reachable (`{command}`), or point HF_HOME/HF_HUB_CACHE at "
        "the cache that holds it"
    )


def hub_reachable(timeout_s: float = HUB_PROBE_SECONDS) -> bool:
    """One short request to the hub (HF_ENDPOINT, through the user's proxy settings): does anything answer?"""
    import httpx
    from huggingface_hub.utils import get_session

    try:
        get_session().head(constants.ENDPOINT, timeout=timeout_s)
    except httpx.TransportError:  # refused, unreachable, timed out, DNS failure
        return False
    return True
