"""The CI regression gate and the score history.

`glm-eval baseline` stores a run's per-item counts; `glm-eval check` compares a later run with them
item by item and exits 1 only when a drop beyond the tolerance is shown at the chosen alpha;
`glm-eval history` lays every run side by side so that a slow drift, which no single check sees,
shows as a trend. commands.py registers the three subcommands.
"""
