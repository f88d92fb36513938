import requests


def test_healthz_over_real_http(live_server):
    response = requests.get(live_server.url + "/healthz", timeout=5)
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
