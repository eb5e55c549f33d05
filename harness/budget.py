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

from harness.cost import REPORTED_CURRENCY, ModelPrice
from harness.cost import request_cost as _table_cost

PER_TOKEN = 1e-6


def prompt_tokens_upper(text_chars: int) -> int:
    """A generous bound on a prompt's tokens from its length (tokenisers average 3-4 characters a
    token on English and LaTeX; half that leaves room for unusual text)."""
    return text_chars // 2 + 16


def request_cost(price: ModelPrice, prompt_tokens: float, completion_tokens: float, factor: float = 1.0) -> float:
    """The worst case is priced with no cache reads: a request's cache hit is known only once it is back."""
    return _table_cost(price, prompt_tokens, completion_tokens, factor=factor)


@dataclass
class Budget:
    limit: float
    prices: dict[str, ModelPrice]  # by variant
    max_tokens: int
    currency: str
    priced_as: str
    factor: float = 1.0  # the batch API's discount on every rate, for a batch run
    spent: float = 0.0
    reserved: float = 0.0
    stopped: bool = False
    _changed: asyncio.Condition = field(default_factory=asyncio.Condition, repr=False)

    async def reserve(self, model: str, prompt_chars: int) -> float | None:
        """The amount set aside for one request, or None once it cannot fit even when nothing
        else is in flight (then the budget stops). While other requests are in flight it waits for
        them to settle: their real cost is usually far below their worst case."""
        worst = self.worst_case(model, prompt_chars)
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

    def worst_case(self, model: str, prompt_chars: int) -> float:
        """What one request can cost at most: its prompt, estimated generously, and every token max_tokens allows."""
        return request_cost(self.prices[model], prompt_tokens_upper(prompt_chars), self.max_tokens, self.factor)

    def cost_of(
        self, model: str, prompt_tokens: int | None, completion_tokens: int | None, cached_tokens: int | None = None,
        cache_write_tokens: int | None = None, reported_cost: float | None = None,
    ) -> float | None:
        """A request's real cost: the provider's own figure where it gave one in the budget's currency, else
        the price table's for its usage (cache reads at the cached rate); None when the usage is missing."""
        if reported_cost is not None and self.currency == REPORTED_CURRENCY:
            return reported_cost
        if prompt_tokens is None or completion_tokens is None:
            return None
        return _table_cost(self.prices[model], prompt_tokens, completion_tokens, cached_tokens or 0, cache_write_tokens or 0, self.factor)

    async def settle(
        self, model: str, reserved: float, prompt_tokens: int | None, completion_tokens: int | None, cached_tokens: int | None = None,
        cache_write_tokens: int | None = None, reported_cost: float | None = None,
    ) -> None:
        """Replace a reservation by the request's real cost (its worst case when usage is missing)."""
        cost = self.cost_of(model, prompt_tokens, completion_tokens, cached_tokens, cache_write_tokens, reported_cost)
        if cost is None:
            cost = reserved
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
        return {"max_cost": self.limit, "currency": self.currency, "priced_as": self.priced_as, "spent": round(self.spent, 6), "stopped": self.stopped,
                "price_factor": self.factor}
