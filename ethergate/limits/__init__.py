"""Per-key rate limits: requests per minute and tokens per minute.

Requests per minute is a sliding-window log: a key may make at most `limit` requests in any rolling
60-second window; there is no minute boundary at which a client can send a double burst. A request at
time t counts while the window (now - 60 s, now] contains t. For each request `hit()` returns:

- `allowed`: whether this request fits; a refused request is not recorded and does not use up the window.
- `limit`: the limit applied.
- `remaining`: how many more requests would be allowed right now, after this one (0 on the last allowed).
- `retry_after`: 0 when allowed; when refused, the seconds until enough of the oldest requests leave the
  window that the next request is allowed (feeds `Retry-After`).
- `reset_seconds`: the seconds until every request now in the window has left it, so a full `limit`
  is available again (feeds `X-RateLimit-Reset`).

Tokens per minute uses the same window over a sum: `check_tokens()` allows a request when the tokens
recorded in the last 60 s plus the tokens it needs are at most the key's limit; `record_tokens()` adds
the tokens a request actually used once it finishes. Requests admitted at the same moment can together
overshoot by their own sizes, because usage is only known after the upstream answers.

With Redis (ETHERGATE_REDIS_URL) the windows are shared by every gateway process and host, using the
Redis server's clock. Without it each process keeps its own windows. When Redis fails,
ETHERGATE_RATE_LIMIT_FAILURE_MODE decides: "open" limits each process on its own until Redis is back,
"closed" refuses requests with 503 rate_limiter_unavailable.

With Redis, a process leases several request slots of a busy key at once and admits the key's next
requests from them without a round trip (`leases.py`): a leased slot counts from when it is leased until
60 s after its lease ends, so the limit above holds exactly across all processes; what leases cost is
over-counting, at most ETHERGATE_RATE_LIMIT_LEASE_PERCENT (2 %) of the limit per process for at most
ETHERGATE_RATE_LIMIT_LEASE_SECONDS (1 s), and `remaining` as seen when the lease was taken, minus this
process's use since. Keys whose lease would be a single slot (under 100 requests per minute at 2 %) make
one round trip per request as before. Token use is written in batches every ~0.2 s (`token_batch.py`); a
process's own unwritten use counts in its checks at once, other processes see it at the next batch, so
requests admitted meanwhile on other processes can add their own sizes to the overshoot admitted above.
"""
from .limiter import Limiter, LimiterUnavailable, get_limiter
from .memory import WINDOW_SECONDS, LimitResult, MemoryLimiter
from .redis_backend import RedisLimiter

__all__ = ["Limiter", "LimiterUnavailable", "LimitResult", "MemoryLimiter", "RedisLimiter", "WINDOW_SECONDS",
           "get_limiter"]
