"""The webhook listener (ASGI): authenticate, bound, validate, commit, then acknowledge.

Tampuuri treats any 2xx as delivered and gives a bundle up after 5 attempts, so the
receiver answers 200 only after the bundle is committed to ops.webhook_inbox, and 503
when the warehouse is down so that the bus tries again. It never calls the Tampuuri API:
the refresh happens later, coalesced, from the inbox.

Answers: 403 source address not allowed; 401 missing or wrong secret; 413 body over
max_body_bytes (refused from Content-Length, or while streaming, without reading the
rest); 408 body not received within body_timeout_s (the connection is closed); 400 not
JSON, or JSON but not a bundle; 503 warehouse unavailable (only that: a notification
that cannot be stored as it is goes to the dead letters with the reason, and its
siblings are stored); 200 `{"stored", "duplicates", "invalid"}`. A client that
disconnects mid-body is logged in one line. The header read timeout is the server's
(pipelines/webhooks/server.py).
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import threading
from collections.abc import Callable

from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from pipelines.settings import ConfigError
from pipelines.webhooks.body import BodyError, parse_body
from pipelines.webhooks.events import EventMapping, load_event_mapping
from pipelines.webhooks.inbox import driver_message, store_bundle
from pipelines.webhooks.notification import BundleError
from pipelines.webhooks.settings import ReceiverSettings

log = logging.getLogger(__name__)
EngineSource = Engine | Callable[[], Engine]
RETRY_AFTER_S = "30"


class _LazyEngine:
    """The engine, created on first use: building the app opens no connection."""

    def __init__(self, source: EngineSource) -> None:
        self._source = source
        self._engine = source if isinstance(source, Engine) else None
        self._lock = threading.Lock()

    def get(self) -> Engine:
        if self._engine is None:
            with self._lock:
                if self._engine is None:
                    assert not isinstance(self._source, Engine)
                    self._engine = self._source()
        return self._engine


class _TooLarge(Exception):
    pass


def create_receiver_app(
    engine: EngineSource, settings: ReceiverSettings, *, mapping: EventMapping | None = None
) -> Starlette:
    """Build the receiver.

    Args:
        engine: the warehouse engine, or a factory called on first use.
        settings: path, auth mode, secrets, body limit, allow-list.
        mapping: event types -> rules (config/events.yaml by default): types it does not
            know are stored with status `unknown`.

    Raises:
        ConfigError: no secret is configured (the receiver never runs unauthenticated).
    """
    if not settings.secrets:
        raise ConfigError(
            "TAMPUURI_WEBHOOK_SECRET is not set: the webhook receiver needs at least one secret"
        )
    rules = mapping or load_event_mapping()
    engines = _LazyEngine(engine)
    expected = tuple(secret.get_secret_value().encode() for secret in settings.secrets)

    def authenticated(candidate: str | None) -> bool:
        # Compare against every secret, without stopping at a match, so timing says
        # neither whether nor which secret matched.
        supplied = (candidate or "").encode()
        matched = False
        for secret in expected:
            matched |= hmac.compare_digest(supplied, secret)
        return matched

    async def receive(request: Request) -> Response:
        host = request.client.host if request.client else None
        if not settings.allows(host):
            log.warning("webhook refused: source %s not in allow_from", host)
            return _message(403, "source address not allowed")
        if settings.auth_mode == "path":
            candidate = request.path_params.get("token")
        else:
            candidate = request.headers.get(settings.header_name)
        if not candidate:
            return _message(401, "missing webhook secret")
        if not authenticated(candidate):
            log.warning("webhook refused: wrong secret from %s", host)
            return _message(401, "invalid webhook secret")
        try:
            async with asyncio.timeout(settings.body_timeout_s):
                body = await _read_body(request, settings.max_body_bytes)
        except _TooLarge:
            return _message(413, f"body exceeds {settings.max_body_bytes} bytes")
        except ValueError as exc:
            return _message(400, str(exc))
        except TimeoutError:
            log.warning(
                "webhook from %s: body not received within %s s, connection closed",
                host,
                settings.body_timeout_s,
            )
            return _message(
                408, f"body not received within {settings.body_timeout_s} s", close=True
            )
        except ClientDisconnect:
            log.warning("webhook from %s: client disconnected before the body was complete", host)
            return _message(400, "client disconnected", close=True)
        try:
            parsed = parse_body(body)
        except BodyError as exc:
            return _message(400, str(exc))
        except BundleError as exc:
            return _message(400, f"not a webhook bundle: {exc}")
        try:
            result = await run_in_threadpool(
                lambda: store_bundle(engines.get(), parsed, mapping=rules)
            )
        except (SQLAlchemyError, OSError) as exc:
            log.error("webhook bundle not stored, warehouse unavailable: %s", driver_message(exc))
            return _message(503, "warehouse unavailable, retry later", retry=True)
        log.info(
            "webhook bundle from %s attempt %d: %d stored, %d duplicates, %d invalid",
            host,
            parsed.attempts,
            result.stored,
            result.duplicates,
            result.invalid,
        )
        return JSONResponse(
            {"stored": result.stored, "duplicates": result.duplicates, "invalid": result.invalid}
        )

    async def missing_token(request: Request) -> Response:
        host = request.client.host if request.client else None
        if not settings.allows(host):
            return _message(403, "source address not allowed")
        return _message(401, "missing webhook secret")

    async def healthz(request: Request) -> Response:
        def ping() -> None:
            with engines.get().connect() as conn:
                conn.execute(text("SELECT 1"))

        try:
            await run_in_threadpool(ping)
        except (SQLAlchemyError, OSError) as exc:
            log.error("healthz: warehouse unavailable: %s", driver_message(exc))
            return JSONResponse({"status": "unavailable"}, status_code=503)
        return JSONResponse({"status": "ok"})

    routes = [Route("/healthz", healthz, methods=["GET"])]
    if settings.auth_mode == "path":
        routes += [
            Route(settings.path, missing_token, methods=["POST"]),
            Route(settings.path + "/{token}", receive, methods=["POST"]),
        ]
    else:
        routes.append(Route(settings.path, receive, methods=["POST"]))
    return Starlette(routes=routes)


async def _read_body(request: Request, limit: int) -> bytes:
    """The body, refusing more than `limit` bytes without reading the rest."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.strip().isdigit():
            raise ValueError("Content-Length is not a number")
        if int(declared) > limit:
            raise _TooLarge
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _TooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def _message(
    status: int, message: str, *, retry: bool = False, close: bool = False
) -> JSONResponse:
    headers = {"Retry-After": RETRY_AFTER_S} if retry else {}
    if close:  # the request was not read to its end: this connection cannot carry another
        headers["Connection"] = "close"
    return JSONResponse({"Message": message}, status_code=status, headers=headers)
