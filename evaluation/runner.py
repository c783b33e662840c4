"""The generation loop: batches from the DataLoader, one generate call per model, records written as they come.

    generate_shard(model, pre, plan, context, output_dir, num_workers)   # evaluate_model.py's generation stage

generate_shard hands run_generation this process's share of the samples (every N-th under torchrun) and its own
predictions file; what an earlier run of the same run answered is skipped.
"""

import contextlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tqdm import tqdm

from data.eval_samples import Sample
from evaluation.distributed import DistributedContext
from evaluation.generation import GenerationSettings, SampleInputs, generate_batch, make_loader
from evaluation.inputs import Preprocessing
from evaluation.predictions import Prediction, PredictionWriter, read_existing
from evaluation.run_plan import EvaluationPlan


def _record(item: dict[str, Any], model_name: str, raw: str | None, special_tokens: Sequence[str]) -> Prediction:
    return Prediction.of_sample(item["sample"], model_name, raw, item["error"], item["frames"], special_tokens)


def _as_model(model, model_name: str):
    """Context in which ``model`` answers as ``model_name``: the base is the PEFT model with its adapter off."""
    if model_name == "base" and hasattr(model, "disable_adapter"):
        return model.disable_adapter()
    return contextlib.nullcontext()


def run_generation(
    model,
    pre: Preprocessing,
    samples: Sequence[Sample],
    model_names: Sequence[str],
    settings: GenerationSettings,
    cutoff_len: int,
    output_dir: Path,
    writer: PredictionWriter,
    done: set[tuple[str, str]],
    num_workers: int,
    show_progress: bool = True,
) -> None:
    """Generate and record every (model, sample) pair not in ``done``; the same inputs serve every model."""
    from transformers import set_seed

    set_seed(settings.seed)
    todo = [s for s in samples if any((m, s.id) not in done for m in model_names)]
    special_tokens = list(pre.tokenizer.all_special_tokens)
    loader = make_loader(SampleInputs(todo, pre, cutoff_len, output_dir), settings.batch_size, num_workers)
    with tqdm(total=len(todo), unit="sample", desc="generating", disable=not show_progress) as progress:
        for batch in loader:
            answers = {}
            if batch["ready"]:
                for name in model_names:
                    with _as_model(model, name):
                        answers[name] = generate_batch(model, batch["model_inputs"], settings, pre)
            for name in model_names:
                for item in batch["failed"]:
                    if (name, item["sample"].id) not in done:
                        writer.write(_record(item, name, None, special_tokens))
                for item, raw in zip(batch["ready"], answers.get(name, []), strict=True):
                    if (name, item["sample"].id) not in done:
                        writer.write(_record(item, name, raw, special_tokens))
            progress.update(len(batch["ready"]) + len(batch["failed"]))


def generate_shard(
    model, pre: Preprocessing, plan: EvaluationPlan, context: DistributedContext, output_dir: Path, num_workers: int
) -> None:
    """This process's share of ``plan``'s samples, appended to its predictions file as the answers come; what an
    earlier run of the same run answered (any process's file) is skipped."""
    done = set(read_existing(output_dir))
    with PredictionWriter(context.predictions_path(output_dir)) as writer:
        run_generation(
            model,
            pre,
            context.shard(plan.samples),
            plan.models,
            plan.generation,
            plan.settings.cutoff_len,
            output_dir,
            writer,
            done,
            num_workers,
            show_progress=context.is_main,
        )
