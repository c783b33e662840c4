"""LLaMA-Factory 0.9.5's defaults for the settings that decide a video sample's frames, pixels and length: one home.

    from video.llamafactory_defaults import LLAMAFACTORY_DEFAULTS
    fps = settings.get("video_fps", LLAMAFACTORY_DEFAULTS["video_fps"])   # a config that leaves the key out

A config that leaves a key out gets LLaMA-Factory's dataclass default (hparams ProcessorArguments, DataArguments),
and a processor that carries no video settings gets the same values from its get_mm_inputs. Every module of ours
that needs one reads it here (the frame store's key is the lowest layer that does); tests/test_llamafactory_defaults.py
holds these against LLaMA-Factory's own field defaults and its get_mm_inputs fallbacks, and finds any other spelling
of them in our code. Nothing here imports LLaMA-Factory.
"""

from types import MappingProxyType

LLAMAFACTORY_DEFAULTS = MappingProxyType(
    {
        "video_maxlen": 128,  # at most this many frames per clip
        "video_fps": 2.0,  # frames sampled per second of video
        "video_max_pixels": 256 * 256,  # pixel budget of a video frame (handed to the resize as image_max_pixels)
        "video_min_pixels": 16 * 16,
        "image_max_pixels": 768 * 768,
        "image_min_pixels": 32 * 32,
        "cutoff_len": 2048,  # tokens per sample (DataArguments)
    }
)
