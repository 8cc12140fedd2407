"""The exception tree of the Tampuuri API side.

```
TampuuriError                      base; .account .method .route .status .api_message
  TampuuriAuthError                401: wrong credentials; the whole run stops
  TampuuriForbidden                403 (object rights): recorded and skipped by the sync
  TampuuriNotFound                 404: on a detail route, the row is deleted
  TampuuriRequestError             other 4xx (and unexpected 3xx): final, never retried
  TampuuriUnavailable              retries exhausted on 429/5xx/timeouts/invalid JSON
  PagingError                      the API repeated a page, echoed a wrong Offset, made no progress
  RetryBudgetExceeded              the run's retry cap is spent
```

Every error names the account, the HTTP method and the route *template* (never the
formatted URL: templates are what the ledger and the transaction report use, and they
hold no values). `str()` reads like
`account 'demo-a': GET kohteet/{kohde_id} -> 403: Ei oikeutta kohteeseen`. Headers are
never part of an error, and the client redacts the account's secrets from the API's
`Message` before it lands here, so an error may be logged or stored as it is.
"""

from __future__ import annotations

# The API's Message is free text from the server; keep errors (and the run reports and
# logs they end up in) to a readable size.
MAX_MESSAGE_CHARS = 300


class TampuuriError(Exception):
    """A Tampuuri API call failed.

    Attributes:
        account: The account label (warehouse name) the call was made for.
        method: HTTP method, e.g. "GET".
        route: The route template, e.g. "kohteet/{kohde_id}".
        status: The HTTP status of the last response, or None when none came.
        api_message: The API's `Message` (or our description of what went wrong).
    """

    def __init__(
        self,
        *,
        account: str,
        method: str,
        route: str,
        status: int | None = None,
        api_message: str | None = None,
    ) -> None:
        self.account = account
        self.method = method
        self.route = route
        self.status = status
        if api_message is not None and len(api_message) > MAX_MESSAGE_CHARS:
            api_message = api_message[: MAX_MESSAGE_CHARS - 3] + "..."
        self.api_message = api_message
        super().__init__(self._describe())

    def _describe(self) -> str:
        outcome = str(self.status) if self.status is not None else "no response"
        text = f"account {self.account!r}: {self.method} {self.route} -> {outcome}"
        return f"{text}: {self.api_message}" if self.api_message else text

    def __reduce__(self) -> tuple[object, ...]:
        # Keyword-only constructor: teach pickle (multiprocessing, Dagster) to rebuild it.
        return (_rebuild, (type(self), self.__dict__.copy()))


def _rebuild(cls: type[TampuuriError], state: dict[str, object]) -> TampuuriError:
    error = cls.__new__(cls)
    error.__dict__.update(state)
    Exception.__init__(error, error._describe())
    return error


class TampuuriAuthError(TampuuriError):
    """401: the account's credentials were refused."""


class TampuuriForbidden(TampuuriError):
    """403: the API user lacks a role or object right (kohdeoikeus) for this call."""


class TampuuriNotFound(TampuuriError):
    """404: unknown id; on a detail route it means the row was deleted."""


class TampuuriRequestError(TampuuriError):
    """Any other 4xx: the call itself was wrong; retrying would not help."""


class TampuuriUnavailable(TampuuriError):
    """The service kept failing (429, 5xx, timeouts, invalid JSON) until attempts ran out."""


class PagingError(TampuuriError):
    """The paging contract broke: a repeated page, a wrong Offset echo, or no progress."""


class RetryBudgetExceeded(TampuuriError):
    """The run's retry cap is spent: every retry is a billed call, so the run stops."""


def error_for_status(status: int) -> type[TampuuriError]:
    """The final error class for a non-retriable HTTP status."""
    return {
        401: TampuuriAuthError,
        403: TampuuriForbidden,
        404: TampuuriNotFound,
    }.get(status, TampuuriRequestError)
