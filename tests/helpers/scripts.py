"""The repository's scripts under infer/ loaded as modules, to call their functions the way their main() does."""

import importlib.util
import sys
from types import ModuleType

from tests_paths import REPO


def load_infer_script(name: str) -> ModuleType:
    """`infer/<name>.py` as a module (infer/ is not a package), registered in sys.modules as `name` so that its
    dataclasses and pickles resolve."""
    spec = importlib.util.spec_from_file_location(name, REPO / "infer" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
