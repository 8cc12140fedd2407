"""The receiver's HTTP server: uvicorn, with a deadline on reading a request's headers.

uvicorn (0.55) times out an idle keep-alive connection, but nothing else: a client that
opens a connection and sends part of a request line or of its headers, then stalls, holds
the connection for ever (a slow-loris). The protocol below arms a deadline when a
connection opens, and again when the first bytes of a later request arrive on a
keep-alive connection; it is disarmed when the request's headers are complete, and when it
fires the connection is closed. The body has its own deadline in the ASGI app
(ReceiverSettings.body_timeout_s), which answers 408.

The protocol is uvicorn's own (httptools when installed, as uvicorn's "auto" picks,
otherwise h11) with the deadline mixed in, handed to uvicorn through its documented `http`
option, which takes a protocol class.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from pipelines.webhooks.settings import ReceiverSettings

log = logging.getLogger(__name__)


class _HeaderDeadline:
    """Mixin for a uvicorn HTTP protocol: close connections whose headers stall."""

    header_timeout_s: float = 10.0
    _header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)  # type: ignore[misc]
        self._watch_headers()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)  # type: ignore[misc]
        self._watch_headers()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)  # type: ignore[misc]

    def _waiting_for_headers(self) -> bool:
        cycle = getattr(self, "cycle", None)
        return cycle is None or bool(cycle.response_complete)

    def _watch_headers(self) -> None:
        if not self._waiting_for_headers():
            self._disarm()
        elif self._header_timer is None:
            loop = asyncio.get_running_loop()
            self._header_timer = loop.call_later(self.header_timeout_s, self._headers_late)

    def _disarm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_late(self) -> None:
        self._header_timer = None
        transport = getattr(self, "transport", None)
        if transport is None or transport.is_closing() or not self._waiting_for_headers():
            return
        # A fresh connection that sent nothing, or a request whose headers stalled.
        client = getattr(self, "client", None)
        where = f"{client[0]}:{client[1]}" if client else "unknown client"
        log.warning(
            "webhook connection from %s closed: request headers not complete within %s s",
            where,
            self.header_timeout_s,
        )
        transport.close()


def _base_protocol() -> type[asyncio.Protocol]:
    try:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
    except ImportError:  # httptools is optional: uvicorn falls back to h11 the same way
        return H11Protocol
    return HttpToolsProtocol


def receiver_protocol(header_timeout_s: float) -> type[asyncio.Protocol]:
    """uvicorn's HTTP protocol with a header read deadline of `header_timeout_s`."""
    base = _base_protocol()
    return type(
        f"HeaderDeadline{base.__name__}",
        (_HeaderDeadline, base),
        {"header_timeout_s": header_timeout_s},
    )


def server_config(app: Any, settings: ReceiverSettings, *, host: str, port: int) -> uvicorn.Config:
    """The uvicorn configuration the receiver runs with (no access log: in path mode the
    URL holds the secret; the receiver logs each bundle itself, without it)."""
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        http=receiver_protocol(settings.header_timeout_s),
        access_log=False,
        log_level="info",
    )
