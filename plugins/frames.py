"""The frame-store commands: a config's store built, merged or pruned (the store itself lives in frame_store/).

    python -m plugins.frames build CONFIG.yaml [key=value ...] [--workers K] [--codec zlib]   # `make frames CONFIG=...`
    python -m plugins.frames build CONFIG.yaml --num-shards 64 --shard-index $SLURM_ARRAY_TASK_ID   # a job array
    python -m plugins.frames merge CONFIG.yaml [key=value ...]          # after every shard: check, write the index
    python -m plugins.frames merge --store-dir data/webvid/frames/0123456789abcdef   # a directory by name
    python -m plugins.frames prune CONFIG.yaml [--delete stale|unread]  # list the root's directories, delete some
    python -m plugins.frames prune CONFIG.yaml --delete stale --yes     # no question (scripts, no terminal)

The clip list and the store directory come from the config as training reads them (plugins.frame_source chooses the
directory; config_clips lists every clip of dataset + eval_dataset through LLaMA-Factory's loader), plus the
held-out test split `make eval` scores by default (frame_store.clip_list). The build decodes through the template's
own plugin, copied so that it reads no store (plugins.frame_source.builder_plugin), and reads every stored entry
against its checksum (damaged ones are decoded again).
"""

import argparse
import os
import sys
from pathlib import Path

from llamafactory.data.parser import get_dataset_list
from llamafactory.hparams import get_train_args

from frame_store.build import INTERRUPTED, StoreBuildError, build_store
from frame_store.clip_list import run_clips
from frame_store.codec import CODECS, DEFAULT_CODEC
from frame_store.disk import directory_bytes, human
from frame_store.key import StoreFileError, StoreTarget
from frame_store.merge import MergeError, merge_store
from frame_store.prune import DELETABLE, prune
from plugins.frame_source import FRAME_STORE_ENV, builder_plugin, frame_source, store_root, target_for_run
from plugins.llamafactory_boundary import load_aligned_samples
from plugins.registry import template_plugin
from plugins.run_config import RunConfigError, load_run_config
from plugins.video_settings import SettingsError

IRRELEVANT_TO_LOADING = frozenset({"deepspeed", "bf16", "fp16", "pure_bf16"})
MAX_LISTED = 20  # failed clips printed


def config_clips(config: dict) -> dict[str, str]:
    """Every clip path of the config's dataset and eval_dataset, resolved against media_dir as training does, with
    the first sample naming it (``dataset[index]``, for messages about that clip)."""
    loading = {key: value for key, value in config.items() if key not in IRRELEVANT_TO_LOADING}
    # Listing clips resumes nothing: without this LLaMA-Factory looks in output_dir for a checkpoint (and logs
    # "Resuming training from ...", or refuses an output_dir holding a finished adapter).
    loading["overwrite_output_dir"] = True
    model_args, data_args, training_args, _, _ = get_train_args(loading)
    names = list(dict.fromkeys((data_args.dataset or []) + (data_args.eval_dataset or [])))
    clips: dict[str, str] = {}
    for name, attr in zip(names, get_dataset_list(names, data_args.dataset_dir), strict=True):
        for index, sample in enumerate(load_aligned_samples(attr, model_args, data_args, training_args)):
            for video in sample.videos:
                if isinstance(video, (str, os.PathLike)):
                    clips.setdefault(str(video), f"{name}[{index}]")
    return clips


def load_config(config_path, overrides=()) -> dict:
    """The run config; exits naming the file or override that cannot be read."""
    try:
        return load_run_config(config_path, list(overrides))
    except RunConfigError as error:
        raise SystemExit(f"error: {error}") from None


def config_plugin(config: dict, config_path):
    """The mm plugin of the config's template; exits naming the template where LLaMA-Factory has none."""
    plugin = template_plugin(config.get("template"))
    if plugin is None:
        raise SystemExit(f"{config_path}: template {config.get('template')!r} is not a LLaMA-Factory template (set "
                         "template: in the config, e.g. qwen2_vl_exact)")  # fmt: skip
    return plugin


def target_for_config(config: dict, config_path, **options) -> StoreTarget:
    """target_for_run for the config's template; exits naming why there is no store."""
    plugin = config_plugin(config, config_path)
    try:
        target = target_for_run(frame_source(store_root(config), config, plugin), config, plugin, **options)
    except SettingsError as error:
        raise SystemExit(f"{config_path}: {error}") from None
    if target is None:
        raise SystemExit(f"no frame store for {config_path}: ${FRAME_STORE_ENV}=off, or template "
                         f"{config.get('template')!r} does not read one (use qwen2_vl_exact)")  # fmt: skip
    return target


def build(args: argparse.Namespace) -> None:
    """Exit 1 if a clip cannot be decoded (listed) or the pass cannot finish."""
    shards = args.num_shards or 1
    if shards < 1 or (args.shard_index is not None and (args.num_shards is None or not 0 <= args.shard_index < shards)):
        raise SystemExit(f"--shard-index I needs --num-shards N, with I in 0..N-1 and N >= 1 (got {args.num_shards})")
    config = load_config(args.config, args.overrides)
    target = target_for_config(config, args.config, codec=args.codec, num_shards=args.num_shards,
                               shard_index=args.shard_index)  # fmt: skip
    plugin = builder_plugin(config_plugin(config, args.config))
    clips, held_out = run_clips(config_clips(config), config)
    print(f"frame store: {held_out}")
    try:
        result = build_store(clips, target, plugin, workers=args.workers, verify=True)  # rebuilds damaged entries
    except StoreBuildError as error:
        raise SystemExit(f"frame store FAILED: {error}") from None
    except KeyboardInterrupt:
        print(f"{INTERRUPTED}; the same command continues", file=sys.stderr)
        raise SystemExit(130) from None
    print(result.summary())
    print(f"store: {target.directory}" + ("" if target.shard_index is None else " (merge when every shard is done)"))
    for path, reason in list(result.failures.items())[:MAX_LISTED]:
        print(f"  failed: {clips.get(path, path)}: {reason}")  # the first sample naming the clip, and why
    if result.failures:
        raise SystemExit(1)


def merge(args: argparse.Namespace) -> None:
    """Exit 1 if a shard is not done."""
    if args.store_dir is None and args.config is None:
        raise SystemExit("give CONFIG.yaml or --store-dir DIR")
    directory = args.store_dir
    if directory is None:
        directory = target_for_config(load_config(args.config, args.overrides), args.config).directory
    try:
        manifest = merge_store(directory)
    except (MergeError, StoreFileError) as error:
        raise SystemExit(f"merge FAILED: {error}") from None
    print(f"frame store {directory}: {manifest['entries']} clips indexed, {manifest['failures']} failed, "
          f"{human(directory_bytes(directory))} on disk")  # fmt: skip


def prune_command(args: argparse.Namespace) -> None:
    target = target_for_config(load_config(args.config, args.overrides), args.config)
    prune(target.directory.parent, target.directory, args.delete, yes=args.yes)


def command_parsers() -> dict[str, argparse.ArgumentParser]:
    """One parser per command (argparse cannot mix options and key=value overrides under subparsers)."""
    parsers = {}
    for name, run, config_nargs in (("build", build, None), ("merge", merge, "?"), ("prune", prune_command, None)):
        command = argparse.ArgumentParser(prog=f"python -m plugins.frames {name}", description=run.__doc__)
        command.add_argument("config", type=Path, nargs=config_nargs, help="LLaMA-Factory training YAML")
        command.add_argument("overrides", nargs="*", help="key=value overrides, as for plugins.train")
        command.set_defaults(run=run)
        parsers[name] = command
    build_options = parsers["build"]
    build_options.add_argument("--workers", type=int, help="decode processes (default: CPUs)")
    build_options.add_argument("--codec", choices=CODECS, help=f"frame bytes (default: the store's, else "
                               f"{DEFAULT_CODEC})")  # fmt: skip
    build_options.add_argument("--num-shards", type=int, help="shards of the store (machines of a job array; "
                               "default: the store's, else 1)")  # fmt: skip
    build_options.add_argument("--shard-index", type=int, help="build only this shard (0-based), e.g. "
                               "$SLURM_ARRAY_TASK_ID")  # fmt: skip
    parsers["merge"].add_argument("--store-dir", type=Path, help="the store directory itself (instead of a config)")
    parsers["prune"].add_argument("--delete", choices=sorted(DELETABLE), help="stale: what no config can read; "
                                  "unread: also other settings' stores (other configs may read them)")  # fmt: skip
    parsers["prune"].add_argument("--yes", action="store_true", help="delete without asking (needed off a terminal)")
    return parsers


def main(argv: list[str] | None = None) -> None:
    """`python -m plugins.frames {build,merge,prune} ...`; a bad command line exits 2 with the usage."""
    argv = sys.argv[1:] if argv is None else argv
    parsers = command_parsers()
    if not argv or argv[0] not in parsers:
        top = argparse.ArgumentParser(prog="python -m plugins.frames", description=__doc__,
                                      formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
        top.add_argument("command", choices=sorted(parsers))
        top.parse_args(argv[:1])
        raise SystemExit(2)  # not reached: parse_args exits on a missing or unknown command
    args = parsers[argv[0]].parse_intermixed_args(argv[1:])  # options and key=value mixed
    args.run(args)


if __name__ == "__main__":
    main()
