"""Errors that must not pass quietly: clips that are not where the test set says, and samples that errored.

The rule (evaluate_model.py's exit status):

- no clip of the test set exists under --video-dir: stop before loading the model, saying how many were found and,
  when the paths resolve under another folder (the current directory, the test set's folder or one above them),
  which --video-dir to pass instead;
- some clips are missing: a warning with the count up front; they are recorded as errors;
- after generation, every sample errored: exit 1 (nothing was scored);
- some samples errored: the outputs are written and the count and reasons printed; exit 1 unless --allow-errors,
  because the metrics then cover only part of the test set. A rerun retries the errored samples and keeps the rest.
"""

from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from data.eval_samples import InvalidTestSetError, Sample
from frame_store.plugin_hook import clip_available
from video.clip_span import clip_file

CHECKED_PATHS = 20  # relative clip paths tried under each candidate folder
SHOWN = 3  # errored samples named in a message


def _candidate_dirs(video_dir: Path, test_data: Path) -> list[Path]:
    """Folders a test set's relative paths are often relative to, nearest first, without ``video_dir`` itself."""
    cwd, test_dir = Path.cwd(), test_data.absolute().parent
    candidates = [cwd, test_dir, *test_dir.parents, *cwd.parents, *video_dir.absolute().parents]
    unique = list(dict.fromkeys(candidates))
    return [folder for folder in unique if folder != video_dir.absolute()]


def suggest_video_dir(samples: Sequence[Sample], video_dir: Path, test_data: Path) -> tuple[Path, int, int] | None:
    """(folder, found, checked): the folder under which most of the relative clip paths exist, if any does."""
    relative = [sample.video for sample in samples if not Path(sample.video).is_absolute()][:CHECKED_PATHS]
    if not relative:
        return None
    scored = [
        (sum((folder / clip_file(path)).is_file() for path in relative), folder)  # a span's file: its video
        for folder in _candidate_dirs(video_dir, test_data)
    ]
    found, folder = max(scored, key=lambda item: item[0], default=(0, None))
    return (folder, found, len(relative)) if found else None


def missing_clips_message(
    samples: Sequence[Sample], missing: Sequence[Sample], video_dir: Path, test_data: Path
) -> str:
    """ "K of N clips found under DIR (e.g. PATH is missing)", and where the paths look relative to instead."""
    where = str(video_dir) if video_dir.is_absolute() else f"{video_dir} ({video_dir.absolute()})"
    message = (
        f"{len(samples) - len(missing)} of {len(samples)} clips found under {where} "
        f"(e.g. {missing[0].video_path} is missing)"
    )
    suggestion = suggest_video_dir(missing, video_dir, test_data)
    if suggestion:
        folder, found, checked = suggestion
        return (
            f"{message}; the test set's paths look relative to {folder} ({found} of {checked} checked are "
            f"there): pass --video-dir {folder}"
        )
    if all(Path(sample.video).is_absolute() for sample in missing):
        return f"{message}; the test set's paths are absolute: are the clips downloaded, on this machine?"
    return (
        f"{message}; --video-dir must be the folder the test set's video paths are relative to (LLaMA-Factory's "
        "media_dir): are the clips downloaded?"
    )


def check_clips_exist(
    samples: Sequence[Sample], video_dir: Path, test_data: Path, store_root: Path | None
) -> str | None:
    """Raise when no clip exists (nothing could be evaluated); a warning when some are missing; else None. A clip
    counts as there when it is on disk or a store under ``store_root`` (None: none) holds it."""
    missing = [sample for sample in samples if not clip_available(sample.video_path, store_root)]
    if not missing:
        return None
    message = missing_clips_message(samples, missing, video_dir, test_data)
    if len(missing) == len(samples):
        raise InvalidTestSetError(f"no clip of {test_data} was found, nothing to evaluate: {message}")
    return f"{message}; the missing ones are recorded as errors and not scored"


def errors_message(records: Sequence[dict[str, Any]]) -> str | None:
    """ "E of N samples errored ...": the count, the commonest reasons and a few ids; None when none errored."""
    by_sample: dict[str, dict[str, Any]] = {}
    for record in records:
        by_sample.setdefault(str(record["id"]), record)
    errored = [record for record in by_sample.values() if record.get("status") != "ok"]
    if not errored:
        return None
    reasons = Counter(str(record.get("error")).split(":", 1)[0] for record in errored)
    examples = "; ".join(f"{record['id']}: {str(record.get('error'))[:200]}" for record in errored[:SHOWN])
    return (
        f"{len(errored)} of {len(by_sample)} samples errored and are not scored "
        f"({', '.join(f'{count} × {reason}' for reason, count in reasons.most_common())}), e.g. {examples}"
    )


def exit_message(records: Sequence[dict[str, Any]], allow_errors: bool) -> tuple[str | None, bool]:
    """(message, fail): what to say about errored samples and whether the run must exit non-zero."""
    message = errors_message(records)
    if message is None:
        return None, False
    if all(record.get("status") != "ok" for record in records):
        return f"every sample errored, nothing was scored: {message}", True
    if allow_errors:
        return f"{message}; the metrics cover the other samples only (--allow-errors)", False
    return (
        f"{message}; the metrics cover the other samples only. Fix the clips and rerun into the same "
        "--output-dir (errored samples are retried, answers kept), or pass --allow-errors to accept"
    ), True
