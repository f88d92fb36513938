"""The circuit breaker's half-open trial: claimed only by a route actually tried, and never held forever."""
from types import SimpleNamespace

from ethergate.catalog.snapshot import RouteInfo
from ethergate.gateway.health import COOL_DOWN_SECONDS, OPEN_AFTER_FAILURES, HealthBoard
from ethergate.gateway.upstream import Upstream

CONFIG = {"PROVIDER_KEYS": {"qwen": "sk-test-qwen"}, "PROVIDER_BASE_URLS": {}, "CONNECT_TIMEOUT": 1.0,
          "FIRST_BYTE_TIMEOUT": 1.0, "IDLE_TIMEOUT": 1.0}


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def opened(board: HealthBoard, upstream_model: str) -> None:
    for _ in range(OPEN_AFTER_FAILURES):
        board.record("qwen", upstream_model, False, 5, "upstream returned HTTP 500")


def test_a_route_never_reached_keeps_its_trial():
    clock = Clock()
    board = HealthBoard(clock=clock)
    opened(board, "qwen-plus-latest")
    clock.now += COOL_DOWN_SECONDS + 1
    model = SimpleNamespace(routes=(RouteInfo("qwen", "qwen-plus", 1), RouteInfo("qwen", "qwen-plus-latest", 2)))
    routes = Upstream(CONFIG, board)._routes(model, SimpleNamespace(providers={"qwen": None}), [])
    assert next(routes).upstream_model == "qwen-plus"  # answered by the first route; the second never asked
    assert board.allow("qwen", "qwen-plus-latest")


def test_a_trial_that_never_reports_frees_the_route_after_a_cool_down():
    clock = Clock()
    board = HealthBoard(clock=clock)
    opened(board, "qwen-plus")
    assert not board.allow("qwen", "qwen-plus")
    clock.now += COOL_DOWN_SECONDS + 1
    assert board.allow("qwen", "qwen-plus") and not board.allow("qwen", "qwen-plus")
    clock.now += COOL_DOWN_SECONDS + 1
    assert board.allow("qwen", "qwen-plus")
    board.record("qwen", "qwen-plus", True, 5)
    assert board.allow("qwen", "qwen-plus") and board.allow("qwen", "qwen-plus")
