"""TampuuriClient: one account's async HTTP client (headers, timeouts, retries, concurrency).

Layering, from the caller down:

    call()  -> retry loop (retry.classify, RetryPolicy, the run's RetryBudget)
            -> semaphore (requests in flight, whole client)
            -> an httpx.Request (the six X- headers, explicit timeouts)
            -> LedgerTransport (one CallRecord per attempt)  -> the real transport
               (http11.transport by default)

The ledger sits below the retry loop so each attempt is recorded: Tampuuri bills them all.
The JSON body is parsed inside the retry loop, so a truncated 2xx body is retried.

Requests go to the transport directly, not through an httpx.AsyncClient: the client layer
adds cookies, auth and redirect handling this API has no use for (no cookies, credentials
in headers, redirects never followed), and cost about a fifth of each call's CPU.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

import httpx
import orjson

from pipelines.settings import Credentials
from pipelines.tampuuri import http11, json_codec
from pipelines.tampuuri.catalogue import Route
from pipelines.tampuuri.errors import TampuuriUnavailable, error_for_status
from pipelines.tampuuri.first_answer import FirstAnswerGate
from pipelines.tampuuri.ledger import CallLedger, LedgerTransport
from pipelines.tampuuri.retry import (
    InvalidJSONBody,
    RetryBudget,
    RetryPolicy,
    classify,
    parse_retry_after,
)
from pipelines.tampuuri.sanitize import redact

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = httpx.Timeout(connect=5.0, read=30.0, write=30.0, pool=60.0)
# What httpx.AsyncClient would send besides the account's headers.
BASE_HEADERS = {
    "Accept": "*/*",
    "Accept-Encoding": "gzip, deflate",
    "Connection": "keep-alive",
    "User-Agent": f"tampuuri-sync (python-httpx/{httpx.__version__})",
}
DEFAULT_RETRY_CAP = 500


@dataclass
class CallTally:
    """Calls (and retries) made inside one `tally_calls` context."""

    calls: int = 0
    retries: int = 0


_TALLY: ContextVar[CallTally | None] = ContextVar("tampuuri_call_tally", default=None)


@contextmanager
def tally_calls() -> Iterator[CallTally]:
    """Count the calls made in this context and in the tasks it starts.

    One client serves a whole run, so its own counters mix resources that run side by
    side; each resource counts its own calls this way (asyncio tasks copy the context).
    """
    tally = CallTally()
    token = _TALLY.set(tally)
    try:
        yield tally
    finally:
        _TALLY.reset(token)


class TampuuriClient:
    """An async client for one Tampuuri account. Use as `async with TampuuriClient(...)`.

    Args:
        account_name: The account label (warehouse name), written on errors and records.
        base_url: The API root, e.g. "https://api.tampuuri.fi/v10/api/".
        credentials: The six header values.
        transport: The transport to send through (tests: ASGITransport, MockTransport);
            default `http11.transport` (HTTP/1.1 on asyncio sockets, no retries of its own).
        ledger: Records every attempt; None records nothing.
        trigger: Written on each ledger record.
        run_id: Written on each ledger record.
        timeout: Explicit connect/read/write/pool timeouts.
        max_concurrency: Requests in flight at once over the whole client.
        retry: Attempts and backoff per call.
        retry_budget: Retries the whole run may spend (share one across clients).
        sleep: How to wait between attempts (tests inject a recorder).
    """

    def __init__(
        self,
        account_name: str,
        base_url: str,
        credentials: Credentials,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        ledger: CallLedger | None = None,
        trigger: str = "manual",
        run_id: str | None = None,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        max_concurrency: int = 4,
        retry: RetryPolicy | None = None,
        retry_budget: RetryBudget | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if max_concurrency < 1:
            raise ValueError("max_concurrency must be at least 1")
        self.account_name = account_name
        self.base_url = base_url if base_url.endswith("/") else base_url + "/"
        self._credentials = credentials
        self._secrets = credentials.secrets()
        inner = transport or http11.transport(base_url)
        self._transport: httpx.AsyncBaseTransport = (
            LedgerTransport(inner, ledger, account=account_name, trigger=trigger, run_id=run_id)
            if ledger is not None
            else inner
        )
        self._timeout = {"timeout": timeout.as_dict()}
        self._semaphore = asyncio.Semaphore(max_concurrency)
        self._gate = FirstAnswerGate()  # one call at a time until the credentials pass
        self.retry = retry or RetryPolicy()
        self.retry_budget = retry_budget or RetryBudget(DEFAULT_RETRY_CAP)
        self._sleep = sleep
        self._headers: httpx.Headers | None = None  # set while open (`async with`)
        self._json_headers = httpx.Headers()  # the same, for calls with a JSON body
        self.calls = 0
        self.retries = 0

    async def __aenter__(self) -> Self:
        self._headers = httpx.Headers(
            {**_encoded_headers(BASE_HEADERS), **_encoded_headers(self._credentials.headers())}
        )
        self._json_headers = self._headers.copy()
        self._json_headers["Content-Type"] = "application/json"
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._headers is not None:
            self._headers = None
            await self._transport.aclose()

    async def call(
        self,
        route: Route,
        *,
        path_params: Mapping[str, object] | None = None,
        params: Mapping[str, object] | None = None,
        json: object = None,
    ) -> Any:
        """Make one API call (with retries) and return its parsed JSON body.

        Args:
            route: The catalogue route.
            path_params: Values for the route's path parameters.
            params: Query-string parameters.
            json: A JSON body (POST/PUT/PATCH); None sends no body.

        Returns:
            The parsed JSON (None for an empty body).

        Raises:
            TampuuriAuthError, TampuuriForbidden, TampuuriNotFound, TampuuriRequestError:
                a final 4xx. After a 401, later calls raise TampuuriAuthError unsent
                (`first_answer.py`: until the credentials pass, calls take turns).
            TampuuriUnavailable: retriable failures until attempts ran out.
            RetryBudgetExceeded: the run's retry cap is spent.
        """
        if self._headers is None:
            raise RuntimeError("TampuuriClient is used outside `async with`")
        url = self.base_url + route.format(**dict(path_params or {}))
        query = {k: _query_value(v) for k, v in (params or {}).items() if v is not None}
        body = orjson.dumps(json) if json is not None else None
        headers = self._headers if body is None else self._json_headers
        return await self._gate.send(
            lambda: self._attempts(route, url, query, body, headers),
            method=route.method,
            route=route.template,
        )

    async def _attempts(
        self,
        route: Route,
        url: str,
        query: dict[str, Any],
        body: bytes | None,
        headers: httpx.Headers,
    ) -> Any:
        """Send one call until it succeeds, fails finally, or attempts run out."""
        extensions = {**self._timeout, "route_template": route.template}
        attempt = 0
        while True:
            attempt += 1
            status: int | None = None
            retry_after: float | None = None
            try:
                async with self._semaphore:
                    self.calls += 1
                    if (tally := _TALLY.get()) is not None:
                        tally.calls += 1
                    response = await self._send(
                        httpx.Request(
                            route.method,
                            url,
                            params=query or None,  # (an empty dict re-parses the URL)
                            content=body,
                            headers=headers,
                            extensions=extensions,
                        )
                    )
                status = response.status_code
                if 200 <= status < 300:
                    return _parse(response)
                outcome: int | BaseException = status
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
                detail = self._message(response)
            except (httpx.TransportError, httpx.DecodingError, InvalidJSONBody) as exc:
                outcome = exc
                detail = _describe_exception(exc)
            if classify(outcome) == "final":
                if isinstance(outcome, BaseException):
                    raise TampuuriUnavailable(
                        account=self.account_name,
                        method=route.method,
                        route=route.template,
                        status=status,
                        api_message=detail,
                    ) from None
                raise error_for_status(outcome)(
                    account=self.account_name,
                    method=route.method,
                    route=route.template,
                    status=outcome,
                    api_message=detail,
                )
            if attempt >= self.retry.max_attempts:
                raise TampuuriUnavailable(
                    account=self.account_name,
                    method=route.method,
                    route=route.template,
                    status=status,
                    api_message=f"gave up after {attempt} attempts; last: {detail}",
                )
            self.retry_budget.take(
                account=self.account_name, method=route.method, route=route.template, status=status
            )
            self.retries += 1
            if (tally := _TALLY.get()) is not None:
                tally.retries += 1
            wait = self.retry.delay(attempt, retry_after)
            log.debug(
                "account %s: %s %s -> %s; retry %d in %.2fs",
                self.account_name,
                route.method,
                route.template,
                detail,
                attempt,
                wait,
            )
            await self._sleep(wait)

    async def _send(self, request: httpx.Request) -> httpx.Response:
        """Send one request through the transport and read its whole body."""
        response = await self._transport.handle_async_request(request)
        response.request = request
        try:
            await response.aread()
        finally:
            await response.aclose()
        return response

    def _message(self, response: httpx.Response) -> str | None:
        """The API's `Message` (ASP.NET style error body), secrets masked."""
        text: str | None = None
        try:
            data = orjson.loads(response.content)
        except orjson.JSONDecodeError:
            data = None
        if isinstance(data, dict):
            for key, value in data.items():
                if str(key).lower() == "message" and value is not None:
                    text = str(value)
                    break
        if text is None and response.content and data is None:
            text = response.content[:200].decode("utf-8", errors="replace").strip() or None
        return redact(text, self._secrets) if text else None


def _encoded_headers(headers: Mapping[str, str]) -> dict[bytes, bytes]:
    """Header values as bytes: ISO-8859-1 where possible, else UTF-8.

    Customer names are Finnish ("Isännöinti Oy"); httpx refuses non-ASCII str values.
    HTTP/1.1 header bytes are historically ISO-8859-1, which is what ASP.NET on HTTP.sys
    and Starlette (the simulator) decode, and it covers ä, ö and å. A character outside it
    cannot travel as ISO-8859-1, so such a value goes as UTF-8 [ASSUMED].
    """
    encoded: dict[bytes, bytes] = {}
    for name, value in headers.items():
        try:
            encoded[name.encode("ascii")] = value.encode("iso-8859-1")
        except UnicodeEncodeError:
            encoded[name.encode("ascii")] = value.encode("utf-8")
    return encoded


def _parse(response: httpx.Response) -> Any:
    if not response.content:
        return None
    try:
        return json_codec.decode(response.content)  # exact decimals, ints of any size
    except json_codec.DecodeError:
        raise InvalidJSONBody(response.status_code) from None


def _query_value(value: object) -> str | int | float | bool:
    if isinstance(value, str | int | float | bool):
        return value
    return str(value)


def _describe_exception(exc: BaseException) -> str:
    # The class name says enough (ReadTimeout, ConnectError); httpx messages can carry the
    # URL, which holds ids but no secrets, so they are not needed here either.
    return str(exc) if isinstance(exc, InvalidJSONBody) else type(exc).__name__
