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
import sys
from dataclasses import asdict
from pathlib import Path

from data.eval_samples import InvalidTestSetError, load_test_set
from data.held_out import held_out_test_set
from evaluation import command_line
from evaluation.adapter_files import AdapterError, inspect_adapter
from evaluation.base_model import check_adapter_base
from evaluation.distributed import init_distributed, is_main_process, shutdown_distributed
from evaluation.generation import GenerationSettings
from evaluation.inputs import load_preprocessing
from evaluation.metrics import MetricsError, java_bin_dir
from evaluation.model import attach_adapter, load_base_model
from evaluation.outcome import check_clips_exist, exit_message
from evaluation.predictions import (
    PredictionsFileError,
    PredictionWriter,
    merge_predictions,
    prepare_resume,
    read_existing,
)
from evaluation.ptb_tokenizer import TokenizerError
from evaluation.report import reports_line, write_report
from evaluation.run_identity import RunIdentity, check_same_run, fingerprint_test_set
from evaluation.runner import run_generation
from evaluation.score_only import score_only
from evaluation.scoring import score_records, write_metrics
from evaluation.settings import SettingsError, resolve_run
from evaluation.summary_table import summary_table
from plugins.frame_source import frame_source, store_root
from plugins.model_source import ModelSourceError, describe_model_source
from plugins.run_inputs import RunInputsError
from plugins.run_log import log_libraries_to
from plugins.video_settings import SettingsError as VideoSettingsError
from plugins.video_settings import check_video_settings

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


def note(message: str) -> None:
    """A line for the person running this, printed once however many processes torchrun started."""
    if is_main_process():
        print(message, file=sys.stderr)


def choose_test_set(args: argparse.Namespace, data: dict) -> None:
    """Fill in --test-data (the held-out split of the trained dataset) and --video-dir (the run's media_dir) when
    they are not given, saying which test set it is."""
    if args.test_data is None:
        args.test_data = held_out_test_set(data["dataset"], data["dataset_dir"])
        note(f"test set: {args.test_data} (held-out split of {','.join(data['dataset'])})")
    if args.video_dir is None:
        args.video_dir = Path(data["media_dir"] or ".")


def evaluate(args: argparse.Namespace) -> dict | None:
    """Generate (resuming what is done), score and report; returns the summary on rank 0."""
    # Check everything that can be checked before loading a model
    resolved = resolve_run(
        args.config,
        args.overrides,
        base_model=args.base_model,
        adapter_path=args.adapter_path,
        template=args.template,
        allow_setting_mismatch=args.allow_setting_mismatch,
        allow_base_mismatch=args.allow_base_mismatch,
        allow_guessed_settings=args.allow_guessed_settings,
    )
    settings = resolved.settings
    if args.compare_base and not settings.adapter_path:
        raise SystemExit("--compare-base needs an adapter: pass --adapter-path or a --config with output_dir")
    check_video_settings(asdict(settings))
    for settings_note in resolved.notes:
        note(settings_note)
    choose_test_set(args, resolved.data)
    frame_root = store_root(resolved.data)  # frames from the run's frame store where it holds the clip
    samples = load_test_set(args.test_data, args.video_dir, args.num_samples)
    clips_warning = check_clips_exist(samples, args.video_dir, args.test_data, frame_root)  # raises if none exists
    adapter = inspect_adapter(settings.adapter_path) if settings.adapter_path else None
    allow_base = args.allow_base_mismatch or args.allow_setting_mismatch
    base_warning = check_adapter_base(adapter, settings.base_model, allow_base) if adapter else None
    note(f"model: {describe_model_source(settings.base_model, 'base model')}")
    generation = GenerationSettings(
        args.batch_size,
        args.num_beams,
        args.max_new_tokens,
        args.repetition_penalty,
        args.no_repeat_ngram_size,
        args.min_new_tokens,
        args.seed,
    )
    names = ["base", "adapter"] if args.compare_base else ["adapter"] if adapter else ["base"]

    # A rerun continues only the same run: same model, adapter weights, settings and test set content
    context = init_distributed()
    for warning in (clips_warning, base_warning) if context.is_main else ():
        if warning:
            print(f"WARNING: {warning}", file=sys.stderr)
    run = RunIdentity(
        settings=asdict(settings),
        generation=asdict(generation),
        models=names,
        adapter_sha256=adapter.sha256 if adapter else None,
        test_set=fingerprint_test_set(samples),
    )
    explain = {
        "test_set": f"The test set {args.test_data} is not the one these predictions were made for: its "
        "samples (ids, clip paths, prompts or references) or --num-samples changed"
    }
    check_same_run(args.output_dir, run, write=context.is_main, explain=explain)
    if context.is_main:  # keep the answers made so far, retry the samples that errored
        resumed = prepare_resume(args.output_dir, samples, names)
        if resumed.kept or resumed.retried or resumed.redone:
            print(
                f"resuming {args.output_dir}: {resumed.kept} answers kept, {resumed.retried} errored samples "
                f"retried, {resumed.redone} answers made from another clip path redone",
                file=sys.stderr,
            )
    context.barrier()

    # Load processor/template (base model only) and model; the adapter must fit before anything is generated
    log_libraries_to(Path(args.output_dir) / EVALUATE_LOG_NAME)
    pre = load_preprocessing(settings)
    frames = frame_source(frame_root, {**resolved.data, **asdict(settings)}, pre.template.mm_plugin)
    note(frames.attach(pre.template.mm_plugin).describe([sample.video_path for sample in samples]))
    model = load_base_model(settings, context.device)
    if adapter:
        model = attach_adapter(model, adapter, keep_base=args.compare_base)

    # Generate this process's shard, appending to predictions as we go (a rerun of the same run skips what is done)
    done = set(read_existing(args.output_dir))
    with PredictionWriter(context.predictions_path(args.output_dir)) as writer:
        run_generation(
            model,
            pre,
            context.shard(samples),
            names,
            generation,
            settings.cutoff_len,
            args.output_dir,
            writer,
            done,
            args.num_workers,
            show_progress=context.is_main,
        )
    context.barrier()

    # Merge, score and report on rank 0
    summary, failed = None, False
    if context.is_main:
        records = merge_predictions(args.output_dir, [s.id for s in samples], names)
        run_settings = {
            **asdict(settings),
            **asdict(generation),
            "test_data": str(args.test_data),
            "video_dir": str(args.video_dir),
            "num_samples": len(samples),
            "processes": context.world_size,
            "run_inputs": str(resolved.record.path) if resolved.record else None,
        }
        identity = {"base_model": settings.base_model, "adapter": asdict(adapter) if adapter else None}
        results = score_records(records, args.bootstrap)
        summary = write_metrics(args.output_dir, results, run_settings, identity, resamples=args.bootstrap)
        markdown, html = write_report(args.output_dir, records, summary)
        print(f"{summary_table(summary['results'])}\n{reports_line(markdown, html)}")
        message, fail = exit_message(records, args.allow_errors)
        if message:
            print(f"{'ERROR' if fail else 'WARNING'}: {message}", file=sys.stderr)
        failed = fail
    context.barrier()
    shutdown_distributed()
    if failed:  # after every rank has finished: outputs are written, the exit status says they are incomplete
        raise SystemExit(1)
    return summary


if __name__ == "__main__":
    main()
