"""Known bugs of the pinned library versions that a config can walk into: the preflight refuses such a config, with
the fix, before any GPU time.

    from plugins.pinned_bugs import pinned_bug_errors
    pinned_bug_errors({"flash_attn": "fa2"})   # -> ["flash_attn: fa2 crashes Qwen models under transformers 5.6.0 ..."]
"""

from importlib.metadata import version

from packaging.version import Version

FA2_FIXED_IN = Version("5.6.1")  # transformers#45588; LLaMA-Factory 0.9.5 allows transformers<=5.6.0


def pinned_bug_errors(settings: dict, transformers_version: str | None = None) -> list[str]:
    """One sentence per known bug the settings would hit under the installed (or given) transformers version."""
    installed = Version(transformers_version or version("transformers"))
    errors = []
    if str(settings.get("flash_attn", "auto")) == "fa2" and installed < FA2_FIXED_IN:
        errors.append(
            f"flash_attn: fa2 crashes Qwen models under transformers {installed} (transformers#45588, fixed in "
            f"{FA2_FIXED_IN}, which LLaMA-Factory 0.9.5 does not allow): set flash_attn: sdpa"
        )
    return errors
