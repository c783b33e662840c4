"""The base model of a run as the user named it, for its run_inputs.json (plugins.run_inputs).

    base_model_identity("Qwen/Qwen2-VL-7B-Instruct", "main")
    # {"as_given": "Qwen/Qwen2-VL-7B-Instruct", "path": None, "hub_id": "Qwen/Qwen2-VL-7B-Instruct",
    #  "revision": "main", "commit": "<40 hex of the cached snapshot>"}
    base_model_identity("models/tiny-qwen2vl", "main")
    # {"as_given": "models/tiny-qwen2vl", "path": "/abs/.../models/tiny-qwen2vl", "hub_id": None, ...}

The record's ``model_name_or_path`` is what training loaded (a local folder made absolute); this says what that was
by name, so a copied adapter whose recorded folder is missing can be evaluated on the same hub model, at the same
snapshot, instead of whatever another checkout holds. A local folder inside a hub cache
(``.../models--ORG--NAME/snapshots/<commit>``) names its hub id and commit; a hub id names the commit of its cached
snapshot for ``revision`` (None when it is not cached yet: it is downloaded at training's start).
"""

import os
import re
from pathlib import Path
from typing import Any

SNAPSHOT = re.compile(r"models--(?P<owner>[^/]+?)--(?P<name>[^/]+)/snapshots/(?P<commit>[0-9a-f]{40})/?$")


def _from_snapshot(folder: str) -> tuple[str | None, str | None]:
    """(hub id, commit) of a hub-cache snapshot folder, or (None, None)."""
    match = SNAPSHOT.search(Path(folder).as_posix())
    return (f"{match['owner']}/{match['name']}", match["commit"]) if match else (None, None)


def base_model_identity(as_given: str, revision: str | None) -> dict[str, Any]:
    """``as_given`` (the config's model_name_or_path) with its absolute folder, hub id, revision and snapshot commit,
    each None where it does not apply or is not known."""
    folder = os.path.expanduser(as_given)
    identity: dict[str, Any] = {
        "as_given": as_given,
        "path": None,
        "hub_id": None,
        "revision": revision,
        "commit": None,
    }
    if os.path.isdir(folder):
        identity["path"] = os.path.abspath(folder)
        identity["hub_id"], identity["commit"] = _from_snapshot(identity["path"])
        return identity
    from huggingface_hub import try_to_load_from_cache
    from huggingface_hub.utils import HFValidationError

    identity["hub_id"] = as_given
    try:
        cached = try_to_load_from_cache(as_given, "config.json", revision=revision)
    except HFValidationError:  # not a hub id either: training stops on it with its own message
        return identity
    if isinstance(cached, str):
        identity["commit"] = _from_snapshot(os.path.dirname(cached))[1]
    return identity
