"""`tampuuri-sync webhooks inbox` prints the inbox summary (unknown types named) from the
warehouse in TAMPUURI_DATABASE_URL; `serve` refuses to start without a webhook secret."""

from __future__ import annotations

from typer.testing import CliRunner

from pipelines.webhooks.cli import webhooks_app
from pipelines.webhooks.inbox import store_bundle

from .conftest import bundle, notification


def test_inbox_command_prints_counts_and_unknown_types(engine, warehouse_url, mapping, monkeypatch):
    store_bundle(
        engine,
        bundle(notification(1), notification(2), notification(3, action="TuntematonTapahtuma")),
        mapping=mapping,
    )
    monkeypatch.setenv("TAMPUURI_DATABASE_URL", warehouse_url)
    result = CliRunner().invoke(webhooks_app, ["inbox"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "KohderekisteriTietoMuokkaa" in result.output
    assert (
        "unknown event types (add them to config/events.yaml): TuntematonTapahtuma (1)"
        in result.output
    )
    assert "dead letters: 0" in result.output


def test_serve_without_secret_is_a_config_error(warehouse_url, monkeypatch):
    monkeypatch.delenv("TAMPUURI_WEBHOOK_SECRET", raising=False)
    monkeypatch.setenv("TAMPUURI_DATABASE_URL", warehouse_url)
    result = CliRunner().invoke(webhooks_app, ["serve", "--port", "1"])
    assert result.exit_code == 2
    assert "TAMPUURI_WEBHOOK_SECRET is not set" in result.output
