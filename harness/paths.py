"""Where the project's own files live: the one place that says where configs, tasks and prices
come from.

In a checkout (or an editable install) the built-in configs/ and tasks/ sit at the top of the
repository, next to the package, so that users read and edit them like any other file. A built
wheel carries copies inside the package (harness/defaults/, see setup.py). GLM_EVAL_HOME names a
folder with configs/ and tasks/ of one's own, and wins over both.
"""

import os
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent
_CHECKOUT = _PACKAGE.parent
_BUILT = _PACKAGE / "defaults"


def _home() -> Path:
    if os.environ.get("GLM_EVAL_HOME"):
        return Path(os.environ["GLM_EVAL_HOME"])
    if (_CHECKOUT / "configs" / "providers.yaml").exists() and (_CHECKOUT / "harness").is_dir():
        return _CHECKOUT
    return _BUILT


HOME = _home()
CONFIGS = HOME / "configs"
TASKS = HOME / "tasks"
PRICES = CONFIGS / "prices.yaml"
RESULTS = Path("results")
