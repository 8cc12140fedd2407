"""The TampuuriClient contract: the six headers, route templates on every request, the
4xx error mapping with the API's Message, retries of 429/5xx/timeouts/truncated JSON (each
attempt in the ledger, Retry-After honoured), the run's retry cap, the concurrency bound,
and secrets never in errors or logs. Behaviour is injected with httpx.MockTransport."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence

import httpx
import orjson
import pytest

from pipelines.tampuuri.catalogue import Route
from pipelines.tampuuri.errors import (
    RetryBudgetExceeded,
    TampuuriAuthError,
    TampuuriError,
    TampuuriForbidden,
    TampuuriNotFound,
    TampuuriRequestError,
    TampuuriUnavailable,
)
from pipelines.tampuuri.ledger import CallLedger, CallRecord
from pipelines.tampuuri.sanitize import SecretRedactingFilter

from .conftest import ClientFactory
from .fakes import API_KEY, PASSWORD, SleepRecorder

pytestmark = pytest.mark.anyio

DETAIL = Route("GET", "kohteet/{kohde_id}")
BATCH = Route("POST", "osapuolitiedot/osapuolet/hae", ids_field="OsapuoliIdt", max_ids=250)
Responder = Callable[[httpx.Request], httpx.Response]


class Script:
    """Answers requests from a fixed list of outcomes (a Response or an exception class)."""

    def __init__(self, *outcomes: httpx.Response | type[Exception]) -> None:
        self.outcomes = list(outcomes)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        outcome = self.outcomes.pop(0)
        if isinstance(outcome, type):
            raise outcome("scripted failure", request=request)  # type: ignore[call-arg]
        return outcome


class Records:
    def __init__(self) -> None:
        self.items: list[CallRecord] = []

    def __call__(self, batch: Sequence[CallRecord]) -> None:
        self.items.extend(batch)


def ok(body: object) -> httpx.Response:
    return httpx.Response(200, content=orjson.dumps(body))


def err(status: int, message: str | None = None, **headers: str) -> httpx.Response:
    body = {"Message": message} if message is not None else {}
    return httpx.Response(status, json=body, headers=headers)


async def test_headers_url_template_and_body(make_client: ClientFactory) -> None:
    script = Script(ok({"Id": 124821}), ok([{"Id": 7}]))
    async with make_client(httpx.MockTransport(script)) as client:
        item = await client.call(DETAIL, path_params={"kohde_id": 124821}, params={"x": True})
        parties = await client.call(BATCH, json={"OsapuoliIdt": [7, 8]})
    assert item == {"Id": 124821}
    assert parties == [{"Id": 7}]
    get, post = script.requests
    # Finnish letters travel as ISO-8859-1 bytes (httpx refuses non-ASCII str headers).
    assert get.headers.raw[[k for k, _ in get.headers.raw].index(b"X-AsiakasNimi")][1] == (
        "Isännöinti Äijälä Oy".encode("iso-8859-1")
    )
    assert str(get.url) == "http://tampuuri.test/v10/api/kohteet/124821?x=true"
    assert get.extensions["route_template"] == "kohteet/{kohde_id}"
    assert {k: get.headers[k] for k in get.headers if k.startswith("x-")} == {
        "x-tampuuriavain": API_KEY,
        "x-asiakasnimi": "Isännöinti Äijälä Oy",
        "x-ohjelmistoversio": "tampuuri-sync_test",
        "x-tilinimi": "Demo A",
        "x-kayttajatunnus": "api-user",
        "x-salasana": PASSWORD,
    }
    assert get.content == b""
    assert get.headers["host"] == "tampuuri.test"
    assert get.headers["user-agent"].startswith("tampuuri-sync")
    assert get.headers["accept-encoding"] == "gzip, deflate"
    assert get.extensions["timeout"] == {"connect": 5.0, "read": 30.0, "write": 30.0, "pool": 60.0}
    assert "content-type" not in get.headers
    assert post.method == "POST"
    assert orjson.loads(post.content) == {"OsapuoliIdt": [7, 8]}
    assert post.headers["content-type"] == "application/json"
    assert client.calls == 2 and client.retries == 0


@pytest.mark.parametrize(
    ("status", "error_class"),
    [
        (401, TampuuriAuthError),
        (403, TampuuriForbidden),
        (404, TampuuriNotFound),
        (400, TampuuriRequestError),
        (409, TampuuriRequestError),
    ],
)
async def test_final_4xx_maps_to_the_error_tree_after_one_call(
    make_client: ClientFactory, status: int, error_class: type[TampuuriError]
) -> None:
    script = Script(err(status, "Ei oikeutta kohteeseen"))
    records = Records()
    ledger = CallLedger(records)
    async with make_client(httpx.MockTransport(script), ledger=ledger) as client:
        with pytest.raises(error_class) as caught:
            await client.call(DETAIL, path_params={"kohde_id": 5})
    ledger.flush()
    error = caught.value
    assert type(error) is error_class
    assert (error.account, error.method, error.route, error.status) == (
        "demo-a",
        "GET",
        "kohteet/{kohde_id}",
        status,
    )
    assert error.api_message == "Ei oikeutta kohteeseen"
    assert (
        str(error)
        == f"account 'demo-a': GET kohteet/{{kohde_id}} -> {status}: Ei oikeutta kohteeseen"
    )
    assert (client.calls, client.retries, len(records.items)) == (1, 0, 1)


async def test_error_without_message_body(make_client: ClientFactory) -> None:
    script = Script(httpx.Response(404), httpx.Response(400, text="<html>Bad Request</html>"))
    async with make_client(httpx.MockTransport(script)) as client:
        with pytest.raises(TampuuriNotFound) as missing:
            await client.call(DETAIL, path_params={"kohde_id": 5})
        with pytest.raises(TampuuriRequestError) as bad:
            await client.call(DETAIL, path_params={"kohde_id": 5})
    assert str(missing.value) == "account 'demo-a': GET kohteet/{kohde_id} -> 404"
    assert bad.value.api_message == "<html>Bad Request</html>"


async def test_5xx_then_success_records_every_attempt(
    make_client: ClientFactory, sleeps: SleepRecorder
) -> None:
    script = Script(err(500), err(503), ok({"Id": 1}))
    records = Records()
    ledger = CallLedger(records)
    async with make_client(httpx.MockTransport(script), ledger=ledger) as client:
        assert await client.call(DETAIL, path_params={"kohde_id": 1}) == {"Id": 1}
    ledger.flush()
    assert [r.status for r in records.items] == [500, 503, 200]
    assert (client.calls, client.retries, client.retry_budget.used) == (3, 2, 2)
    # Full jitter: the n-th wait is within [0, initial * 2**(n-1)].
    assert len(sleeps.waits) == 2
    assert 0 <= sleeps.waits[0] <= 0.5 and 0 <= sleeps.waits[1] <= 1.0


async def test_retry_after_is_honoured_and_capped(
    make_client: ClientFactory, sleeps: SleepRecorder
) -> None:
    script = Script(
        err(429, "Liian monta pyyntöä", **{"Retry-After": "1.5"}),
        err(503, **{"Retry-After": "3600"}),
        ok({"Id": 1}),
    )
    async with make_client(httpx.MockTransport(script)) as client:
        await client.call(DETAIL, path_params={"kohde_id": 1})
    assert sleeps.waits == [1.5, 8.0]  # backoff_max_s of the fixture policy is 8


async def test_truncated_json_is_retried(make_client: ClientFactory) -> None:
    truncated = httpx.Response(200, content=b'{"Offset": 0, "Limit": 250, "Items": [{"Id"')
    script = Script(truncated, ok({"Id": 1}))
    records = Records()
    ledger = CallLedger(records)
    async with make_client(httpx.MockTransport(script), ledger=ledger) as client:
        assert await client.call(DETAIL, path_params={"kohde_id": 1}) == {"Id": 1}
    ledger.flush()
    assert [r.status for r in records.items] == [200, 200]
    assert (client.calls, client.retries) == (2, 1)


async def test_timeout_is_retried_and_recorded_without_status(make_client: ClientFactory) -> None:
    script = Script(httpx.ReadTimeout, httpx.ConnectError, ok({"Id": 1}))
    records = Records()
    ledger = CallLedger(records)
    async with make_client(httpx.MockTransport(script), ledger=ledger) as client:
        assert await client.call(DETAIL, path_params={"kohde_id": 1}) == {"Id": 1}
    ledger.flush()
    assert [r.status for r in records.items] == [None, None, 200]
    assert [r.route for r in records.items] == ["kohteet/{kohde_id}"] * 3
    assert ledger.counts_by_status() == {None: 2, 200: 1}


async def test_attempts_exhausted_is_unavailable(make_client: ClientFactory) -> None:
    script = Script(*[httpx.ReadTimeout] * 4)
    records = Records()
    ledger = CallLedger(records)
    async with make_client(httpx.MockTransport(script), ledger=ledger, max_attempts=4) as client:
        with pytest.raises(TampuuriUnavailable) as caught:
            await client.call(DETAIL, path_params={"kohde_id": 9})
    ledger.flush()
    assert str(caught.value) == (
        "account 'demo-a': GET kohteet/{kohde_id} -> no response: "
        "gave up after 4 attempts; last: ReadTimeout"
    )
    assert caught.value.status is None
    assert (client.calls, client.retries, len(records.items)) == (4, 3, 4)


async def test_retry_cap_stops_the_run(make_client: ClientFactory) -> None:
    script = Script(*[err(503)] * 10)
    records = Records()
    ledger = CallLedger(records)
    transport = httpx.MockTransport(script)
    async with make_client(transport, ledger=ledger, max_attempts=6, retry_cap=2) as client:
        with pytest.raises(RetryBudgetExceeded) as caught:
            await client.call(DETAIL, path_params={"kohde_id": 9})
    ledger.flush()
    # Two retries were allowed: three calls made and billed, the fourth never sent.
    assert (client.calls, client.retries, len(records.items)) == (3, 2, 3)
    assert caught.value.status == 503
    assert isinstance(caught.value, TampuuriError)


async def test_max_concurrency_bounds_requests_in_flight(make_client: ClientFactory) -> None:
    in_flight = peak = 0

    async def slow(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.01)
        in_flight -= 1
        return ok({"Id": 1})

    async with make_client(httpx.MockTransport(slow), max_concurrency=3) as client:
        await asyncio.gather(*(client.call(DETAIL, path_params={"kohde_id": i}) for i in range(12)))
    assert peak == 3
    assert client.calls == 12


async def test_calls_take_turns_until_an_answer_shows_the_credentials_pass(
    make_client: ClientFactory,
) -> None:
    """A 503 says nothing about the credentials, a 404 does: from then on, side by side."""
    in_flight = 0
    seen_in_flight: list[int] = []
    answers = [err(503), err(404, "Not found")]

    async def respond(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight
        in_flight += 1
        seen_in_flight.append(in_flight)
        await asyncio.sleep(0.01)
        in_flight -= 1
        return answers.pop(0) if answers else ok({"Id": 1})

    async with make_client(httpx.MockTransport(respond), max_attempts=1, max_concurrency=3) as c:
        results = await asyncio.gather(
            *(c.call(DETAIL, path_params={"kohde_id": i}) for i in range(8)),
            return_exceptions=True,
        )
    assert [type(r).__name__ for r in results[:2]] == ["TampuuriUnavailable", "TampuuriNotFound"]
    assert results[2:] == [{"Id": 1}] * 6
    assert seen_in_flight[:2] == [1, 1]  # the first two went alone, one after the other
    assert max(seen_in_flight) == 3
    assert c.calls == 8


async def test_after_a_401_the_other_calls_fail_without_being_sent(
    make_client: ClientFactory,
) -> None:
    script = Script(*[err(401, "Authorization has been denied for this request.")] * 5)
    async with make_client(httpx.MockTransport(script), max_concurrency=4) as client:
        results = await asyncio.gather(
            *(client.call(DETAIL, path_params={"kohde_id": i}) for i in range(5)),
            return_exceptions=True,
        )
        with pytest.raises(TampuuriAuthError, match="not sent"):
            await client.call(BATCH, json={"OsapuoliIdt": [1]})
    assert len(script.requests) == client.calls == 1  # one billed 401, not five
    assert all(isinstance(r, TampuuriAuthError) and r.status == 401 for r in results)
    unsent = (
        "account 'demo-a': GET kohteet/{kohde_id} -> 401: not sent: the credentials were"
        " refused on GET kohteet/{kohde_id} earlier in this run"
    )
    assert [str(r) for r in results[1:]] == [unsent] * 4


async def test_secrets_never_in_errors_or_logs(
    make_client: ClientFactory, caplog: pytest.LogCaptureFixture
) -> None:
    # A hostile (or buggy) API echoing the request headers back in its Message.
    echo = f"Kirjautuminen epäonnistui: avain {API_KEY}, salasana {PASSWORD}"
    script = Script(err(500, echo), httpx.ReadTimeout, err(401, echo))
    caplog.set_level(logging.DEBUG)
    async with make_client(httpx.MockTransport(script)) as client:
        with pytest.raises(TampuuriAuthError) as caught:
            await client.call(DETAIL, path_params={"kohde_id": 1})
        logging.getLogger("tests").exception("sync failed: %s", caught.value)
    text = "\n".join([str(caught.value), repr(caught.value), caplog.text])
    assert API_KEY not in text and PASSWORD not in text
    assert caught.value.api_message == "Kirjautuminen epäonnistui: avain ***, salasana ***"


def test_redacting_filter_masks_messages_and_tracebacks() -> None:
    stream_records: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            stream_records.append(self.format(record))

    handler = Collect()
    handler.addFilter(SecretRedactingFilter([API_KEY, PASSWORD, ""]))
    logger = logging.getLogger("tests.redaction")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("headers were %s", {"X-Salasana": PASSWORD})
        try:
            raise RuntimeError(f"boom {API_KEY}")
        except RuntimeError:
            logger.exception("failed")
    finally:
        logger.removeHandler(handler)
    joined = "\n".join(stream_records)
    assert "'X-Salasana': '***'" in joined
    assert "RuntimeError: boom ***" in joined
    assert PASSWORD not in joined and API_KEY not in joined


async def test_call_outside_context_is_an_error(make_client: ClientFactory) -> None:
    client = make_client(httpx.MockTransport(Script()))
    with pytest.raises(RuntimeError, match="async with"):
        await client.call(DETAIL, path_params={"kohde_id": 1})
