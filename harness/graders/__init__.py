"""Graders: turn a response and its gold answer into a verdict that explains itself.

``grade()`` is the pure function behind every verdict; ``GradingPool`` runs it in worker
processes with a time limit per case, for runs, ``regrade`` and ``glm-eval grade``.
"""

from harness.graders.grade import GRADERS, grade
from harness.graders.pool import GradeCase, GradingPool
from harness.graders.verdict import Verdict

__all__ = ["GRADERS", "GradeCase", "GradingPool", "Verdict", "grade"]
