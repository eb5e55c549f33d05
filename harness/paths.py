"""Where the project's own files live.

The built-in configs/ and tasks/ sit at the top of the repository, next to the package, so that
users read and edit them like any other file. GLM_EVAL_HOME points elsewhere when the package is
installed away from its checkout.
"""

import os
from pathlib import Path

HOME = Path(os.environ.get("GLM_EVAL_HOME", Path(__file__).resolve().parent.parent))
CONFIGS = HOME / "configs"
TASKS = HOME / "tasks"
RESULTS = Path("results")
