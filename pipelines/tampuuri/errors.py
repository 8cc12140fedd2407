"""The exception tree of the Tampuuri API side.

```
TampuuriError                      base; .account .method .route .status .api_message
  TampuuriAuthError                401: wrong credentials; the whole run stops
  TampuuriForbidden                403 on one object (object rights): recorded and skipped
    TampuuriRouteForbidden         403 on the route as a whole (a role right): `forbidden`
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

import re
from collections.abc import Mapping

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


class TampuuriRouteForbidden(TampuuriForbidden):
    """403 on the route as a whole: the API user's role lacks the route's right.

    Tampuuri's administrators change roles over time; a refused route is no object right
    to skip but a resource that cannot be synced at all (`route_refusal` tells them apart).
    """

    @property
    def right(self) -> str:
        """The role right the call needs: Hae, Lisää, Poista or Päivitä."""
        return needed_right(self.method, self.route)

    def sentence(self, resource: str | None = None) -> str:
        """One sentence naming the account, the route and the missing role right (and,
        given `resource`, what was not synced and the two ways out)."""
        text = (
            f"account {self.account!r}: the API user's role lacks the {self.right} right"
            f" ({RIGHT_MEANINGS[self.right]}) on {self.method} {self.route}, so Tampuuri"
            " refused the route as a whole (403)"
        )
        if resource is None:
            return text + "."
        return (
            f"{text} and {resource} was not synced: ask the account's Tampuuri administrator"
            f" to grant the right, or list {resource} under not_licensed in the account's"
            " config if its licence lacks the route."
        )

    def not_licensed_sentence(self, resource: str) -> str:
        """One sentence for a refusal the account's config expects (`not_licensed`)."""
        return (
            f"account {self.account!r}: {resource} is not licensed (not_licensed in the"
            f" account's config), and {self.method} {self.route} answered 403 as expected."
        )


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


_PARAMETER = re.compile(r"\{[a-z_][a-z0-9_]*\}")
# What each role right allows (section 3 of the API contract).
RIGHT_MEANINGS = {"Hae": "read", "Lisää": "add", "Poista": "delete", "Päivitä": "update"}
# [ASSUMED] How a 403 for a missing role right reads: it speaks of the role ("Roolilla ei
# ole oikeutta tähän toimintoon.") where an object-right 403 names the object ("Ei oikeutta
# kohteeseen 123."). Compared lower case, as a substring of the API's Message.
ROLE_MESSAGE_MARK = "rooli"


def needed_right(method: str, route: str) -> str:
    """The role right a route needs: reads (GET, POST .../selaa, .../hae) need Hae."""
    if route.endswith("/lisaa"):
        return "Lisää"
    if method == "DELETE":
        return "Poista"
    if method in ("PUT", "PATCH"):
        return "Päivitä"
    return "Hae"


def route_refusal(
    error: TampuuriForbidden, *, names_object: bool | None = None
) -> TampuuriRouteForbidden | None:
    """The 403 as a refusal of the whole route, or None when it is an object right.

    The rule (docs/ARCHITECTURE.md, "403: a route or an object"): object rights can only
    refuse a call that names an object (a path id such as `kohteet/{kohde_id}/selaa`, or an
    object filter); a list may omit the objects the user may not see, but a 403 on a call
    naming no object refuses the route itself. A 403 on a call naming an object is an
    object right unless its Message speaks of the role (`ROLE_MESSAGE_MARK`).
    `names_object` None: whether the route template has a path parameter.
    """
    if isinstance(error, TampuuriRouteForbidden):
        return error
    if names_object is None:
        names_object = "{" in error.route
    role = ROLE_MESSAGE_MARK in (error.api_message or "").lower()
    if names_object and not role:
        return None
    return TampuuriRouteForbidden(
        account=error.account,
        method=error.method,
        route=error.route,
        status=error.status,
        api_message=error.api_message,
    )


def object_refusal_sentence(account: str, skipped: Mapping[str, object]) -> str:
    """One sentence for an object the API user may not read (a `skipped` entry of a run).

    `skipped` holds `resource` and either `scope` (path parameters, e.g. `{"kohde_id": 12}`)
    or `id`, and optionally `route` (the route template that answered 403).
    """
    resource = skipped.get("resource", "?")
    scope = skipped.get("scope")
    if isinstance(scope, Mapping) and scope:
        what = f"the {resource} under " + ", ".join(f"{k} {v}" for k, v in scope.items())
        kept = "their rows were kept as they were"
    else:
        what = f"{resource} id {skipped.get('id', '?')}"
        kept = "its row was kept as it was"
    route = skipped.get("route")
    if isinstance(route, str) and isinstance(scope, Mapping):
        for key, value in scope.items():  # the call as sent: POST kohteet/12/selaa
            route = route.replace(f"{{{key}}}", str(value))
    elif isinstance(route, str):  # a detail route: GET ilmoitukset/55
        route = _PARAMETER.sub(str(skipped.get("id", "?")), route)
    answered = f" ({route} answered 403)" if route else " (403)"
    return (
        f"account {account!r}: the API user has no object right (kohdeoikeus) to read"
        f" {what}{answered}, so {kept} and reported as skipped."
    )
