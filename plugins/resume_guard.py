"""A run continues a checkpoint only under the input settings that checkpoint was trained with.

    note = check_resume(config, input_settings(config))   # None: a fresh start; else "resuming from ..."

LLaMA-Factory resumes by itself from the last ``checkpoint-N`` in ``output_dir`` (``overwrite_output_dir`` false),
or from an explicit ``resume_from_checkpoint``, whatever the settings now say. A rerun with ``video_maxlen=4`` into
an 8-frame run's folder would train its remaining steps on 4 frames and leave a run_inputs.json claiming 4 frames for
weights mostly trained on 8. So before training (and before the record is rewritten), the settings the checkpoint's
run recorded (``run_inputs.json`` in the checkpoint's run folder) are compared with this run's: any input setting
that differs, or no record at all, refuses the resume with the keys (old -> new) and the two ways out.
Training length, learning rate and the like are not input settings: they may change on a resume. A checkpoint the
trainer did not finish writing (no ``trainer_state.json``, which it writes last: the run was killed while saving)
is refused too, naming the last complete checkpoint to resume from instead.
"""

import json
from pathlib import Path
from typing import Any

from plugins.run_inputs import RUN_INPUTS_FILE, read_run_inputs

TRAINER_STATE = "trainer_state.json"  # transformers writes it last into checkpoint-N


class ResumeRefused(ValueError):
    """This run would continue a checkpoint trained with other (or unknown) input settings; the message says which
    and how to start over."""


def continued_checkpoint(config: dict[str, Any]) -> Path | None:
    """The checkpoint this run will continue, as LLaMA-Factory decides it: an explicit ``resume_from_checkpoint``,
    else (``overwrite_output_dir`` false) the last ``checkpoint-N`` in ``output_dir``; None for a fresh start."""
    from transformers.trainer_utils import get_last_checkpoint

    if config.get("resume_from_checkpoint"):
        return Path(str(config["resume_from_checkpoint"]))
    output_dir = Path(str(config.get("output_dir") or "."))
    if config.get("overwrite_output_dir") or not output_dir.is_dir():
        return None
    last = get_last_checkpoint(str(output_dir))
    return Path(last) if last else None


def is_complete(checkpoint: Path) -> bool:
    """Whether the trainer finished writing ``checkpoint`` (its trainer_state.json is there and is JSON)."""
    try:
        json.loads((checkpoint / TRAINER_STATE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return True


def last_complete_checkpoint(output_dir: Path) -> Path | None:
    """The highest-numbered complete ``checkpoint-N`` in ``output_dir``, or None."""
    numbered = [path for path in output_dir.glob("checkpoint-*") if path.name.split("-", 1)[1].isdigit()]
    complete = [path for path in numbered if path.is_dir() and is_complete(path)]
    return max(complete, key=lambda path: int(path.name.split("-", 1)[1]), default=None)


def _refuse_incomplete(checkpoint: Path, explicit: bool) -> None:
    """ResumeRefused naming what to resume from instead, when the trainer did not finish writing ``checkpoint``."""
    if is_complete(checkpoint):
        return
    earlier = last_complete_checkpoint(checkpoint.parent)
    if earlier is None:
        instead = "set overwrite_output_dir=true to start over" + ("" if explicit else f", or delete {checkpoint}")
    elif explicit:
        instead = f"pass resume_from_checkpoint={earlier}, the last complete one"
    else:
        instead = f"delete it to resume from {earlier}, the last complete one (or resume_from_checkpoint={earlier})"
    raise ResumeRefused(
        f"cannot resume {checkpoint}: the checkpoint is incomplete (no readable {TRAINER_STATE}: the run was killed "
        f"while saving it?); {instead}"
    )


def changed_settings(recorded: dict[str, Any], settings: dict[str, Any]) -> list[str]:
    """``key old -> new`` for every input setting both runs name and give different values."""
    return [
        f"{key} {recorded[key]} -> {value}"
        for key, value in settings.items()
        if key in recorded and recorded[key] != value
    ]


def check_resume(config: dict[str, Any], settings: dict[str, Any]) -> str | None:
    """None when the run starts fresh; the line to print when it continues a checkpoint trained with ``settings``
    (``input_settings(config)``); ResumeRefused when that checkpoint was trained with other or unknown settings."""
    checkpoint = continued_checkpoint(config)
    if checkpoint is None:
        return None
    _refuse_incomplete(checkpoint, explicit=bool(config.get("resume_from_checkpoint")))
    run_dir = checkpoint.parent  # checkpoint-N lives in the output_dir of the run that saved it
    ways_out = (
        f"train into a new output_dir, or set overwrite_output_dir=true to start over in {run_dir} on purpose "
        "(its checkpoints are then replaced)"
    )
    record = read_run_inputs(run_dir)
    if record is None:
        raise ResumeRefused(
            f"cannot resume {checkpoint}: {run_dir} has no {RUN_INPUTS_FILE}, so the settings it was trained with "
            f"are unknown; {ways_out}"
        )
    changed = changed_settings(record.settings, settings)
    if changed:
        raise ResumeRefused(
            f"cannot resume {checkpoint}: it was trained with other settings than this run's: {', '.join(changed)} "
            f"(its record: {record.path}); {ways_out}"
        )
    if config.get("resume_from_checkpoint"):
        return f"resuming from {checkpoint}"
    return f"resuming from {checkpoint} (the last checkpoint in output_dir; delete it to start over)"
