"""Register our template and multimodal plugin, ``qwen2_vl_exact``, with LLaMA-Factory's own registries.

The template is LLaMA-Factory's ``qwen2_vl`` (same chat format, stop words, token expansion) with our plugin;
nothing of LLaMA-Factory's is replaced, so a config naming ``qwen2_vl_exact`` fails loudly ("Template
qwen2_vl_exact does not exist") in any process that did not call ``plugins.register()``.
"""

import dataclasses

from plugins.llamafactory_boundary import MM_PLUGINS, TEMPLATES, get_mm_plugin, register_mm_plugin, register_template
from plugins.mm_plugin import ExactQwen2VLPlugin

TEMPLATE_NAME = "qwen2_vl_exact"
BASE_TEMPLATE_NAME = "qwen2_vl"


def register_qwen2_vl_exact() -> None:
    """Register plugin and template ``qwen2_vl_exact``; a second call is a no-op."""
    if MM_PLUGINS.get(TEMPLATE_NAME, ExactQwen2VLPlugin) is not ExactQwen2VLPlugin:
        raise RuntimeError(f"another multimodal plugin is already registered as {TEMPLATE_NAME!r}")
    if TEMPLATE_NAME not in MM_PLUGINS:
        register_mm_plugin(TEMPLATE_NAME, ExactQwen2VLPlugin)
    if TEMPLATE_NAME in TEMPLATES:
        if not isinstance(TEMPLATES[TEMPLATE_NAME].mm_plugin, ExactQwen2VLPlugin):
            raise RuntimeError(f"another template is already registered as {TEMPLATE_NAME!r}")
        return

    base = TEMPLATES[BASE_TEMPLATE_NAME]
    base_plugin = base.mm_plugin
    plugin = get_mm_plugin(
        TEMPLATE_NAME,
        image_token=base_plugin.image_token,
        video_token=base_plugin.video_token,
        audio_token=base_plugin.audio_token,
        vision_bos_token=base_plugin.vision_bos_token,
        vision_eos_token=base_plugin.vision_eos_token,
    )
    fields = {field.name: getattr(base, field.name) for field in dataclasses.fields(base)}
    fields["mm_plugin"] = plugin
    register_template(name=TEMPLATE_NAME, template_class=type(base), **fields)
