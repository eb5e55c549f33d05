"""The simulated provider's prompt cache: which leading tokens of a prompt it has seen before.

Z.ai, BigModel and OpenAI cache prompt prefixes on their own ("implicit caching") and report the
tokens read from the cache as usage.prompt_tokens_details.cached_tokens, billed at a lower rate
(docs.z.ai/guides/capabilities/cache; platform.openai.com/docs/guides/prompt-caching). In an
evaluation the hits come from the samples of one item (the same prompt k times) and from the
instructions every prompt of a task starts with; this cache gives both, by blocks of tokens as
the real caches do (the block size is the simulator's own choice: the providers do not publish
theirs for GLM). It is state of one server process: a restarted simulator starts cold.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

BLOCK_TOKENS = 16


class PromptCache:
    """Prefix hashes at block boundaries, as many as the prompts seen (a test double's memory)."""

    def __init__(self, block: int = BLOCK_TOKENS) -> None:
        self.block = block
        self._seen: set[bytes] = set()

    def read(self, tokens: Sequence[str], scope: tuple[str | None, ...] = ()) -> int:
        """The tokens of `tokens` read from the cache (the longest whole-block prefix seen before);
        the prompt's own blocks are written to it, so the next request with the same start hits.
        Prompts of different `scope`s (host, model) share nothing."""
        digest = hashlib.sha256(repr(scope).encode())
        cached = 0
        for end in range(self.block, len(tokens) + 1, self.block):
            digest.update("\x1f".join(tokens[end - self.block : end]).encode() + b"\x1e")
            key = digest.copy().digest()
            if key in self._seen:
                if cached == end - self.block:
                    cached = end
            else:
                self._seen.add(key)
        return cached
