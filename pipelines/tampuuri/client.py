"""TampuuriClient: one account's async HTTP client (headers, timeouts, retries, concurrency).

Layering, from the caller down:

    call()  -> first-answer gate (first_answer.py)
            -> retry loop (retry.classify, RetryPolicy, the run's RetryBudget)
            -> semaphore (requests in flight and admitted behind them, whole client)
            -> httpx.AsyncClient (the six X- headers, explicit timeouts, no redirects)
            -> LedgerTransport (one CallRecord per attempt, admitted before it is sent;
               at most max_concurrency sent and not yet read)
            -> PoolShards (pool_shards.py) of httpx.AsyncHTTPTransport (proxy, TLS trust,
               client certificate, HTTP/2: network_options.py): one keep-alive connection
               per pool, as many pools as the concurrency (HTTP/2: one pool)

The ledger sits below the retry loop so each attempt is recorded: Tampuuri bills them all.
The JSON body is parsed inside the retry loop, so a truncated 2xx body is retried.
The AsyncClient reads no proxy settings of its own (`trust_env=False`): the proxy is
resolved for the API's origin in network_options.py and set on each pool of the one
transport the ledger wraps, so no call can go around the ledger.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from types import TracebackType
from typing import Any, Self

import httpx
import orjson

from pipelines.settings import Credentials
from pipelines.tampuuri.call_tally import CallTally, current_tally, tally_calls
from pipelines.tampuuri.catalogue import Route
from pipelines.tampuuri.errors import TampuuriUnavailable, error_for_status
from pipelines.tampuuri.failure_detail import api_message, describe_failure
from pipelines.tampuuri.first_answer import FirstAnswerGate
from pipelines.tampuuri.ledger import CallLedger
from pipelines.tampuuri.ledger_transport import LedgerTransport
from pipelines.tampuuri.network_options import NetworkOptions, proxy_secrets, transport_options
from pipelines.tampuuri.pool_shards import PoolShards
from pipelines.tampuuri.retry import (
    InvalidJSONBody,
    RetryBudget,
    RetryPolicy,
    classify,
    parse_retry_after,
)
from pipelines.tampuuri.wire_format import encoded_headers, parse_body, query_value

# CallTally and tally_calls live in call_tally.py; importable from here as before.
__all__ = ["CallTally", "TampuuriClient", "tally_calls"]
log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = httpx.Timeout(connect=5.0, read=30.0, write=30.0, pool=60.0)
# Besides httpx's own Accept and Connection headers. Only the encodings httpx decodes
# without optional packages: a brotli installed for something else must not change what
# the API is asked for.
BASE_HEADERS = {
    "Accept-Encoding": "gzip, deflate",
    "User-Agent": f"tampuuri-sync (python-httpx/{httpx.__version__})",
}
JSON_BODY = {"Content-Type": "application/json"}
DEFAULT_RETRY_CAP = 500


class TampuuriClient:
    """An async client for one Tampuuri account. Use as `async with TampuuriClient(...)`.

    Args:
        account_name: The account label (warehouse name), written on errors and records.
        base_url: The API root, e.g. "https://api.tampuuri.fi/v10/api/".
        credentials: The six header values.
        transport: The transport to send through (tests: ASGITransport, MockTransport);
            default httpx.AsyncHTTPTransport built from `network` (no retries of its own).
        network: Proxy, TLS and HTTP/2 options of the default transport.
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
        network: NetworkOptions | None = None,
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
        url = httpx.URL(self.base_url)
        self._origin = f"{url.host}:{url.port}" if url.port else url.host
        if transport is None:
            options = transport_options(
                network or NetworkOptions(), self.base_url, account=account_name
            )
            # HTTP/1.1: a connection carries one call at a time, so one pool per connection
            # (pool_shards.py). HTTP/2 multiplexes the calls on one connection: one pool.
            pools, size = (1, max_concurrency) if options["http2"] else (max_concurrency, 1)
            transport = PoolShards(
                [
                    httpx.AsyncHTTPTransport(
                        **options,
                        limits=httpx.Limits(max_connections=size, max_keepalive_connections=size),
                        retries=0,
                    )
                    for _ in range(pools)
                ]
            )
            self.secrets = (*credentials.secrets(), *proxy_secrets(options))
        else:
            self.secrets = credentials.secrets()
        self._transport: httpx.AsyncBaseTransport = (
            LedgerTransport(
                transport,
                ledger,
                account=account_name,
                trigger=trigger,
                run_id=run_id,
                max_in_flight=max_concurrency,
            )
            if ledger is not None
            else transport
        )
        self._timeout = timeout
        # With a ledger, its transport keeps max_concurrency requests in flight and up to
        # half as many admitted behind them (admission overlaps the calls); this bounds both.
        self._semaphore = asyncio.Semaphore(max_concurrency * (2 if ledger else 1))
        self._gate = FirstAnswerGate()  # one call at a time until the credentials pass
        self.retry = retry or RetryPolicy()
        self.retry_budget = retry_budget or RetryBudget(DEFAULT_RETRY_CAP)
        self._sleep = sleep
        self._http: httpx.AsyncClient | None = None  # set while open (`async with`)
        self.calls = 0
        self.retries = 0

    async def __aenter__(self) -> Self:
        self._http = httpx.AsyncClient(
            headers=encoded_headers({**BASE_HEADERS, **self._credentials.headers()}),
            timeout=self._timeout,
            follow_redirects=False,  # a redirect is an answer (3xx: final), never followed
            trust_env=False,  # the proxy is the transport's (module docstring)
            transport=self._transport,
        )
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._http is not None:
            http, self._http = self._http, None
            await http.aclose()

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
        if self._http is None:
            raise RuntimeError("TampuuriClient is used outside `async with`")
        http = self._http
        url = self.base_url + route.format(**dict(path_params or {}))
        query = {k: query_value(v) for k, v in (params or {}).items() if v is not None}
        body = orjson.dumps(json) if json is not None else None
        request = http.build_request(
            route.method,
            url,
            params=query or None,  # (an empty dict re-parses the URL)
            content=body,
            headers=JSON_BODY if body is not None else None,
            extensions={"route_template": route.template},
        )
        return await self._gate.send(
            lambda: self._attempts(http, route, request),
            method=route.method,
            route=route.template,
        )

    async def _attempts(self, http: httpx.AsyncClient, route: Route, request: httpx.Request) -> Any:
        """Send one call until it succeeds, fails finally, or attempts run out.

        The same request goes each time: its body is bytes, so it can be sent again.
        """
        attempt = 0
        while True:
            attempt += 1
            status: int | None = None
            retry_after: float | None = None
            try:
                async with self._semaphore:
                    self.calls += 1
                    if (tally := current_tally()) is not None:
                        tally.calls += 1
                    response = await http.send(request)
                status = response.status_code
                if 200 <= status < 300:
                    return parse_body(response)
                outcome: int | BaseException = status
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
                detail = api_message(response, self.secrets)
            except (httpx.TransportError, httpx.DecodingError, InvalidJSONBody) as exc:
                outcome = exc
                detail = describe_failure(exc, self._origin)
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
            if (tally := current_tally()) is not None:
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
