"""Our LLaMA-Factory extension: the ``qwen2_vl_exact`` template/plugin and entry points (frames: video/).

Importing this package registers nothing; each entry point calls ``plugins.register()`` explicitly.
"""


def register() -> None:
    """Register template + multimodal plugin ``qwen2_vl_exact`` with LLaMA-Factory (idempotent)."""
    # Imported here so that importing a plugins module (e.g. plugins.decode_check) does not import LLaMA-Factory.
    from plugins.registry import register_qwen2_vl_exact

    register_qwen2_vl_exact()
