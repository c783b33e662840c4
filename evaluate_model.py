"""Evaluate a Qwen2-VL video captioner (base model, or base + LoRA adapter) on a ShareGPT test set.

    python evaluate_model.py --base-model Qwen/Qwen2-VL-7B-Instruct --adapter-path saves/qwen2vl_7b_lora_sft \
        --test-data data/webvid/webvid_test.json --video-dir . --output-dir results/ --num-samples 10
    python evaluate_model.py --config configs/tiny_qwen2vl_demo.yaml --compare-base       # what training used
    python evaluate_model.py --adapter-path saves/qwen2vl_7b_lora_sft                    # its run_inputs.json
    python evaluate_model.py --config CONFIG.yaml video_maxlen=4 cutoff_len=4096         # key=value overrides
    python evaluate_model.py --score-only results/predictions.jsonl                       # or LF's predictions file
    torchrun --nproc_per_node 4 evaluate_model.py --config CONFIG.yaml                    # one shard per process

Inputs are built exactly as training builds them (LLaMA-Factory's template + our ``qwen2_vl_exact`` plugin), and
every sample's video tokens are checked against its features before generation. Writes to --output-dir:
predictions.jsonl (as it goes; a rerun resumes), metrics.json (coco-caption BLEU-1..4, METEOR, ROUGE-L, CIDEr,
counts, settings, model and adapter identity), report.md / report.html with the frames the model saw.

Settings (evaluation.settings): the adapter's run_inputs.json, written by plugins.train, says what it was trained
with (base model, template, video_*, cutoff_len, datasets); it is used by default and printed, and a key=value,
--base-model or --template that contradicts it is refused unless --allow-setting-mismatch (--allow-base-mismatch: the
base model only). Without --test-data the test set is the held-out split of the trained dataset (X_train -> X_test
in its dataset_dir's dataset_info.json, clip paths relative to its media_dir; data.held_out).

A rerun into the same --output-dir continues the same run only (model, adapter weights, settings and the test set's
content, see evaluation.run_identity): it keeps the answers made and retries samples that errored. An adapter whose
adapter_config.json names another base model is refused (--allow-base-mismatch to override).

Exit status: 0 when every sample was scored. 1 when no clip exists under --video-dir (before loading the model,
naming the folder the paths look relative to), when every sample errored, or when some errored (outputs are written,
the count and reasons printed) unless --allow-errors; 2 for a bad command line; 130 on Ctrl-C (one line; a rerun
continues). See evaluation.outcome.
"""

import argparse

from data.eval_samples import InvalidTestSetError
from evaluation import command_line
from evaluation.adapter_files import AdapterError
from evaluation.distributed import init_distributed, note, shutdown_distributed
from evaluation.metrics import MetricsError, java_bin_dir
from evaluation.model import load_for_evaluation
from evaluation.predictions import PredictionsFileError
from evaluation.ptb_tokenizer import TokenizerError
from evaluation.results import score_and_report
from evaluation.resume import continue_same_run
from evaluation.run_plan import plan_run
from evaluation.runner import generate_shard
from evaluation.score_only import score_only
from evaluation.settings import SettingsError
from plugins.model_source import ModelSourceError
from plugins.run_inputs import RunInputsError
from plugins.run_log import log_libraries_to
from plugins.video_settings import SettingsError as VideoSettingsError

EVALUATE_LOG_NAME = "evaluate.log"  # everything the libraries print; the console keeps warnings and our lines


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    return command_line.parse_args(argv, __doc__)


def main(argv: list[str] | None = None) -> dict | None:
    """Parse the command line, then score only or evaluate; a problem with the user's input exits with a message."""
    args = parse_args(argv)
    try:
        command_line.check_output_dir(args.output_dir)
        java_bin_dir()  # scoring needs Java: say so before anything is read or generated
        if args.score_only:
            return score_only(args.score_only, args.output_dir, args.bootstrap)
        return evaluate(args)
    except (
        MetricsError,
        TokenizerError,
        InvalidTestSetError,
        AdapterError,
        PredictionsFileError,
        SettingsError,
        VideoSettingsError,
        ModelSourceError,
        RunInputsError,
        command_line.OutputDirError,
    ) as error:
        raise SystemExit(f"error: {error}") from None
    except KeyboardInterrupt:
        if args.score_only:
            note("scoring interrupted (Ctrl-C): nothing was written")
        else:
            note(
                f"evaluation interrupted (Ctrl-C): the answers made so far are kept in {args.output_dir}; "
                "the same command continues them"
            )
        raise SystemExit(130) from None


def evaluate(args: argparse.Namespace) -> dict | None:
    """Generate (resuming what is done), score and report; returns the summary on rank 0."""
    plan = plan_run(args)  # everything that can be checked before a model loads
    context = init_distributed()
    continue_same_run(args.output_dir, plan, is_main=context.is_main)  # the same run only: answers kept, errors retried
    context.barrier()
    log_libraries_to(args.output_dir / EVALUATE_LOG_NAME)
    model, pre = load_for_evaluation(plan, context.device, keep_base=args.compare_base)  # the adapter must fit first
    generate_shard(model, pre, plan, context, args.output_dir, args.num_workers)
    context.barrier()
    summary, failed = None, False
    if context.is_main:
        summary, failed = score_and_report(plan, args.output_dir, context.world_size, args.bootstrap, args.allow_errors)
    context.barrier()
    shutdown_distributed()
    if failed:  # after every rank has finished: outputs are written, the exit status says they are incomplete
        raise SystemExit(1)
    return summary


if __name__ == "__main__":
    main()
