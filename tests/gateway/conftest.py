"""Gateway fixtures: a live server on the fake upstream, a funded tenant, and an openai client."""
import pytest
import requests


@pytest.fixture
def tenant(live_factories):
    return live_factories.tenant(credits="100.00", rpm_limit=1000)


@pytest.fixture
def client(live_server, tenant):
    from openai import OpenAI
    return OpenAI(api_key=tenant.plaintext, base_url=live_server.base_url, max_retries=0, timeout=20)


@pytest.fixture(autouse=True)
def clean_fake(fake_upstream):
    fake_upstream.clear()
    yield


def post(live_server, key, body, **kwargs):
    headers = {"Authorization": f"Bearer {key}", **kwargs.pop("headers", {})}
    return requests.post(live_server.base_url + "/chat/completions", json=body, headers=headers, timeout=20,
                         **kwargs)
