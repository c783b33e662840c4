"""The one place that reaches into LLaMA-Factory's private API; everything else imports from here.

    from plugins.llamafactory_boundary import QwenVideoPlugin, load_aligned_samples, encode_sample

Importing this module checks, once, that the installed LLaMA-Factory is in SUPPORTED_VERSIONS and that every
private hook in HOOKS exists with the parameters we call it with; otherwise it raises LlamaFactoryVersionError, one
sentence naming the hook and the supported versions (`pip install llamafactory==0.9.5` fixes it). An upgrade then
fails at start-up, here, instead of in scattered places, some silently. The private hooks and what we rely on:

- ``data.loader._load_single_dataset``: one dataset aligned to LLaMA-Factory's columns (``_prompt``, ``_response``,
  ``_system``, ``_tools``, ``_images``, ``_videos``, ``_audios``) before tokenizing; the preflight measures that.
- ``SupervisedDatasetProcessor._encode_data_example``: the token ids training builds for one aligned sample.
- ``Qwen2VLPlugin._get_qwen_video_stream_metadata``: a clip's token metadata from its header, no decoding;
  ``_get_video_token_metadata``: the grids (and, for Qwen3-VL, frame times) tokens are expanded from, None to count
  from frames read; ``_get_qwen_video_size_after_regularization`` / ``_get_qwen_video_resize`` (Qwen3VLPlugin has
  its own): a frame's size after LLaMA-Factory's resize, then the family's smart_resize (plugins/video_tokens.py);
  ``Qwen2VLPlugin._regularize_videos``: the frames the collator hands the processor; ``_regularize_images``:
  LLaMA-Factory's resize of those frames; ``data.mm_plugin._check_video_is_nested_images``: frames, not a file.
  Qwen3VLPlugin inherits those three and adds: ``_validate_input`` / ``_validate_messages`` (placeholder and
  processor checks), ``_get_mm_token_metadata`` (grids counted from clip_metadata, None where a clip has none) and
  ``_get_mm_inputs`` (the decoding fallback), whose ``video_metadata`` carries ``frames_indices`` and ``fps``.
- transformers' ``Qwen3VLProcessor._calculate_timestamps``: the seconds written before each temporal patch.
- ``data.converter.DatasetConverter._find_medias``: joins ``media_dir`` to a media path where the joined string is a
  file, else keeps the path as written. A span reference (``clip.mp4#t=START,END``, video/clip_span.py) never is a
  file, so LLaMA-Factory would resolve a relative span against the current directory. ``join_media_dir_to_spans()``
  (run by ``plugins.register()``) puts subclasses of its three converters (alpaca, sharegpt, openai) in their places
  in ``DATASET_CONVERTERS``, whose ``_find_medias`` hands LLaMA-Factory the span's file part and puts the fragment
  back: training and the preflight then find ``media_dir``'s clip from any directory. The names stay LLaMA-Factory's
  (dataset_info.json files say ``"formatting": "sharegpt"``); every other path is joined exactly as LLaMA-Factory
  joins it, and an entry that is neither LLaMA-Factory's class nor ours is refused (LlamaFactoryVersionError).

Our plugins override three video hooks. Rather than naming them in plugins/mm_plugin*.py, QwenVideoPlugin and
Qwen3VideoPlugin below are LLaMA-Factory's ``Qwen2VLPlugin`` / ``Qwen3VLPlugin`` with those hooks routed to public
methods (``clip_metadata``, ``read_videos``, ``video_token_metadata``) and LLaMA-Factory's own behaviour reachable as
``stock_read_videos`` / ``resize_frames`` / ``regularized_frame_size`` / ``family_resize``; Qwen3VideoPlugin also
makes the steps of its process_messages public (``check_inputs``, ``token_inputs``, ``timestamps``) so that ours can
expand each video with its own grid and times (the stock one reads ``video_metadata`` by message index and every
video's frame count from the first video's grid).
plugins/mm_plugin*.py subclass them and override the public methods only. tests/test_llamafactory_boundary.py holds
one contract test per hook and fails if any other file imports or references a LLaMA-Factory private name. Public API
(``hparams.get_train_args``, ``model.load_tokenizer``, ``data.get_template_and_fix_tokenizer``, ...) is used
where it is needed; the registries are re-exported here because registering a template is a seam, too.
"""

import inspect
import os
from collections.abc import Iterator
from dataclasses import dataclass
from importlib.metadata import version
from typing import Any

from llamafactory.data import converter as _converter
from llamafactory.data import loader as _loader
from llamafactory.data import mm_plugin as _mm_plugin
from llamafactory.data.mm_plugin import (
    PLUGINS,
    BasePlugin,
    Qwen2VLPlugin,
    Qwen3VLPlugin,
    get_mm_plugin,
    register_mm_plugin,
)
from llamafactory.data.processor import SupervisedDatasetProcessor
from llamafactory.data.template import TEMPLATES, register_template
from packaging.specifiers import SpecifierSet
from transformers import Qwen3VLProcessor
from typing_extensions import override

from video.clip_span import clip_file
from video.llamafactory_defaults import LLAMAFACTORY_DEFAULTS

SUPPORTED_VERSIONS = ">=0.9.5,<0.9.6"  # a pip version specifier
VERIFIED_VERSION = "0.9.5"
CLIP_PATH_BATCH = 10_000  # rows of the videos column read at a time when listing clips

__all__ = [
    "MM_PLUGINS",
    "TEMPLATES",
    "AlignedSample",
    "AlignedSamples",
    "BasePlugin",
    "LlamaFactoryVersionError",
    "Qwen3VideoPlugin",
    "QwenVideoPlugin",
    "encode_sample",
    "get_mm_plugin",
    "is_frame_list",
    "join_media_dir_to_spans",
    "load_aligned_samples",
    "processor_video_sampling",
    "register_mm_plugin",
    "register_template",
    "regularized_videos",
]
MM_PLUGINS = PLUGINS  # name -> plugin class, as LLaMA-Factory's get_mm_plugin looks them up
RESIZE_PARAMETERS = ("self", "num_frames", "height", "width", "patch_size", "temporal_patch_size", "merge_size",
                     "min_pixels", "max_pixels")  # fmt: skip


class LlamaFactoryVersionError(ImportError):
    """The installed LLaMA-Factory lacks a hook we rely on, or is outside SUPPORTED_VERSIONS."""


@dataclass(frozen=True)
class Hook:
    """A private LLaMA-Factory function or method we call or override, with the parameter names we rely on."""

    owner: Any  # the module or class that defines it
    name: str
    parameters: tuple[str, ...]

    @property
    def qualified_name(self) -> str:
        owner = getattr(self.owner, "__qualname__", None)
        module = self.owner.__module__ if owner else self.owner.__name__
        return ".".join(part for part in (module, owner, self.name) if part)


HOOKS = (
    Hook(_loader, "_load_single_dataset", ("dataset_attr", "model_args", "data_args", "training_args")),
    Hook(
        SupervisedDatasetProcessor,
        "_encode_data_example",
        ("self", "prompt", "response", "system", "tools", "images", "videos", "audios"),
    ),
    Hook(Qwen2VLPlugin, "_get_qwen_video_stream_metadata", ("self", "video", "video_fps", "video_maxlen")),
    Hook(Qwen2VLPlugin, "_regularize_videos", ("self", "videos", "**kwargs")),
    Hook(Qwen2VLPlugin, "_regularize_images", ("self", "images", "**kwargs")),
    Hook(Qwen2VLPlugin, "_get_video_token_metadata", ("self", "videos", "processor")),
    Hook(
        Qwen2VLPlugin,
        "_get_qwen_video_size_after_regularization",
        ("self", "width", "height", "image_max_pixels", "image_min_pixels"),
    ),
    Hook(Qwen2VLPlugin, "_get_qwen_video_resize", RESIZE_PARAMETERS),
    Hook(Qwen3VLPlugin, "_get_qwen_video_resize", RESIZE_PARAMETERS),
    Hook(_mm_plugin, "_check_video_is_nested_images", ("video",)),
    Hook(Qwen3VLPlugin, "_validate_input", ("self", "processor", "images", "videos", "audios")),
    Hook(Qwen3VLPlugin, "_validate_messages", ("self", "messages", "images", "videos", "audios")),
    Hook(Qwen3VLPlugin, "_get_mm_token_metadata", ("self", "images", "videos", "audios", "processor")),
    Hook(Qwen3VLPlugin, "_get_mm_inputs", ("self", "images", "videos", "audios", "processor")),
    Hook(_converter.DatasetConverter, "_find_medias", ("self", "medias")),
)
# Not LLaMA-Factory's, but private all the same (LLaMA-Factory 0.9.5 pins transformers<=5.6.0, verified 5.6.0).
TRANSFORMERS_HOOKS = (Hook(Qwen3VLProcessor, "_calculate_timestamps", ("self", "indices", "video_fps", "merge_size")),)


def _parameter_names(function) -> tuple[str, ...]:
    names = []
    for parameter in inspect.signature(function).parameters.values():
        prefix = {inspect.Parameter.VAR_POSITIONAL: "*", inspect.Parameter.VAR_KEYWORD: "**"}.get(parameter.kind, "")
        names.append(f"{prefix}{parameter.name}")
    return tuple(names)


def hook_problem(hook: Hook) -> str | None:
    """What is wrong with ``hook`` in the installed LLaMA-Factory, or None."""
    function = getattr(hook.owner, hook.name, None)
    if not callable(function):
        return f"hook {hook.qualified_name} is missing"
    found = _parameter_names(function)
    if found != hook.parameters:
        return f"hook {hook.qualified_name} takes ({', '.join(found)}), not ({', '.join(hook.parameters)})"
    return None


def check_llamafactory(installed: str, hooks: tuple[Hook, ...] = HOOKS) -> None:
    """Raise LlamaFactoryVersionError, naming the first broken hook (or the version) and the supported versions."""
    supported = f"supported: llamafactory {SUPPORTED_VERSIONS} (verified {VERIFIED_VERSION})"
    fix = f"pip install llamafactory=={VERIFIED_VERSION}"
    for hook in hooks:
        problem = hook_problem(hook)
        if problem is not None:
            raise LlamaFactoryVersionError(
                f"LLaMA-Factory {installed} is not supported: {problem} ({supported}; {fix})"
            )
    if installed not in SpecifierSet(SUPPORTED_VERSIONS):
        raise LlamaFactoryVersionError(f"LLaMA-Factory {installed} is not supported ({supported}; {fix})")


check_llamafactory(version("llamafactory"))
for _hook in TRANSFORMERS_HOOKS:
    if hook_problem(_hook) is not None:
        raise LlamaFactoryVersionError(
            f"transformers {version('transformers')} is not supported: {hook_problem(_hook)} "
            "(verified 5.6.0, LLaMA-Factory's pin; pip install transformers==5.6.0)"
        )


class RoutedVideoHooks:
    """The video hooks of LLaMA-Factory's Qwen-VL plugins, routed to public methods (mixed into both plugins below).

    Subclass a plugin and override ``clip_metadata`` (token counting) and/or ``read_videos`` (the frames);
    unchanged, it behaves exactly as the stock plugin.
    """

    def clip_metadata(self, video, video_fps: float, video_maxlen: int) -> dict[str, Any] | None:
        """``{"width", "height", "average_fps", "sample_indices"}`` of a clip, read without decoding, from which
        LLaMA-Factory counts its video tokens; None makes LLaMA-Factory decode the video (read_videos) to count."""
        return Qwen2VLPlugin._get_qwen_video_stream_metadata(self, video, video_fps, video_maxlen)

    def read_videos(self, videos: list, **settings) -> dict[str, list]:
        """``{"videos": [frames per video], "fps_per_video", "durations", "frames_indices"}``: what the collator
        hands the processor; ``settings`` are image_max_pixels, image_min_pixels, video_fps, video_maxlen."""
        return self.stock_read_videos(videos, **settings)

    def stock_read_videos(self, videos: list, **settings) -> dict[str, list]:
        """LLaMA-Factory's own read_videos (PyAV decoding every frame, keeping the sampled ones)."""
        return Qwen2VLPlugin._regularize_videos(self, videos, **settings)

    def resize_frames(self, frames: list, **settings) -> list:
        """LLaMA-Factory's resize of frames (PIL images) to the pixel budget in ``settings``."""
        return self._regularize_images(frames, **settings)["images"]

    def video_token_metadata(self, videos: list, processor) -> dict[str, Any] | None:
        """``{"video_grid_thw"}`` (Qwen3-VL: and ``video_metadata``) that placeholders are expanded from, counted
        without decoding; None makes LLaMA-Factory read the frames (read_videos) to count."""
        return super()._get_video_token_metadata(videos, processor)

    def regularized_frame_size(self, width: int, height: int, max_pixels: int, min_pixels: int) -> tuple[int, int]:
        """(width, height) of a frame after LLaMA-Factory's resize to the video pixel budget."""
        return self._get_qwen_video_size_after_regularization(width, height, max_pixels, min_pixels)

    def family_resize(self, num_frames: int, height: int, width: int, patch_size: int, temporal_patch_size: int,
                      merge_size: int, min_pixels: int, max_pixels: int) -> tuple[int, int]:  # fmt: skip
        """(height, width) the family's video processor resizes such frames to (its smart_resize)."""
        return self._get_qwen_video_resize(num_frames, height, width, patch_size, temporal_patch_size, merge_size,
                                           min_pixels, max_pixels)  # fmt: skip

    @override
    def _get_qwen_video_stream_metadata(self, video, video_fps: float, video_maxlen: int) -> dict[str, Any] | None:
        return self.clip_metadata(video, video_fps, video_maxlen)

    @override
    def _regularize_videos(self, videos: list, **kwargs) -> dict[str, list]:
        return self.read_videos(videos, **kwargs)

    @override
    def _get_video_token_metadata(self, videos: list, processor) -> dict[str, Any] | None:
        return self.video_token_metadata(videos, processor)


@dataclass
class QwenVideoPlugin(RoutedVideoHooks, Qwen2VLPlugin):
    """LLaMA-Factory's ``qwen2_vl`` multimodal plugin (Qwen2-VL, Qwen2.5-VL) whose video hooks call public methods."""


@dataclass
class Qwen3VideoPlugin(RoutedVideoHooks, Qwen3VLPlugin):
    """LLaMA-Factory's ``qwen3_vl`` multimodal plugin (Qwen3-VL, Qwen3.5/3.6) whose video hooks call public methods,
    with the steps of its process_messages public."""

    def check_inputs(self, messages: list[dict], images: list, videos: list, audios: list, processor) -> None:
        """LLaMA-Factory's checks: a processor that takes these inputs, one placeholder per image/video/audio."""
        self._validate_input(processor, images, videos, audios)
        self._validate_messages(messages, images, videos, audios)

    def token_inputs(self, images: list, videos: list, audios: list, processor) -> dict[str, Any]:
        """What the stock process_messages expands placeholders from (``image_grid_thw``, ``video_grid_thw``,
        ``video_metadata`` with each video's ``frames_indices`` and ``fps``): counted from clip_metadata without
        decoding where every clip has it, else from frames read (read_videos), as LLaMA-Factory does."""
        inputs = self._get_mm_token_metadata(images, videos, audios, processor)
        if inputs is None:
            inputs = self._get_mm_inputs(images, videos, audios, processor)
        return inputs

    @staticmethod
    def timestamps(processor, frames_indices: list[float], fps: float) -> list[float]:
        """Seconds written before each temporal patch: the mean time of its frames (``index / fps``), as the
        processor's own prompt building computes them (temporal patch from its video processor)."""
        patch = processor.video_processor.temporal_patch_size
        return processor._calculate_timestamps(list(frames_indices), fps, patch)


def _file_and_fragment(media) -> tuple[Any, str]:
    """``(the file part, its '#t=' fragment)`` of a span reference; ``(media, "")`` for anything else."""
    if not isinstance(media, str):
        return media, ""
    path = clip_file(media)
    return path, media[len(path) :]


class SpanMediaPaths:
    """Mixed into LLaMA-Factory's dataset converters: ``media_dir`` is joined to a span's file part."""

    @override
    def _find_medias(self, medias):
        if isinstance(medias, str):
            medias = [medias]
        if not (isinstance(medias, list) and medias and isinstance(medias[0], str)):
            return super()._find_medias(medias)  # frame lists, images given as data: LLaMA-Factory's own way
        paths, fragments = zip(*(_file_and_fragment(media) for media in medias), strict=True)
        found = super()._find_medias(list(paths))
        return [f"{path}{fragment}" if fragment else path for path, fragment in zip(found, fragments, strict=True)]


class SpanAlpacaDatasetConverter(SpanMediaPaths, _converter.AlpacaDatasetConverter):
    """LLaMA-Factory's alpaca converter, joining media_dir to span references too."""


class SpanSharegptDatasetConverter(SpanMediaPaths, _converter.SharegptDatasetConverter):
    """LLaMA-Factory's sharegpt converter, joining media_dir to span references too."""


class SpanOpenAIDatasetConverter(SpanMediaPaths, _converter.OpenAIDatasetConverter):
    """LLaMA-Factory's openai converter, joining media_dir to span references too."""


# dataset_info.json "formatting" -> (LLaMA-Factory's converter, ours in its place)
SPAN_CONVERTERS = {
    "alpaca": (_converter.AlpacaDatasetConverter, SpanAlpacaDatasetConverter),
    "sharegpt": (_converter.SharegptDatasetConverter, SpanSharegptDatasetConverter),
    "openai": (_converter.OpenAIDatasetConverter, SpanOpenAIDatasetConverter),
}


def join_media_dir_to_spans() -> None:
    """Put our span-aware converters in LLaMA-Factory's DATASET_CONVERTERS (idempotent). Raises
    LlamaFactoryVersionError where an entry is neither LLaMA-Factory's converter nor ours."""
    for name, (stock, ours) in SPAN_CONVERTERS.items():
        current = _converter.DATASET_CONVERTERS.get(name)
        if current is ours:
            continue
        if current is not stock:
            raise LlamaFactoryVersionError(
                f"LLaMA-Factory's dataset converter {name!r} is {current!r}, not its own {stock.__name__}: something "
                f"else replaced it, so span paths cannot be joined to media_dir (verified llamafactory "
                f"{VERIFIED_VERSION}, whose converter we subclass)"
            )
        _converter.DATASET_CONVERTERS[name] = ours


def is_frame_list(video) -> bool:
    """True where LLaMA-Factory takes ``video`` as already sampled frames (a list of images or image paths)."""
    return _mm_plugin._check_video_is_nested_images(video)


def regularized_videos(plugin, videos: list, **settings) -> list[list]:
    """The frames (PIL images per video) any qwen2_vl-family ``plugin`` hands the processor for ``videos``."""
    return plugin._regularize_videos(videos, **settings)["videos"]


def processor_video_sampling(processor) -> dict[str, float | int]:
    """``{"video_fps", "video_maxlen"}`` as the plugin reads them from a processor LLaMA-Factory's load_tokenizer
    returned (it sets them there from the config; a processor without them gets LLaMA-Factory's defaults, as in
    its get_mm_inputs)."""
    return {key: getattr(processor, key, LLAMAFACTORY_DEFAULTS[key]) for key in ("video_fps", "video_maxlen")}


@dataclass(frozen=True)
class AlignedSample:
    """One sample as LLaMA-Factory aligns it before tokenizing (messages as ``{"role", "content"}`` dicts)."""

    prompt: list[dict[str, str]]
    response: list[dict[str, str]]
    system: str | None
    tools: str | None
    images: list
    videos: list
    audios: list


class AlignedSamples:
    """The samples of one dataset in file order, read lazily (len() where the dataset is not streamed)."""

    def __init__(self, dataset):
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __iter__(self):
        for row in self.dataset:
            yield AlignedSample(
                prompt=row["_prompt"],
                response=row["_response"],
                system=row["_system"],
                tools=row["_tools"],
                images=row["_images"] or [],
                videos=row["_videos"] or [],
                audios=row["_audios"] or [],
            )

    def clip_paths(self) -> Iterator[str]:
        """The video paths of every sample in file order, read from the videos column alone (a video given as a
        list of frames is not a clip)."""
        for batch in self.dataset.select_columns(["_videos"]).iter(batch_size=CLIP_PATH_BATCH):
            for videos in batch["_videos"]:
                yield from (str(video) for video in videos or [] if isinstance(video, (str, os.PathLike)))


def load_aligned_samples(dataset_attr, model_args, data_args, training_args) -> AlignedSamples:
    """The samples of one dataset (a DatasetAttr of ``get_dataset_list``), as training aligns them."""
    return AlignedSamples(_loader._load_single_dataset(dataset_attr, model_args, data_args, training_args))


def encode_sample(encoder: SupervisedDatasetProcessor, sample: AlignedSample) -> list[int]:
    """The input ids training builds for ``sample`` (video tokens expanded; truncated to the encoder's cutoff_len)."""
    input_ids, _ = encoder._encode_data_example(
        prompt=sample.prompt,
        response=sample.response,
        system=sample.system,
        tools=sample.tools,
        images=sample.images,
        videos=sample.videos,
        audios=sample.audios,
    )
    return input_ids


CLI_SCRIPTS = ("llamafactory-cli", "lmf")  # LLaMA-Factory's console scripts
INTERPRETER_OPTIONS_WITH_VALUE = ("-X", "-W", "-Q")


def llamafactory_cli_command(argv: list[str]) -> tuple[str | None, list[str]]:
    """(command, its arguments) when ``argv`` (an interpreter's ``sys.orig_argv``) runs LLaMA-Factory's CLI:
    ``llamafactory-cli CMD ...`` / ``lmf CMD ...`` / ``python -m llamafactory.cli CMD ...``, or a worker of the
    torchrun job ``llamafactory-cli train`` launches (``python -u .../llamafactory/launcher.py CONFIG ...``: 'train');
    (None, []) for any other program. LLaMA-Factory pops the command from sys.argv, hence the original argv."""
    from importlib.util import find_spec

    words = list(argv[1:])
    while words and words[0].startswith("-") and words[0] not in ("-m", "-c", "-"):
        words = words[2:] if words[0] in INTERPRETER_OPTIONS_WITH_VALUE else words[1:]
    if len(words) >= 2 and words[0] == "-m":
        module, rest = words[1], words[2:]
        if module == "llamafactory.cli":
            return (rest[0] if rest else "help"), rest[1:]
        return ("train", rest) if module == "llamafactory.launcher" else (None, [])
    if not words or words[0] in ("-c", "-"):
        return None, []
    script, rest = words[0], words[1:]
    if os.path.basename(script) in CLI_SCRIPTS:
        return (rest[0] if rest else "help"), rest[1:]
    launcher = find_spec("llamafactory.launcher").origin
    if os.path.isfile(script) and os.path.samefile(script, launcher):
        return "train", rest
    return None, []
