"""gateway/access/http_guard.py: /api/* and /metrics need a credential; health, readiness and the page do not."""

from __future__ import annotations

import hashlib
import logging
from importlib import resources

import pytest
from fastapi import FastAPI, Request
from fastapi.staticfiles import StaticFiles
from fastapi.testclient import TestClient

from babelstream.gateway.access.api_keys import ApiKeys
from babelstream.gateway.access.http_guard import AccessGuard, is_guarded
from babelstream.gateway.access.policy import AccessPolicy
from babelstream.gateway.access.redaction import install_redaction

KEY = "bsk_http-guard-key-0123456789abcdef"
BASE = "http://127.0.0.1:8000"


def app_with(policy: AccessPolicy, allowlist: tuple[str, ...] = ()) -> FastAPI:
    """The gateway's HTTP routes as http_app.py has them, with the guard in front."""
    app = FastAPI()

    @app.get("/healthz")
    async def healthz() -> dict:
        return {"status": "ok"}

    @app.get("/readyz")
    async def readyz() -> dict:
        return {"ready": True}

    @app.get("/metrics")
    async def metrics() -> str:
        return "babelstream_gateway_open_connections 0"

    @app.get("/api/languages")
    async def languages(request: Request) -> dict:
        return {"pairs": ["en-es"], "caller": request.state.principal.name}

    with resources.as_file(resources.files("babelstream.gateway") / "static") as folder:
        app.mount("/", StaticFiles(directory=str(folder), html=True), name="page")
    app.add_middleware(AccessGuard, policy=policy, allowlist=allowlist, bound_host="127.0.0.1")
    return app


@pytest.fixture
def client(tmp_path) -> TestClient:
    path = tmp_path / "keys"
    path.write_text(f"ops:{hashlib.sha256(KEY.encode()).hexdigest()}\n")
    return TestClient(app_with(AccessPolicy(api_keys=ApiKeys(path))), base_url=BASE)


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/", "/main.js"])
def test_health_readiness_and_the_page_stay_open(client, path):
    assert client.get(path).status_code == 200


@pytest.mark.parametrize("path", ["/api/languages", "/metrics"])
def test_api_and_metrics_without_a_credential_get_401_with_a_bearer_challenge(client, path):
    response = client.get(path)
    assert response.status_code == 401
    assert response.json() == {
        "kind": "unauthenticated",
        "reason": "this server requires a credential: send `Authorization: Bearer <key or token>` or `?token=`",
    }
    assert response.headers["www-authenticate"] == 'Bearer realm="babelstream"'
    assert response.headers["cache-control"] == "no-store"


def test_a_wrong_key_says_invalid_token(client):
    response = client.get("/metrics", headers={"Authorization": "Bearer bsk_wrong-key-0000000000"})
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer realm="babelstream", error="invalid_token"'
    assert "bsk_wrong" not in response.text


def test_a_valid_key_in_the_header_or_the_query_passes_and_names_the_caller(client):
    by_header = client.get("/api/languages", headers={"Authorization": f"Bearer {KEY}"})
    assert by_header.status_code == 200 and by_header.json() == {"pairs": ["en-es"], "caller": "ops"}
    assert client.get(f"/metrics?token={KEY}").status_code == 200


@pytest.mark.parametrize("path", ["//api/languages", "/api/../metrics", "/api", "/metrics/"])
def test_no_path_trick_gets_past_the_guard(client, path):
    assert is_guarded(path)
    assert client.get(path).status_code in (401, 404)
    assert client.get(path).status_code != 200


def test_is_guarded():
    assert not is_guarded("/apis")
    assert not is_guarded("/metricsfoo")
    assert not is_guarded("/")
    assert not is_guarded("/healthz")


def test_a_page_from_another_site_is_refused_even_with_a_key(client):
    headers = {"Authorization": f"Bearer {KEY}", "Origin": "https://evil.example"}
    response = client.get("/api/languages", headers=headers)
    assert response.status_code == 403
    assert response.json()["kind"] == "origin"
    assert "www-authenticate" not in response.headers
    same_site = client.get("/api/languages", headers={"Authorization": f"Bearer {KEY}", "Origin": BASE})
    assert same_site.status_code == 200


def test_with_auth_off_everything_is_open_but_the_origin_rule_still_holds():
    client = TestClient(app_with(AccessPolicy()), base_url=BASE)
    assert client.get("/api/languages").json()["caller"] == "anonymous"
    assert client.get("/metrics").status_code == 200
    assert client.get("/metrics", headers={"Origin": "https://evil.example"}).status_code == 403
    rebound = TestClient(app_with(AccessPolicy()), base_url="http://evil.example:8000")
    assert rebound.get("/api/languages").status_code == 403  # DNS rebinding onto a loopback gateway


def test_the_access_log_does_not_carry_the_query_token(client, caplog):
    """What uvicorn would write for the request above, through the filter install_redaction puts on its logger."""
    install_redaction()
    with caplog.at_level(logging.INFO, logger="uvicorn.access"):
        logging.getLogger("uvicorn.access").info(
            '%s - "%s %s HTTP/%s" %d', "127.0.0.1:5000", "GET", f"/metrics?token={KEY}", "1.1", 200
        )
    assert KEY not in caplog.text
    assert "/metrics?token=[redacted]" in caplog.text
