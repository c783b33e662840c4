"""Register our exact templates and multimodal plugins with LLaMA-Factory's own registries.

Every LLaMA-Factory template whose multimodal plugin is ``qwen2_vl`` or ``qwen3_vl`` (found in its TEMPLATES when
``plugins.register()`` runs, e.g. ``qwen2_vl``, ``qwen3_vl``, ``qwen3_5``) gets a twin ``<template>_exact``: the same
chat format, stop words and token expansion, with our plugin for that family (EXACT_PLUGINS). Nothing of
LLaMA-Factory's is replaced, so a config naming ``qwen2_vl_exact`` fails loudly ("Template qwen2_vl_exact does not
exist") in any process that did not call ``plugins.register()``. A template whose plugin is another Qwen-VL variant
(e.g. ``qwen2_omni``, ``glm4v``: subclasses of the Qwen2-VL plugin with their own video paths) gets no twin, and a
config naming ``<it>_exact`` is refused with the reason (unsupported_reason).
"""

import dataclasses

from plugins.llamafactory_boundary import MM_PLUGINS, TEMPLATES, get_mm_plugin, register_mm_plugin, register_template
from plugins.mm_plugin import ExactQwen2VLPlugin
from plugins.mm_plugin_qwen3 import ExactQwen3VLPlugin

SUFFIX = "_exact"
# LLaMA-Factory plugin name -> (our plugin's registered name, our plugin class)
EXACT_PLUGINS = {
    "qwen2_vl": ("qwen2_vl_exact", ExactQwen2VLPlugin),
    "qwen3_vl": ("qwen3_vl_exact", ExactQwen3VLPlugin),
}


def plugin_family(template_name: str) -> str | None:
    """The LLaMA-Factory plugin name (a key of EXACT_PLUGINS) of a registered template, or None."""
    plugin = getattr(TEMPLATES.get(template_name), "mm_plugin", None)
    for family in EXACT_PLUGINS:
        if type(plugin) is MM_PLUGINS[family]:  # exactly: subclasses (glm4v, qwen2_omni) read video their own way
            return family
    return None


def exact_twins() -> dict[str, str]:
    """``<template>_exact`` -> ``<template>`` for every LLaMA-Factory template served by a plugin we make exact."""
    return {
        f"{name}{SUFFIX}": name
        for name in list(TEMPLATES)
        if not name.endswith(SUFFIX) and plugin_family(name) is not None
    }


def unsupported_reason(template_name: str) -> str | None:
    """Why ``<template>_exact`` does not exist though ``<template>`` does (a Qwen-VL-like plugin we do not make
    exact), or None; for a config check to say instead of LLaMA-Factory's bare "does not exist"."""
    if not template_name.endswith(SUFFIX) or template_name in TEMPLATES:
        return None
    base = template_name.removesuffix(SUFFIX)
    if base not in TEMPLATES:
        return None
    plugin = TEMPLATES[base].mm_plugin
    return (
        f"template {template_name!r}: {base!r} uses LLaMA-Factory's {type(plugin).__name__}, not one of the plugins "
        f"our exact video path is proven on ({', '.join(EXACT_PLUGINS)}); use {base!r} (stock) or one of: "
        f"{', '.join(sorted(exact_twins()))}"
    )


def _register_plugin(name: str, plugin_class: type) -> None:
    if MM_PLUGINS.get(name, plugin_class) is not plugin_class:
        raise RuntimeError(f"another multimodal plugin is already registered as {name!r}")
    if name not in MM_PLUGINS:
        register_mm_plugin(name, plugin_class)


def _register_twin(name: str, base_name: str) -> None:
    plugin_name, plugin_class = EXACT_PLUGINS[plugin_family(base_name)]
    if name in TEMPLATES:
        if type(TEMPLATES[name].mm_plugin) is not plugin_class:
            raise RuntimeError(f"another template is already registered as {name!r}")
        return
    base = TEMPLATES[base_name]
    base_plugin = base.mm_plugin
    plugin = get_mm_plugin(
        plugin_name,
        image_token=base_plugin.image_token,
        video_token=base_plugin.video_token,
        audio_token=base_plugin.audio_token,
        vision_bos_token=base_plugin.vision_bos_token,
        vision_eos_token=base_plugin.vision_eos_token,
    )
    fields = {field.name: getattr(base, field.name) for field in dataclasses.fields(base)}
    fields["mm_plugin"] = plugin
    register_template(name=name, template_class=type(base), **fields)


def register_exact_templates() -> list[str]:
    """Register our plugins and every ``<template>_exact`` twin; a second call is a no-op. Returns the twins' names."""
    for plugin_name, plugin_class in EXACT_PLUGINS.values():
        _register_plugin(plugin_name, plugin_class)
    twins = exact_twins()
    for name, base_name in twins.items():
        _register_twin(name, base_name)
    return sorted(twins)
