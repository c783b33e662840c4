"""Register our exact templates and multimodal plugins with LLaMA-Factory's own registries.

Every LLaMA-Factory template whose multimodal plugin is ``qwen2_vl`` or ``qwen3_vl`` (found in its TEMPLATES when
``plugins.register()`` runs, e.g. ``qwen2_vl``, ``qwen3_vl``, ``qwen3_5``) gets a twin ``<template>_exact``: the same
chat format, stop words and token expansion, with our plugin for that family (EXACT_PLUGINS). Nothing of
LLaMA-Factory's is replaced, so a config naming ``qwen2_vl_exact`` fails loudly ("Template qwen2_vl_exact does not
exist") in any process that did not call ``plugins.register()``. A template whose plugin is another Qwen-VL variant
(``glm4v``, ``glm4_5v``, ``qwen2_omni``, ``qwen3_omni``, ...: subclasses of the Qwen2-VL plugin with video paths of
their own) gets a refusing twin: a config naming ``glm4v_exact`` stops when its template is loaded (training, the
preflight, evaluation) with UnsupportedFamily naming the template and the reason (refusal_reason), never runs
half-right.
"""

import dataclasses

from plugins.llamafactory_boundary import MM_PLUGINS, TEMPLATES, get_mm_plugin, register_mm_plugin, register_template
from plugins.mm_plugin import ExactQwen2VLPlugin, RefusedVideoPlugin, UnsupportedFamily
from plugins.mm_plugin_qwen3 import ExactQwen3VLPlugin

SUFFIX = "_exact"
REFUSED_PLUGIN = "qwen_vl_exact_refused"
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


def refused_twins() -> dict[str, str]:
    """``<template>_exact`` -> ``<template>`` for the templates on another Qwen-VL variant's plugin (refused)."""
    base = MM_PLUGINS["qwen2_vl"]
    return {
        f"{name}{SUFFIX}": name
        for name in list(TEMPLATES)
        if not name.endswith(SUFFIX) and isinstance(TEMPLATES[name].mm_plugin, base) and plugin_family(name) is None
    }


def refusal_reason(base_name: str) -> str:
    """Why ``<base_name>_exact`` is refused: its plugin is a Qwen-VL variant we do not make exact."""
    plugin = TEMPLATES[base_name].mm_plugin
    return (
        f"template {base_name}{SUFFIX}: {base_name!r} uses LLaMA-Factory's {type(plugin).__name__}, which reads "
        f"video its own way; our exact video path is proven on the plugins {', '.join(EXACT_PLUGINS)} only. Use "
        f"{base_name!r} (stock) or one of: {', '.join(sorted(exact_twins()))}"
    )


class RefusedTemplate:
    """Mixed into a refused twin's template class: loading it (LLaMA-Factory's get_template_and_fix_tokenizer, in
    training, the preflight and evaluation alike) raises UnsupportedFamily before any data is read."""

    def fix_special_tokens(self, tokenizer) -> None:
        raise UnsupportedFamily(self.mm_plugin.refusal)


def _register_plugin(name: str, plugin_class: type) -> None:
    if MM_PLUGINS.get(name, plugin_class) is not plugin_class:
        raise RuntimeError(f"another multimodal plugin is already registered as {name!r}")
    if name not in MM_PLUGINS:
        register_mm_plugin(name, plugin_class)


def _register_twin(name: str, base_name: str, plugin_name: str, plugin_class: type, **plugin_fields) -> None:
    if name in TEMPLATES:
        if type(TEMPLATES[name].mm_plugin) is not plugin_class:
            raise RuntimeError(f"another template is already registered as {name!r}")
        return
    base = TEMPLATES[base_name]
    base_plugin = base.mm_plugin
    tokens = ("image_token", "video_token", "audio_token", "vision_bos_token", "vision_eos_token")
    accepted = {field.name for field in dataclasses.fields(plugin_class)}
    tokens = {key: getattr(base_plugin, key) for key in tokens if key in accepted and hasattr(base_plugin, key)}
    plugin = get_mm_plugin(plugin_name, **tokens, **plugin_fields)
    fields = {field.name: getattr(base, field.name) for field in dataclasses.fields(base)}
    fields["mm_plugin"] = plugin
    template_class = type(base)
    if plugin_class is RefusedVideoPlugin:
        template_class = type(f"Refused{template_class.__name__}", (RefusedTemplate, template_class), {})
    register_template(name=name, template_class=template_class, **fields)


def register_exact_templates() -> list[str]:
    """Register our plugins, every ``<template>_exact`` twin and the refusing ones; a second call is a no-op.
    Returns the names of the twins that run (not the refused ones)."""
    for plugin_name, plugin_class in [*EXACT_PLUGINS.values(), (REFUSED_PLUGIN, RefusedVideoPlugin)]:
        _register_plugin(plugin_name, plugin_class)
    twins, refused = exact_twins(), refused_twins()
    for name, base_name in twins.items():
        _register_twin(name, base_name, *EXACT_PLUGINS[plugin_family(base_name)])
    for name, base_name in refused.items():
        _register_twin(name, base_name, REFUSED_PLUGIN, RefusedVideoPlugin, refusal=refusal_reason(base_name))
    return sorted(twins)


def template_plugin(template: str | None):
    """The mm plugin of the LLaMA-Factory template named ``template`` (ours registered first), or None where there
    is no such template."""
    register_exact_templates()
    found = TEMPLATES.get(template)
    return found.mm_plugin if found is not None else None
