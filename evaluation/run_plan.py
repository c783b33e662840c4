"""What one evaluation run will do, resolved and checked before any model loads (evaluate_model.py's first stage).

    plan = plan_run(evaluate_model.parse_args(["--config", "configs/tiny_qwen2vl_demo.yaml"]))
    plan.settings, plan.samples, plan.models   # ModelSettings, the test set's samples, ["adapter"] or ["base", ...]

Everything that can fail without a model fails here, in this order: the settings (evaluation.settings, then
plugins.video_settings), the test set (--test-data, else the held-out split of the trained dataset), its clips (none
there: stop naming the folder to pass), the adapter's files and the base model it names. The notes saying what was
chosen, then the warnings, are printed once however many processes torchrun started.
"""

import argparse
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from data.eval_samples import Sample, load_test_set
from data.held_out import held_out_test_set
from evaluation.adapter_files import AdapterInfo, inspect_adapter
from evaluation.base_model import check_adapter_base
from evaluation.distributed import note
from evaluation.generation import GenerationSettings
from evaluation.outcome import check_clips_exist
from evaluation.run_identity import RunIdentity, fingerprint_test_set
from evaluation.settings import ModelSettings, ResolvedRun, resolve_run
from plugins.frame_source import store_root
from plugins.model_source import describe_model_source
from plugins.video_settings import check_video_settings


@dataclass(frozen=True)
class EvaluationPlan:
    """The run, checked: its settings, test set, where the clips and stored frames are, adapter, models, decoding."""

    resolved: ResolvedRun  # settings, the run's data keys, the adapter's run_inputs.json
    test_data: Path
    video_dir: Path  # the folder the test set's clip paths are relative to
    frame_root: Path | None  # frames from the run's frame store where it holds the clip (None: decode every clip)
    samples: list[Sample]
    adapter: AdapterInfo | None
    models: list[str]  # "base" and/or "adapter", in the order they are scored
    generation: GenerationSettings

    @property
    def settings(self) -> ModelSettings:
        return self.resolved.settings

    def identity(self) -> RunIdentity:
        """What makes a rerun the same run (run.json): model, adapter weights, settings and the test set's content."""
        return RunIdentity(
            settings=asdict(self.settings),
            generation=asdict(self.generation),
            models=self.models,
            adapter_sha256=self.adapter.sha256 if self.adapter else None,
            test_set=fingerprint_test_set(self.samples),
        )

    def recorded_settings(self, processes: int) -> dict[str, Any]:
        """metrics.json's "settings": everything that decided the answers, and where the test set came from."""
        record = self.resolved.record
        return {
            **asdict(self.settings),
            **asdict(self.generation),
            "test_data": str(self.test_data),
            "video_dir": str(self.video_dir),
            "num_samples": len(self.samples),
            "processes": processes,
            "run_inputs": str(record.path) if record else None,
        }

    def model_identity(self) -> dict[str, Any]:
        """metrics.json's "identity": the base model and the adapter (path, base model named, weights' sha256)."""
        return {"base_model": self.settings.base_model, "adapter": asdict(self.adapter) if self.adapter else None}


def choose_test_set(test_data: Path | None, video_dir: Path | None, data: dict[str, Any]) -> tuple[Path, Path]:
    """(test set, clip folder): the given ones, else the held-out split of the trained dataset (said in a note) and
    the run's media_dir."""
    if test_data is None:
        test_data = held_out_test_set(data["dataset"], data["dataset_dir"])
        note(f"test set: {test_data} (held-out split of {','.join(data['dataset'])})")
    return test_data, video_dir if video_dir is not None else Path(data["media_dir"] or ".")


def generation_settings(args: argparse.Namespace) -> GenerationSettings:
    """The decoding options of the command line."""
    return GenerationSettings(
        args.batch_size,
        args.num_beams,
        args.max_new_tokens,
        args.repetition_penalty,
        args.no_repeat_ngram_size,
        args.min_new_tokens,
        args.seed,
    )


def plan_run(args: argparse.Namespace) -> EvaluationPlan:
    """Resolve and check everything evaluate_model.py's command line asks for, before any model loads (module
    docstring); a problem raises the error evaluate_model.main turns into one line."""
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
    test_data, video_dir = choose_test_set(args.test_data, args.video_dir, resolved.data)
    frame_root = store_root(resolved.data)
    samples = load_test_set(test_data, video_dir, args.num_samples)
    clips_warning = check_clips_exist(samples, video_dir, test_data, frame_root)  # raises if none exists
    adapter = inspect_adapter(settings.adapter_path) if settings.adapter_path else None
    allow_base = args.allow_base_mismatch or args.allow_setting_mismatch
    base_warning = check_adapter_base(adapter, settings.base_model, allow_base) if adapter else None
    note(f"model: {describe_model_source(settings.base_model, 'base model', settings.model_revision)}")
    for warning in (clips_warning, base_warning):
        if warning:
            note(f"WARNING: {warning}")
    models = ["base", "adapter"] if args.compare_base else ["adapter"] if adapter else ["base"]
    return EvaluationPlan(
        resolved, test_data, video_dir, frame_root, samples, adapter, models, generation_settings(args)
    )
