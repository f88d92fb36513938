"""Turning the failures of every route tried into the one error the client sees."""
from __future__ import annotations

from .errors import GatewayError, provider_failed
from .upstream import CIRCUIT_OPEN, AllRoutesFailed


def error_for_failures(failed: AllRoutesFailed, model_id: str) -> GatewayError:
    failures = failed.failures
    if not failures:
        detail = "; ".join(f"{route}: {reason}" for route, reason in failed.skipped) or "no route is configured"
        resting = sorted({route.split("/")[0] for route, reason in failed.skipped if reason == CIRCUIT_OPEN})
        if resting:
            # Routes resting after repeated failures are a provider outage, not a configuration gap.
            return provider_failed(f"The upstream provider ({', '.join(resting)}) is temporarily unavailable "
                                   f"for {model_id} ({detail}). Retry shortly; support can trace this request "
                                   "by its ID.", resting[0])
        return GatewayError(503, "model_not_ready", f"No provider can serve {model_id} right now: {detail}.",
                            "api_error", "model")
    last = failures[-1]
    providers = sorted({f.provider for f in failures})
    named = ", ".join(providers)
    if last.kind == "bad_request":
        # The provider's words help the caller fix the request; its own code is not one of ours.
        return GatewayError(400, "invalid_request_error", f"{last.provider} rejected the request: {last.message}",
                            "invalid_request_error", provider=last.provider)
    if all(f.kind == "rate_limited" for f in failures):
        waits = [f.retry_after for f in failures if f.retry_after]
        wait = min(waits) if waits else 1.0
        from .admission import retry_headers
        return GatewayError(429, "provider_rate_limited",
                            f"The upstream provider ({named}) is rate limiting EtherGate for {model_id}. "
                            f"This is not your key's limit; retry after {max(int(wait), 1)} s.",
                            "rate_limit_error", provider=last.provider, headers=retry_headers(wait))
    return provider_failed(f"The upstream provider failed for {model_id} ({describe_routes(failed)}). "
                           "Retry later; support can trace this request by its ID.", last.provider)


REASONS = {
    "balance": "the platform's provider account is out of balance (not your credits; operators are notified)",
    "auth": "the platform's provider key was refused (an operator problem, not your key)",
    "not_found": "the provider does not know the model (an operator problem)",
    "rate_limited": "rate limiting the platform",
    "timeout": "no answer in time",
    "network": "could not be reached",
    "server": "unavailable right now",
}


def describe_routes(failed: AllRoutesFailed) -> str:
    """Each reason once, followed by the routes (provider/upstream model) it applies to."""
    routes: dict[str, list[str]] = {}
    for attempt, failure in zip(failed.attempts, failed.failures):
        reason = REASONS.get(failure.kind, "unavailable right now")
        route = f"{attempt.provider}/{attempt.upstream_model}"
        if route not in routes.setdefault(reason, []):
            routes[reason].append(route)
    return "; ".join(f"{reason}: {', '.join(names)}" for reason, names in routes.items())
