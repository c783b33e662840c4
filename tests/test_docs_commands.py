"""Every command the README and docs/ show names what exists: its make target, its module or script, and each of
its --options in the code that parses them. A renamed target, a moved module or a dropped flag fails here."""

import importlib.util
import re
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
PAGES = [REPO_ROOT / "README.md", *sorted((REPO_ROOT / "docs").glob("*.md"))]
MAKE_TARGETS = set(re.findall(r"^([\w-]+):", (REPO_ROOT / "Makefile").read_text(), re.MULTILINE))
COMMAND = re.compile(
    r"(?:^|[`\s(=])(make [\w-]+|python -m [A-Za-z_][\w.]*|python \w+\.py|llamafactory-cli \w+)([^`\n|]*)"
)
OPTION = re.compile(r"(?<![\w-])(--[a-z][\w-]*)")
OURS = ("bench", "common", "data", "evaluation", "frame_store", "models", "plugins", "tests", "video")


def shown_commands() -> list[tuple[str, str, str]]:
    """(page, command, the rest of its line) for every command in a page's code."""
    found = []
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        code = re.findall(r"`([^`\n]+)`", text) + [line for line in text.splitlines() if line.startswith("    ")]
        for snippet in code:
            for command, rest in COMMAND.findall(snippet):
                found.append((page.name, command, rest))
    return found


COMMANDS = shown_commands()


def test_the_pages_show_commands():
    assert len(COMMANDS) > 50


def _parser_sources(command: str) -> str:
    """The source text in which the options of ``command`` must be declared."""
    if command.startswith("python -m "):
        module = command.split()[-1]
        package = module.split(".")[0]
        return "".join(path.read_text(encoding="utf-8") for path in (REPO_ROOT / package).rglob("*.py"))
    script = REPO_ROOT / command.split()[-1]
    return script.read_text(encoding="utf-8") + "".join(
        path.read_text(encoding="utf-8") for path in (REPO_ROOT / "evaluation").rglob("*.py")
    )


@pytest.mark.parametrize(("page", "command", "rest"), COMMANDS, ids=[f"{p}:{c}" for p, c, _ in COMMANDS])
def test_a_shown_command_exists_with_its_options(page, command, rest):
    if command.startswith("make "):
        assert command.split()[1] in MAKE_TARGETS, f"{page}: `{command}` is no target of the Makefile"
        return
    if command.startswith("llamafactory-cli "):
        assert command.split()[1] in {"train", "export", "chat", "webui", "api", "eval"}, f"{page}: `{command}`"
        return
    if command.startswith("python -m "):
        module = command.split()[-1]
        assert importlib.util.find_spec(module) is not None, f"{page}: `{command}`: no module {module}"
        if module.split(".")[0] not in OURS:
            return
        source = Path(importlib.util.find_spec(module).origin).read_text(encoding="utf-8")
        assert "__main__" in source, f"{page}: `{command}`: {module} is not a command (no __main__ block)"
    else:
        assert (REPO_ROOT / command.split()[-1]).is_file(), f"{page}: `{command}`: no such script"
    sources = _parser_sources(command)
    for option in OPTION.findall(rest.split("#")[0]):
        assert f'"{option}"' in sources, f"{page}: `{command} ... {option}`: no parser declares {option}"
