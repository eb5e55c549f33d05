"""glm-eval: reasoning benchmarks for the GLM-4.5 family over OpenAI-compatible APIs."""

__version__ = "0.1.0"
