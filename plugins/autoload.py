"""Start-up hook: LLaMA-Factory's processes in the project's venv get our plugin when they import its registries.

    make setup                                              # writes the .pth that runs this (plugins.install_autoload)
    llamafactory-cli train configs/tiny_qwen2vl_demo.yaml   # now knows qwen2_vl_exact, from any directory
    FORCE_TORCHRUN=1 llamafactory-cli train CONFIG.yaml     # in the torchrun workers it launches, too

The one-line .pth (plugins/install_autoload.py) puts a finder at the front of ``sys.meta_path`` at every start of the
venv's interpreter; it returns None for every module but ``llamafactory.data``, so a start-up that never imports
LLaMA-Factory pays for one compiled line and one class (measured in docs/training.md), and imports nothing. When
``llamafactory.data`` is imported, that finder runs this file (as a module of its own, not ``plugins.autoload``:
nothing is added to sys.path) and hands over to ``find_spec_after``. Once ``llamafactory.data`` has run (its template
and multimodal plugin registries are then filled), ``plugins.llamafactory_cli.on_llamafactory_import`` registers our
templates (and, in ``llamafactory-cli train``, checks and records the run). Our own entry points
(``python -m plugins.train`` ...) reach LLaMA-Factory through plugins/llamafactory_boundary.py and register
explicitly, so the hook stands aside there.

The project's packages (PROJECT_PACKAGES) are then served from one checkout, by a second finder put in front of
``sys.meta_path`` only then, in that process: the way an editable install maps a project's top-level packages to its
source folder, without putting the checkout on every interpreter's sys.path. The checkout is the one whose
``plugins`` the process already imported (``python -m`` from a checkout, whichever it is), else this one.
"""

import os
import sys

# what our plugin imports, directly or not (tests/test_autoload.py holds the list to the imports)
PROJECT_PACKAGES = frozenset({"common", "data", "evaluation", "frame_store", "plugins", "video"})
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


def find_spec_after(hook, name, path=None, target=None):
    """The spec of ``llamafactory.data`` as the other finders give it (not ``hook``, the .pth's finder, nor another
    such hook), its loader wrapped in _RegisterAfter."""
    for finder in sys.meta_path:
        if type(finder).__name__ == type(hook).__name__ or not hasattr(finder, "find_spec"):
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
