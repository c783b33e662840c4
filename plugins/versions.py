"""The library versions a run used, recorded in run_inputs.json (training) and metrics.json (evaluation).

from plugins.versions import versions, version_note
versions()                          # {"torch": "2.11.0", "transformers": "5.6.0", ..., "deepspeed": None}
version_note(record.versions)       # one line when evaluation runs under other versions than training, else None
"""

from importlib.metadata import PackageNotFoundError, version

# what decides the numbers a run produces: the model code, the trainer, LoRA, the video decoder, the distributed engine
PACKAGES = ("torch", "transformers", "llamafactory", "peft", "av", "deepspeed")


def versions() -> dict[str, str | None]:
    """Installed version of each of PACKAGES (None: not installed)."""
    found: dict[str, str | None] = {}
    for package in PACKAGES:
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            found[package] = None
    return found


def version_note(trained: dict[str, str | None]) -> str | None:
    """One line naming each library whose version differs from ``trained`` (a record's); None when all agree or
    the record predates version recording."""
    now = versions()
    differing = [
        f"{package} {now.get(package)} (trained with {trained[package]})"
        for package in PACKAGES
        if package in trained and trained[package] != now.get(package)
    ]
    if not differing:
        return None
    return f"evaluating under other library versions than training: {', '.join(differing)}"
