"""The mark every response of glm-eval's simulated endpoint carries, so that a client can tell the
simulator from a real server.

On its own so that a real run can look for the mark without importing the simulator.
"""

SIMULATOR_HEADER = "X-GLM-Eval-Simulator"
