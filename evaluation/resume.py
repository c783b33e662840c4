"""A rerun into the same --output-dir continues the same run only, keeping the answers made and retrying errors.

    continue_same_run(output_dir, plan, is_main=context.is_main)   # before the model loads; then context.barrier()

The run's identity (evaluation.run_identity: model, adapter weights, settings, the test set's content) is checked
against the folder's run.json on every process and written by rank 0 on a first run; rank 0 then keeps the answers a
rerun can reuse and drops errored samples so they are retried (evaluation.predictions.prepare_resume).
"""

import sys
from pathlib import Path

from evaluation.predictions import prepare_resume
from evaluation.run_identity import check_same_run
from evaluation.run_plan import EvaluationPlan


def continue_same_run(output_dir: Path, plan: EvaluationPlan, is_main: bool) -> None:
    """Refuse an output folder holding another run's predictions; on rank 0 (``is_main``) prepare the resume and say
    what it kept."""
    explain = {
        "test_set": f"The test set {plan.test_data} is not the one these predictions were made for: its "
        "samples (ids, clip paths, prompts or references) or --num-samples changed"
    }
    check_same_run(output_dir, plan.identity(), write=is_main, explain=explain)
    if not is_main:
        return
    resumed = prepare_resume(output_dir, plan.samples, plan.models)
    if resumed.kept or resumed.retried or resumed.redone:
        print(
            f"resuming {output_dir}: {resumed.kept} answers kept, {resumed.retried} errored samples "
            f"retried, {resumed.redone} answers made from another clip path redone",
            file=sys.stderr,
        )
