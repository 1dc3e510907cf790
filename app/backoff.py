"""How long to wait before retry n: pure, shared by run retries and webhook deliveries.

SPEC §4.7: for retry n (1..retry_count) the delay is ``d`` (fixed), ``d·n``
(linear) or ``d·2^(n-1)`` (exponential), capped by the maximum delay, plus an
optional random jitter of 0..jitter seconds. The jitter is added after the cap
so that many jobs failing together do not all come back at the capped instant.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from app.models.enums import Backoff

_GROWTH: dict[Backoff, Callable[[float, int], float]] = {
    Backoff.FIXED: lambda d, _n: d,
    Backoff.LINEAR: lambda d, n: d * n,
    # Capped before the power is taken: 2**(n-1) for n in the thousands would overflow a float.
    Backoff.EXPONENTIAL: lambda d, n: d * 2.0 ** min(n - 1, 1000),
}


def base_delay(policy: Backoff | str, n: int, delay: float, max_delay: float) -> float:
    """Seconds before retry ``n`` (1-based), before jitter: grown per policy, capped."""
    if n < 1:
        raise ValueError(f"retry number must be >= 1, got {n}")
    grown = _GROWTH[Backoff(policy)](float(delay), n)
    return min(grown, float(max_delay))


def retry_delay(
    policy: Backoff | str,
    n: int,
    delay: float,
    max_delay: float,
    jitter: float = 0,
    rng: random.Random | None = None,
) -> float:
    """Seconds before retry ``n``: the capped base delay plus 0..jitter seconds."""
    spread = (rng or random).uniform(0, jitter) if jitter > 0 else 0.0
    return base_delay(policy, n, delay, max_delay) + spread
