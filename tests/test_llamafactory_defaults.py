"""LLaMA-Factory's defaults for the video settings have one home (video/llamafactory_defaults.py), equal to
LLaMA-Factory's own: its argument dataclasses' field defaults and the fallbacks its get_mm_inputs reads from a
processor that carries no video settings. No other module of ours spells one of them as a literal default."""

import ast
import importlib.util
import operator
from dataclasses import MISSING, fields
from pathlib import Path

from llamafactory.hparams import DataArguments, ModelArguments

from video.llamafactory_defaults import LLAMAFACTORY_DEFAULTS

REPO = Path(__file__).resolve().parents[1]
HOME = REPO / "video" / "llamafactory_defaults.py"
PACKAGES = ("common", "video", "data", "frame_store", "plugins", "evaluation")
PIXEL_KEYS = tuple(key for key in LLAMAFACTORY_DEFAULTS if key.endswith("_pixels"))
# The plugin classes our qwen2_vl-family plugins build on: their get_mm_inputs hands the processor's settings over.
QWEN_PLUGINS = ("MMPluginMixin", "BasePlugin", "Qwen2VLPlugin", "Qwen3VLPlugin")
_OPERATORS = {ast.Mult: operator.mul, ast.Add: operator.add, ast.Sub: operator.sub, ast.Pow: operator.pow}


def _field_defaults(*dataclasses) -> dict:
    return {f.name: f.default for cls in dataclasses for f in fields(cls) if f.default is not MISSING}


def test_our_defaults_are_llamafactorys_field_defaults():
    theirs = _field_defaults(ModelArguments, DataArguments)
    assert {key: theirs.get(key) for key in LLAMAFACTORY_DEFAULTS} == dict(LLAMAFACTORY_DEFAULTS)
    for key, value in LLAMAFACTORY_DEFAULTS.items():
        assert type(value) is type(theirs[key]), key  # video_fps 2.0, a float, as LLaMA-Factory parses it


def _number(node: ast.AST) -> int | float | None:
    """The value of a numeric literal expression (``256 * 256``), else None."""
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        value = _number(node.operand)
        return None if value is None else -value
    if isinstance(node, ast.BinOp) and type(node.op) in _OPERATORS:
        left, right = _number(node.left), _number(node.right)
        return None if left is None or right is None else _OPERATORS[type(node.op)](left, right)
    return None


def _processor_fallbacks(tree: ast.AST) -> list[tuple[str, int | float]]:
    """(key, default) of every ``getattr(processor, "key", default)`` of one of our keys in ``tree``."""
    return [
        (node.args[1].value, _number(node.args[2]))
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "getattr"
        and len(node.args) == 3
        and isinstance(node.args[1], ast.Constant)
        and node.args[1].value in LLAMAFACTORY_DEFAULTS
    ]


def test_our_defaults_are_what_llamafactorys_qwen_plugins_fall_back_to():
    # read, not imported: importing llamafactory.data would run the venv's start-up hook (plugins/autoload.py)
    package = Path(importlib.util.find_spec("llamafactory").origin).parent
    tree = ast.parse((package / "data" / "mm_plugin.py").read_text(encoding="utf-8"))
    classes = [node for node in tree.body if isinstance(node, ast.ClassDef) and node.name in QWEN_PLUGINS]
    assert sorted(node.name for node in classes) == sorted(QWEN_PLUGINS)
    found = [fallback for node in classes for fallback in _processor_fallbacks(node)]
    assert {key for key, _ in found} == {"video_fps", "video_maxlen", *PIXEL_KEYS}
    assert [(key, value) for key, value in found if value != LLAMAFACTORY_DEFAULTS[key]] == []


def _spells_default(key: str, node: ast.AST) -> bool:
    """Whether ``node``, given as the value of setting ``key``, is a literal of LLaMA-Factory's default for it (a
    pixel budget counts with any of the pixel defaults: LLaMA-Factory hands video_* budgets over as image_*)."""
    value = _number(node)
    if value is None or key not in LLAMAFACTORY_DEFAULTS:
        return False
    candidates = [LLAMAFACTORY_DEFAULTS[k] for k in PIXEL_KEYS] if key in PIXEL_KEYS else [LLAMAFACTORY_DEFAULTS[key]]
    return value in candidates


def _named_key(name: str) -> str | None:
    """The setting a variable, argument or keyword is named after (``DEFAULT_VIDEO_FPS``: video_fps), if any."""
    return next((key for key in LLAMAFACTORY_DEFAULTS if name.lower().endswith(key)), None)


def _spellings(tree: ast.AST) -> list[int]:
    """Line numbers of literal LLaMA-Factory defaults: ``.get("key", 2.0)``, ``getattr(x, "key", 2.0)``,
    ``{"key": 2.0}``, ``key: float = 2.0``, ``DEFAULT_KEY = 2.0``, ``f(key=2.0)`` and ``def f(key=2.0)``."""
    lines = []
    for node in ast.walk(tree):
        pairs: list[tuple[str | None, ast.AST]] = []
        if isinstance(node, ast.Call):
            args = node.args
            getter = isinstance(node.func, ast.Attribute) and node.func.attr in ("get", "pop", "setdefault")
            start = 0 if getter else 1 if isinstance(node.func, ast.Name) and node.func.id == "getattr" else None
            if start is not None and len(args) > start + 1 and isinstance(args[start], ast.Constant):
                pairs.append((str(args[start].value), args[start + 1]))
            pairs += [(keyword.arg, keyword.value) for keyword in node.keywords if keyword.arg]
        elif isinstance(node, ast.Dict):
            pairs += [(k.value, v) for k, v in zip(node.keys, node.values, strict=True) if isinstance(k, ast.Constant)]
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None:
            pairs.append((_named_key(node.target.id), node.value))
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                names = target.elts if isinstance(target, ast.Tuple) else [target]
                values = node.value.elts if isinstance(node.value, ast.Tuple) else [node.value]
                for name, value in zip(names, values, strict=False):
                    if isinstance(name, ast.Name):
                        pairs.append((_named_key(name.id), value))
        elif isinstance(node, ast.arguments):
            positional = [*node.posonlyargs, *node.args]
            pairs += [
                (arg.arg, d)
                for arg, d in zip(positional[len(positional) - len(node.defaults) :], node.defaults, strict=True)
            ]
            pairs += [(arg.arg, d) for arg, d in zip(node.kwonlyargs, node.kw_defaults, strict=True) if d is not None]
        lines += [getattr(value, "lineno", 0) for key, value in pairs if key and _spells_default(key, value)]
    return lines


def _our_modules() -> list[Path]:
    return [*(path for package in PACKAGES for path in sorted((REPO / package).rglob("*.py"))), *REPO.glob("*.py")]


def test_no_other_module_spells_a_llamafactory_default():
    found = [
        f"{path.relative_to(REPO)}:{line}"
        for path in _our_modules()
        if path != HOME
        for line in _spellings(ast.parse(path.read_text(), filename=str(path)))
    ]
    assert found == [], "import them from video.llamafactory_defaults"


def test_the_search_finds_each_way_of_spelling_a_default():
    """The search itself: each form it looks for is found, other values and other keys are not."""
    spelled = [
        'settings.get("video_fps", 2.0)',
        'getattr(processor, "video_maxlen", 128)',
        '{"image_max_pixels": 256 * 256}',
        "video_min_pixels: int = 16 * 16",
        "DEFAULT_VIDEO_FPS, DEFAULT_VIDEO_MAXLEN = 2.0, 128",
        "read(clip, cutoff_len=2048)",
        "def read(clip, video_maxlen=128): ...",
    ]
    assert [sorted(set(_spellings(ast.parse(source)))) for source in spelled] == [[1]] * len(spelled)
    other = ['settings.get("video_fps", 8.0)', "video_maxlen = 8", '{"cutoff_len": 256}', "head_dim = 128"]
    assert [_spellings(ast.parse(source)) for source in other] == [[]] * len(other)
