"""Fixtures shared by the limiter tests."""
import pytest


@pytest.fixture
def killable_redis(redis_server):
    if redis_server.external:
        pytest.skip("cannot stop an external Redis")
    yield redis_server
    if not redis_server.is_running():
        redis_server.restart()
