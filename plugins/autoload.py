"""Start-up hook: LLaMA-Factory's processes in the project's venv get our plugin when they import its registries.

    make setup                                              # writes the .pth that runs this (plugins.install_autoload)
    llamafactory-cli train configs/tiny_qwen2vl_demo.yaml   # now knows qwen2_vl_exact, from any directory
    FORCE_TORCHRUN=1 llamafactory-cli train CONFIG.yaml     # in the torchrun workers it launches, too

Python runs the one-line .pth at every start of the venv's interpreter; it loads this file as a module of its own
(from its cached bytecode; not as ``plugins.autoload``: at start-up nothing of the project is imported and nothing is
added to sys.path) and calls ``install()``, which puts one finder at the front of ``sys.meta_path``. Until
LLaMA-Factory's ``llamafactory.data`` is imported that finder only compares a module name per import: a start-up
that never imports LLaMA-Factory pays for loading this file and one list insert (measured in docs/training.md). When
``llamafactory.data`` has run (its template and multimodal plugin registries are then filled),
``plugins.llamafactory_cli.on_llamafactory_import`` registers our templates (and, in ``llamafactory-cli train``,
checks and records the run). Our own entry points (``python -m plugins.train`` ...) reach LLaMA-Factory through
plugins/llamafactory_boundary.py and register explicitly, so the hook stands aside there.

The project's packages (PROJECT_PACKAGES) are then served from one checkout, by a second finder put in front of
``sys.meta_path`` only then, in that process: the way an editable install maps a project's top-level packages to its
source folder, without putting the checkout on every interpreter's sys.path. The checkout is the one whose
``plugins`` the process already imported (``python -m`` from a checkout, whichever it is), else this one.
"""

import os
import sys

TRIGGER = "llamafactory.data"  # holds TEMPLATES and the mm plugin registry, filled as it is imported
PROJECT_PACKAGES = frozenset({"plugins", "video", "frame_store", "data"})  # what our plugin imports
PROJECT_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUR_BOUNDARY = "plugins.llamafactory_boundary"  # imported: our own entry point is at work, it registers itself


class _RegisterAfter:
    """The loader of ``llamafactory.data``, which runs it and then registers our plugin."""

    def __init__(self, loader):
        self.loader = loader

    def __getattr__(self, name):
        return getattr(self.loader, name)

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        self.loader.exec_module(module)
        module.__loader__ = module.__spec__.loader = self.loader  # leave no trace of the wrapper
        if OUR_BOUNDARY not in sys.modules:
            sys.meta_path.insert(0, ProjectPackages(_checkout_in_use()))
            from plugins.llamafactory_cli import on_llamafactory_import

            on_llamafactory_import()


class RegisterOnImport:
    """Finder that wraps the loader of ``llamafactory.data`` (found by the finders after it) in _RegisterAfter."""

    def find_spec(self, name, path=None, target=None):
        if name != TRIGGER:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(name, path, target)
            if spec is not None:
                spec.loader = _RegisterAfter(spec.loader)
                return spec
        return None


def _checkout_in_use() -> str:
    """The checkout whose ``plugins`` this process already imported (``python -m`` from a checkout), else this one."""
    init = getattr(sys.modules.get("plugins"), "__file__", None)
    return os.path.dirname(os.path.dirname(os.path.abspath(init))) if init else PROJECT_ROOT


class ProjectPackages:
    """Finder for the project's top-level packages in one checkout, consulted before sys.path: a torchrun worker
    of LLaMA-Factory runs llamafactory/launcher.py as a script, so sys.path[0] is LLaMA-Factory's own package folder,
    where ``data`` is llamafactory.data."""

    def __init__(self, root):
        self.root = root

    def find_spec(self, name, path=None, target=None):
        if path is not None or name not in PROJECT_PACKAGES:
            return None
        from importlib.machinery import PathFinder

        return PathFinder.find_spec(name, [self.root])


def install() -> None:
    """Put the finder in front of the import system, once per interpreter."""
    if not any(type(finder).__name__ == RegisterOnImport.__name__ for finder in sys.meta_path):
        sys.meta_path.insert(0, RegisterOnImport())
