"""The Label Studio client's retry and error policy (fakes in place of the server), and where the
connection settings come from. The real server paths are in test_labelstudio.py."""

from __future__ import annotations

import httpx
import pytest
from label_studio_sdk.core.api_error import ApiError

from annotation.client import Connection, LabelStudioClient, resolve_connection
from corpus.errors import ServiceError

TOKEN = "f" * 40
URL = "http://127.0.0.1:9"


def _client(retries: int = 3) -> tuple[LabelStudioClient, list[float]]:
    sleeps: list[float] = []
    return LabelStudioClient(Connection(URL, TOKEN, retries=retries, backoff=0.5), sleep=sleeps.append), sleeps


def _failing(*errors: Exception):
    calls = {"n": 0}

    def fn() -> str:
        calls["n"] += 1
        if calls["n"] <= len(errors):
            raise errors[calls["n"] - 1]
        return "ok"

    return fn, calls


def test_5xx_and_connection_errors_are_retried_with_backoff():
    client, sleeps = _client()
    req = httpx.Request("GET", URL)
    fn, calls = _failing(ApiError(status_code=502, body="bad gateway"), httpx.ConnectError("refused", request=req),
                         ApiError(status_code=429, body={"detail": "slow down"}))
    assert client.call("list projects", fn) == "ok"
    assert calls["n"] == 4 and sleeps == [0.5, 1.0, 2.0]


def test_gives_up_after_the_last_attempt_naming_the_url():
    client, sleeps = _client(retries=2)
    req = httpx.Request("GET", URL)
    fn, _ = _failing(*[httpx.ConnectError("refused", request=req)] * 5)
    with pytest.raises(ServiceError) as e:
        client.call("list projects", fn)
    assert f"unreachable at {URL}" in str(e.value) and "3 attempts" in str(e.value) and len(sleeps) == 2
    fn, _ = _failing(*[ApiError(status_code=500, body={"detail": "boom"})] * 5)
    with pytest.raises(ServiceError, match=r"failed after 3 attempts \(HTTP 500: boom\)"):
        client.call("list projects", fn)


@pytest.mark.parametrize(("code", "expected"), [
    (401, "the API token was refused (401)"),
    (403, "forbidden (403)"),
    (404, "not found (404) while trying to read project 9: Not found."),
    (400, "refused to read project 9 (HTTP 400): Validation error: {\"title\": [\"too short\"]}"),
])
def test_client_errors_are_not_retried_and_say_what_happened(code, expected):
    client, sleeps = _client()
    body = {"detail": "Not found."} if code == 404 else {"detail": "Validation error",
                                                         "validation_errors": {"title": ["too short"]}}
    fn, calls = _failing(ApiError(status_code=code, body=body))
    with pytest.raises(ServiceError) as e:
        client.call("read project 9", fn)
    assert expected in str(e.value) and calls["n"] == 1 and sleeps == []
    assert TOKEN not in str(e.value) and e.value.where == URL


def test_a_post_is_not_repeated_after_a_timeout():
    client, sleeps = _client()
    fn, calls = _failing(httpx.ReadTimeout("slow", request=httpx.Request("POST", URL)))
    with pytest.raises(ServiceError, match="no complete answer"):
        client.call("import tasks", fn, idempotent=False)
    assert calls["n"] == 1
    fn, calls = _failing(httpx.ReadTimeout("slow", request=httpx.Request("GET", URL)))
    assert client.call("list tasks", fn) == "ok" and calls["n"] == 2


def test_connection_settings_precedence(tmp_path, monkeypatch):
    env = tmp_path / ".env"
    env.write_text(f"LABEL_STUDIO_URL=http://127.0.0.1:8111\nLABEL_STUDIO_USER_TOKEN={'e' * 40}\n")
    for name in ("LABEL_STUDIO_URL", "LABEL_STUDIO_API_KEY", "LABEL_STUDIO_USER_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    conn = resolve_connection(env_file=env)
    assert (conn.url, conn.token) == ("http://127.0.0.1:8111", "e" * 40)
    monkeypatch.setenv("LABEL_STUDIO_API_KEY", TOKEN)
    monkeypatch.setenv("LABEL_STUDIO_URL", "http://127.0.0.1:8222/")
    conn = resolve_connection(env_file=env)
    assert (conn.url, conn.token) == ("http://127.0.0.1:8222", TOKEN)
    assert TOKEN not in repr(conn)
    monkeypatch.delenv("LABEL_STUDIO_API_KEY")
    with pytest.raises(ServiceError, match="no API token"):
        resolve_connection(env_file=tmp_path / "absent.env")
