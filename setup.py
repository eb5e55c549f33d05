"""The wheel carries the default configs/ and tasks/ inside the package (harness/defaults/), so that
an installed glm-eval finds them; in a checkout they stay at the top of the repository, where users
read and edit them (harness/paths.py decides which is used)."""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py


class BuildWithDefaults(build_py):
    def run(self) -> None:
        super().run()
        for name in ("configs", "tasks"):
            shutil.copytree(Path(name), Path(self.build_lib) / "harness" / "defaults" / name, dirs_exist_ok=True)


setup(cmdclass={"build_py": BuildWithDefaults})
