"""A simulated OpenAI-compatible endpoint for the GLM-4.5 family: a test double for the harness.

It is a real HTTP server on loopback that speaks the chat-completions protocol (JSON and SSE,
reasoning_content, usage, errors), answers benchmark items with a calibrated, deterministic
accuracy per variant, injects provider faults on demand, and can play one host serving the models
(a provider profile: its accuracy, thinking switch, usage and speed). Nothing it returns is a
measurement of a real model or host.
"""

from .faults import Faults
from .key import KeyItem
from .options import DEFAULT_PROFILES, FixedLatency, SimOptions
from .process import serve
from .profiles import ProfileError, Profiles, ProviderProfile, VariantProfile, load_profiles
from .server import make_app, start_server

__all__ = [
    "DEFAULT_PROFILES", "Faults", "FixedLatency", "KeyItem", "ProfileError", "Profiles", "ProviderProfile",
    "SimOptions", "VariantProfile", "load_profiles", "make_app", "serve", "start_server",
]
