"""Our LLaMA-Factory extension: the ``qwen2_vl_exact`` template/plugin, video sampling, and entry points.

Importing this package registers nothing; each entry point calls ``plugins.register()`` explicitly.
"""


def register() -> None:
    """Register template + multimodal plugin ``qwen2_vl_exact`` with LLaMA-Factory (idempotent)."""
    # Imported here so that `plugins.video_sampling` users do not pay for importing LLaMA-Factory.
    from plugins.registry import register_qwen2_vl_exact

    register_qwen2_vl_exact()
