"""run.json: what made the predictions in an output folder, so a rerun continues only the same run.

The identity is the model and adapter (sha256 of its weights), the preprocessing and decoding settings, and the
test set by content: a sha256 over every sample used (id, clip path as written, prompt, every reference), so an
edited reference or prompt is noticed even when the file keeps its path, and a moved but unchanged test set still
resumes. A sample with one reference hashes as it did before multi-reference test sets, so earlier runs resume.
Where the clips are read from (--video-dir) is not part of it: each answer records its clip path and answers made
from another path are generated again (evaluation.predictions.prepare_resume).
"""

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from data.eval_samples import Sample
from data.publish import write_text_atomic

RUN_FILE = "run.json"


@dataclass(frozen=True)
class RunIdentity:
    """What made the predictions in an output folder (its run.json): a rerun resumes only when all of it is equal."""

    settings: dict[str, Any]  # evaluation.settings.ModelSettings: model, adapter path, template, video_*, cutoff_len
    generation: dict[str, Any]  # evaluation.generation.GenerationSettings
    models: list[str]  # "base", "adapter"
    adapter_sha256: str | None  # the adapter's weights
    test_set: dict[str, Any]  # fingerprint_test_set: the samples by content

    def to_json(self) -> dict[str, Any]:
        """The form it takes on disk (tuples become lists, paths text), so equal runs compare equal."""
        return json.loads(json.dumps(asdict(self), default=str))

    @classmethod
    def read(cls, output_dir: Path) -> "RunIdentity | None":
        """The identity in ``output_dir/run.json``; None when there is none or it is not one of ours."""
        try:
            data = json.loads((Path(output_dir) / RUN_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        names = [field.name for field in fields(cls)]
        if not isinstance(data, dict) or not isinstance(data.get("settings"), dict):
            return None
        return cls(**{name: data.get(name) for name in names})


def fingerprint_test_set(samples: Sequence[Sample]) -> dict[str, Any]:
    """{"sha256", "samples"} of the samples evaluated, independent of the file's path and formatting."""
    content = [
        [sample.id, sample.video, sample.prompt, sample.reference]
        + ([list(sample.references)] if len(sample.references) > 1 else [])
        for sample in samples
    ]
    digest = hashlib.sha256(json.dumps(content, ensure_ascii=False).encode("utf-8")).hexdigest()
    return {"sha256": digest, "samples": len(samples)}


def check_same_run(output_dir: Path, run: RunIdentity, write: bool, explain: Mapping[str, str] | None = None) -> None:
    """Refuse to resume into ``output_dir`` if its predictions came from another model, adapter, settings or test set.

    ``run`` is written to run.json by the first run (``write``: rank 0 only); a rerun resumes only when it is
    identical, so answers of an older adapter are never scored as the new one's. ``explain`` maps a field of ``run``
    to a sentence said when that field changed.
    """
    path = output_dir / RUN_FILE
    current = run.to_json()
    if path.is_file():
        try:
            previous = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise SystemExit(
                f"error: {path} cannot be read ({error}), so it is unknown which run made the predictions in "
                f"{output_dir}; pass a new --output-dir, or delete {output_dir} to start over"
            ) from None
        if not isinstance(previous, dict):
            raise SystemExit(
                f"error: {path} is not a run.json evaluation wrote (no JSON object); pass a new --output-dir, or "
                f"delete {output_dir} to start over"
            )
        if previous != current:
            changed = sorted(key for key in previous.keys() | current.keys() if previous.get(key) != current.get(key))
            reasons = "".join(f" {explain[key]}." for key in changed if explain and key in explain)
            raise SystemExit(
                f"error: {output_dir} holds predictions of a different run (changed: "
                f"{', '.join(changed)}).{reasons} Pass a new --output-dir, or delete {output_dir} to "
                "start over"
            )
        return
    if any(output_dir.glob("predictions*.jsonl")):
        raise SystemExit(
            f"error: {output_dir} holds predictions but no {RUN_FILE} saying what made them; "
            "pass a new --output-dir, or delete it to start over"
        )
    if write:
        output_dir.mkdir(parents=True, exist_ok=True)
        write_text_atomic(path, json.dumps(current, indent=2, sort_keys=True) + "\n")
