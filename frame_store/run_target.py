"""A run's store: its directory from the config, the clips its datasets read, and $FRAME_STORE_DIR for readers.

    target = target_for_run(config, plugin)            # StoreTarget, or None (disabled, or a stock plugin)
    target = target_for_config("configs/tiny_qwen2vl_demo.yaml", ["video_maxlen=4"])
    clips = config_clips(config)                       # {clip: "dataset[index]"} over dataset + eval_dataset

Settings are the config's (LLaMA-Factory's defaults where it has none, as plugins.video_settings fills them), the
family is the template's plugin class. Setting $FRAME_STORE_DIR (absolute) here is what lets the collator's data
workers, torchrun's children and evaluation's plugin find the store; a value the user set is kept.
"""

import os

from frame_store.codec import DEFAULT_CODEC
from frame_store.key import FRAME_STORE_ENV, StoreFileError, StoreSettings, StoreTarget, built_with, store_dir
from frame_store.plugin_hook import use_store_of

IRRELEVANT_TO_LOADING = frozenset({"deepspeed", "bf16", "fp16", "pure_bf16"})


def target_for_run(
    config: dict, plugin, codec: str | None = None, num_shards: int | None = None, shard_index: int | None = None
) -> StoreTarget | None:
    """The store this run's ``plugin`` reads; sets $FRAME_STORE_DIR. None: disabled, or the plugin reads no store.

    ``codec`` and ``num_shards`` not given: those the directory was built with (e.g. by a job array), else
    zlib and 1 shard."""
    from plugins.video_settings import check_video_settings

    if not hasattr(plugin, "decode_videos"):
        return None
    root = use_store_of(config)
    if root is None:
        return None
    video = check_video_settings(config)
    settings = StoreSettings.for_plugin(
        plugin,
        video_fps=video["video_fps"],
        video_maxlen=video["video_maxlen"],
        max_pixels=video["video_max_pixels"],
        min_pixels=video["video_min_pixels"],
    )
    directory = store_dir(root, settings)
    try:
        built = built_with(directory) or {}
    except StoreFileError:  # the build, which has to read it, names the file and the fix
        built = {}
    codec = codec or built.get("codec", DEFAULT_CODEC)
    num_shards = num_shards or built.get("num_shards", 1)
    return StoreTarget(directory, config.get("template") or "", settings, codec, num_shards, shard_index)


def template_of(config: dict):
    """The config's template's mm plugin (our templates registered first)."""
    import plugins
    from plugins.llamafactory_boundary import TEMPLATES

    plugins.register()
    name = config.get("template")
    if name not in TEMPLATES:
        raise SystemExit(f"template {name!r} is not a LLaMA-Factory template (set template: in the config)")
    return TEMPLATES[name].mm_plugin


def target_for_config(config_path, overrides=(), **options) -> StoreTarget:
    """target_for_run for a YAML config and key=value overrides; exits naming why there is no store."""
    from plugins.run_config import load_run_config

    config = load_run_config(config_path, list(overrides))
    target = target_for_run(config, template_of(config), **options)
    if target is None:
        raise SystemExit(f"no frame store for {config_path}: ${FRAME_STORE_ENV}=off, or template "
                         f"{config.get('template')!r} does not read one (use qwen2_vl_exact)")  # fmt: skip
    return target


def config_clips(config: dict) -> dict[str, str]:
    """Every clip path of the config's dataset and eval_dataset, resolved against media_dir as training does, with
    the first sample naming it (``dataset[index]``, for messages about that clip)."""
    from llamafactory.data.parser import get_dataset_list
    from llamafactory.hparams import get_train_args

    from plugins.llamafactory_boundary import load_aligned_samples

    loading = {key: value for key, value in config.items() if key not in IRRELEVANT_TO_LOADING}
    model_args, data_args, training_args, _, _ = get_train_args(loading)
    names = list(dict.fromkeys((data_args.dataset or []) + (data_args.eval_dataset or [])))
    clips: dict[str, str] = {}
    for name, attr in zip(names, get_dataset_list(names, data_args.dataset_dir), strict=True):
        for index, sample in enumerate(load_aligned_samples(attr, model_args, data_args, training_args)):
            for video in sample.videos:
                if isinstance(video, (str, os.PathLike)):
                    clips.setdefault(str(video), f"{name}[{index}]")
    return clips
