"""Our LLaMA-Factory extension: the ``<template>_exact`` templates/plugins (plugins/registry.py) and entry points
(frames: video/).

Importing this package registers nothing; each entry point calls ``plugins.register()`` explicitly.
"""


def register() -> list[str]:
    """Register our multimodal plugins and every ``<template>_exact`` twin of a Qwen-VL template (``qwen2_vl_exact``,
    ``qwen3_vl_exact``, ``qwen3_5_exact``, ...) with LLaMA-Factory, and join media_dir to span references
    (``clip.mp4#t=START,END``) as to any media path (idempotent); returns the twins' names."""
    # Imported here so that importing a plugins module (e.g. plugins.decode_check) does not import LLaMA-Factory.
    from plugins.llamafactory_boundary import join_media_dir_to_spans
    from plugins.registry import register_exact_templates

    join_media_dir_to_spans()
    return register_exact_templates()
