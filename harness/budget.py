"""`--max-cost`: stop sending once the spend, counting the worst case of what is in flight,
would pass the limit.

Before a request goes out its worst case (its prompt, estimated generously, plus every token
max_tokens allows) is reserved; when it comes back the reservation is replaced by what the usage
says it cost. So the spend can never pass the limit by more than the estimate's error, and a
run stopped by its budget says so and resumes, like any run, from the store.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from harness.cost import ModelPrice

PER_TOKEN = 1e-6


def prompt_tokens_upper(text_chars: int) -> int:
    """A generous bound on a prompt's tokens from its length (tokenisers average 3-4 characters a
    token on English and LaTeX; half that leaves room for unusual text)."""
    return text_chars // 2 + 16


def request_cost(price: ModelPrice, prompt_tokens: float, completion_tokens: float) -> float:
    assert price.input_per_mtok is not None and price.output_per_mtok is not None
    return (prompt_tokens * price.input_per_mtok + completion_tokens * price.output_per_mtok) * PER_TOKEN


@dataclass
class Budget:
    limit: float
    prices: dict[str, ModelPrice]  # by variant
    max_tokens: int
    currency: str
    priced_as: str
    spent: float = 0.0
    reserved: float = 0.0
    stopped: bool = False
    _changed: asyncio.Condition = field(default_factory=asyncio.Condition, repr=False)

    async def reserve(self, model: str, prompt_chars: int) -> float | None:
        """The amount set aside for one request, or None once it cannot fit even when nothing
        else is in flight (then the budget stops). While other requests are in flight it waits for
        them to settle: their real cost is usually far below their worst case."""
        worst = request_cost(self.prices[model], prompt_tokens_upper(prompt_chars), self.max_tokens)
        async with self._changed:
            while not self.stopped and self.spent + self.reserved + worst > self.limit:
                if self.reserved <= 0:
                    self.stopped = True
                    break
                await self._changed.wait()
            if self.stopped:
                self._changed.notify_all()
                return None
            self.reserved += worst
            return worst

    async def settle(self, model: str, reserved: float, prompt_tokens: int | None, completion_tokens: int | None) -> None:
        """Replace a reservation by the request's real cost (its worst case when usage is missing)."""
        if prompt_tokens is None or completion_tokens is None:
            cost = reserved
        else:
            cost = request_cost(self.prices[model], prompt_tokens, completion_tokens)
        async with self._changed:
            self.reserved -= reserved
            self.spent += cost
            self._changed.notify_all()

    async def release(self, reserved: float) -> None:
        """A request that failed without an answer is not billed."""
        async with self._changed:
            self.reserved -= reserved
            self._changed.notify_all()

    def summary(self) -> dict[str, object]:
        return {"max_cost": self.limit, "currency": self.currency, "priced_as": self.priced_as, "spent": round(self.spent, 6), "stopped": self.stopped}
