"""The receiver answers 2xx only after the bundle is committed: auth by header, by path
token and during rotation (401 otherwise), source allow-list (403), oversized bodies
refused without reading them (413), malformed JSON and non-bundles (400 naming the
problem), partial-invalid bundles (200 + dead letters), redelivery (no new rows), a
warehouse that is down (503), /healthz; no secret ever appears in a response or log."""

from __future__ import annotations

import logging

import orjson
import pytest
from pydantic import SecretStr

from pipelines.settings import ConfigError
from pipelines.warehouse.engine import make_engine
from pipelines.webhooks.receiver import create_receiver_app
from pipelines.webhooks.settings import ReceiverSettings

from .conftest import OLD_SECRET, SECRET, asgi_client, bundle, count, notification, run

PATH = "/tampuuri/webhook"


async def _post(app, body, *, headers=None, path=PATH, client_host="127.0.0.1"):
    async with asgi_client(app, client_host) as client:
        content = body if isinstance(body, bytes | CountingBody) else orjson.dumps(body)
        return await client.post(path, content=content, headers=headers or {})


def post(app, body, **kwargs):
    return run(lambda: _post(app, body, **kwargs))


def test_header_auth_with_rotation(engine, settings, mapping):
    app = create_receiver_app(engine, settings, mapping=mapping)
    ok = post(app, bundle(notification(1)), headers={"X-Webhook-Secret": SECRET})
    old = post(app, bundle(notification(2)), headers={"X-Webhook-Secret": OLD_SECRET})
    wrong = post(app, bundle(notification(3)), headers={"X-Webhook-Secret": "nope"})
    missing = post(app, bundle(notification(4)))
    assert (ok.status_code, old.status_code) == (200, 200)
    assert ok.json() == {"stored": 1, "duplicates": 0, "invalid": 0}
    assert (wrong.status_code, missing.status_code) == (401, 401)
    assert wrong.json() == {"Message": "invalid webhook secret"}
    assert missing.json() == {"Message": "missing webhook secret"}
    assert count(engine, "SELECT count(*) FROM ops.webhook_inbox") == 2


def test_path_token_auth(engine, mapping):
    settings = ReceiverSettings(secrets="tok-a,tok-b", auth_mode="path", path="/hooks/tampuuri/")
    app = create_receiver_app(engine, settings, mapping=mapping)
    assert post(app, bundle(notification(1)), path="/hooks/tampuuri/tok-a").status_code == 200
    assert post(app, bundle(notification(2)), path="/hooks/tampuuri/tok-b").status_code == 200
    assert post(app, bundle(notification(3)), path="/hooks/tampuuri/tok-c").status_code == 401
    assert post(app, bundle(notification(4)), path="/hooks/tampuuri").status_code == 401
    # in path mode the header is not a way in
    header_only = post(
        app, bundle(notification(5)), path="/hooks/tampuuri", headers={"X-Webhook-Secret": "tok-a"}
    )
    assert header_only.status_code == 401
    assert count(engine, "SELECT count(*) FROM ops.webhook_inbox") == 2


def test_allow_list(engine, mapping):
    settings = ReceiverSettings(secrets=SECRET, allow_from="10.20.0.0/16, 127.0.0.1")
    app = create_receiver_app(engine, settings, mapping=mapping)
    headers = {"X-Webhook-Secret": SECRET}
    inside = post(app, bundle(notification(1)), headers=headers, client_host="10.20.3.4")
    outside = post(app, bundle(notification(2)), headers=headers, client_host="192.0.2.9")
    assert inside.status_code == 200
    assert outside.status_code == 403
    assert outside.json() == {"Message": "source address not allowed"}
    assert count(engine, "SELECT count(*) FROM ops.webhook_inbox") == 1


class CountingBody:
    """An async request body that records how many bytes the server pulled."""

    def __init__(self, chunks: int, chunk_size: int) -> None:
        self.chunks, self.chunk_size, self.sent = chunks, chunk_size, 0

    async def __aiter__(self):
        for _ in range(self.chunks):
            self.sent += self.chunk_size
            yield b" " * self.chunk_size


def test_oversized_body_is_refused_without_reading_it(engine, mapping):
    settings = ReceiverSettings(secrets=SECRET, max_body_bytes=100_000)
    app = create_receiver_app(engine, settings, mapping=mapping)
    headers = {"X-Webhook-Secret": SECRET}

    declared = CountingBody(chunks=100, chunk_size=10_000)
    response = post(app, declared, headers={**headers, "Content-Length": "1000000"})
    assert response.status_code == 413
    assert declared.sent <= 10_000  # refused on Content-Length, before reading the body

    chunked = CountingBody(chunks=100, chunk_size=10_000)
    response = post(app, chunked, headers=headers)
    assert response.status_code == 413
    assert response.json() == {"Message": "body exceeds 100000 bytes"}
    assert chunked.sent <= 120_000  # stopped just past the limit, not 1 MB
    assert count(engine, "SELECT count(*) FROM ops.webhook_inbox") == 0


def test_malformed_json_and_not_a_bundle_are_400(engine, settings, mapping):
    app = create_receiver_app(engine, settings, mapping=mapping)
    headers = {"X-Webhook-Secret": SECRET}
    broken = post(app, b'{"Attempts": 1, "Notifications": [', headers=headers)
    assert broken.status_code == 400
    assert broken.json()["Message"].startswith("body is not valid JSON: ")
    empty = post(app, b"", headers=headers)
    assert empty.status_code == 400
    not_bundle = post(app, {"Attempts": 1, "Items": []}, headers=headers)
    assert not_bundle.status_code == 400
    assert not_bundle.json() == {
        "Message": "not a webhook bundle: Notifications is missing "
        "(expected a list of notifications)"
    }
    array = post(app, [notification(1)], headers=headers)
    assert array.status_code == 400
    assert "expected a JSON object" in array.json()["Message"]
    assert count(engine, "SELECT count(*) FROM ops.webhook_inbox") == 0
    assert count(engine, "SELECT count(*) FROM ops.webhook_dead_letters") == 0


def test_partial_invalid_bundle_redelivery_and_unknown_types(engine, settings, mapping):
    app = create_receiver_app(engine, settings, mapping=mapping)
    headers = {"X-Webhook-Secret": SECRET}
    items = [
        notification(1),
        notification(2, action="IlmoitusUusi"),
        notification(3, ReferenceId=None),
        notification(4, action="TuntematonTapahtuma"),
    ]
    first = post(app, bundle(*items), headers=headers)
    assert first.status_code == 200
    assert first.json() == {"stored": 3, "duplicates": 0, "invalid": 1}
    again = post(app, bundle(*items, attempts=2), headers=headers)
    assert again.json() == {"stored": 0, "duplicates": 3, "invalid": 1}
    assert count(engine, "SELECT count(*) FROM ops.webhook_inbox") == 3
    assert count(engine, "SELECT count(*) FROM ops.webhook_inbox WHERE status = 'unknown'") == 1
    assert count(engine, "SELECT count(*) FROM ops.webhook_inbox WHERE attempts_seen = 2") == 3
    # an invalid notification is dead-lettered per delivery: the operator sees each one
    assert count(engine, "SELECT count(*) FROM ops.webhook_dead_letters") == 2


def test_warehouse_down_is_503_and_healthz_reports_it(engine, settings, mapping, caplog):
    down = make_engine("postgresql+psycopg://u:hunter2@127.0.0.1:1/none?connect_timeout=1")
    app = create_receiver_app(down, settings, mapping=mapping)
    with caplog.at_level(logging.INFO):
        response = post(app, bundle(notification(1)), headers={"X-Webhook-Secret": SECRET})
        health = run(lambda: _get(app, "/healthz"))
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "30"
    assert response.json() == {"Message": "warehouse unavailable, retry later"}
    assert health.status_code == 503
    assert "hunter2" not in caplog.text and SECRET not in caplog.text

    healthy = create_receiver_app(lambda: engine, settings, mapping=mapping)
    assert run(lambda: _get(healthy, "/healthz")).json() == {"status": "ok"}


async def _get(app, path):
    async with asgi_client(app) as client:
        return await client.get(path)


def test_secrets_stay_out_of_responses_logs_and_repr(engine, settings, mapping, caplog):
    app = create_receiver_app(engine, settings, mapping=mapping)
    with caplog.at_level(logging.DEBUG):
        for secret in (SECRET, "wrong-guess"):
            response = post(app, bundle(notification(9)), headers={"X-Webhook-Secret": secret})
            assert SECRET not in response.text
    assert SECRET not in caplog.text and "wrong-guess" not in caplog.text
    assert SECRET not in repr(settings) and OLD_SECRET not in str(settings)


def test_receiver_refuses_to_start_without_a_secret(mapping, monkeypatch):
    monkeypatch.delenv("TAMPUURI_WEBHOOK_SECRET", raising=False)
    with pytest.raises(ConfigError, match="TAMPUURI_WEBHOOK_SECRET"):
        create_receiver_app(lambda: None, ReceiverSettings(), mapping=mapping)


def test_settings_read_from_environment(monkeypatch):
    monkeypatch.setenv("TAMPUURI_WEBHOOK_SECRET", "new, old")
    monkeypatch.setenv("TAMPUURI_WEBHOOK_AUTH_MODE", "path")
    monkeypatch.setenv("TAMPUURI_WEBHOOK_MAX_BODY_BYTES", "2048")
    monkeypatch.setenv("TAMPUURI_WEBHOOK_ALLOW_FROM", "192.0.2.0/24")
    loaded = ReceiverSettings()
    assert loaded.secrets == (SecretStr("new"), SecretStr("old"))
    assert (loaded.auth_mode, loaded.max_body_bytes) == ("path", 2048)
    assert loaded.allows("192.0.2.7") and not loaded.allows("198.51.100.1")
