"""The reads the probes share: one page of a list, the first page of each list (read once).

Every read goes through the product's `TampuuriClient`, so it is ledgered (trigger
"doctor") and retried like any other call. A first page that failed is remembered with its
error, so the probes that need it report it instead of calling again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pipelines.tampuuri.catalogue import Catalogue, ResourceRoutes, Route
from pipelines.tampuuri.client import TampuuriClient
from pipelines.tampuuri.errors import TampuuriAuthError, TampuuriError

PAGE = 250


class NotAnEnvelope(Exception):
    """The list answered with something other than a paging envelope."""


@dataclass(frozen=True)
class Envelope:
    """One page: the envelope's Offset, Limit and Total echoes and its items."""

    offset: int
    limit: int
    total: int
    items: list[dict[str, Any]]

    def values(self, field: str) -> list[Any]:
        return [item.get(field) for item in self.items]


class Reader:
    """Reads for the probes of one doctor run."""

    def __init__(self, client: TampuuriClient, catalogue: Catalogue) -> None:
        self.client = client
        self.catalogue = catalogue
        self._first: dict[str, Envelope | Exception] = {}
        # A 401: every finding of the run would be about the credentials, not the API.
        self.auth_error: TampuuriAuthError | None = None

    async def call(self, route: Route, **options: Any) -> Any:
        """One call through the client (`TampuuriClient.call`), noting a refused login."""
        try:
            return await self.client.call(route, **options)
        except TampuuriAuthError as exc:
            self.auth_error = exc
            raise

    async def page(
        self,
        routes: ResourceRoutes,
        *,
        limit: int = PAGE,
        filters: Mapping[str, object] | None = None,
        path_params: Mapping[str, object] | None = None,
    ) -> Envelope:
        """One call: the page at Offset 0 of `routes.list` with `filters`."""
        route = routes.list
        assert route is not None and route.paging is not None
        values = {**(filters or {}), "Offset": 0, "Limit": limit}
        if route.paging == "body":
            answer = await self.call(route, path_params=path_params, json=values)
        else:
            answer = await self.call(route, path_params=path_params, params=values)
        return _envelope(answer)

    async def first_page(self, resource: str) -> Envelope:
        """The first page of an account-wide list, read at most once per run.

        Raises:
            TampuuriError, NotAnEnvelope: the read failed (now or earlier in the run).
        """
        known = self._first.get(resource)
        if known is None:
            try:
                known = await self.page(self.catalogue.resources[resource])
            except (TampuuriError, NotAnEnvelope) as exc:
                known = exc
            self._first[resource] = known
        if isinstance(known, Exception):
            raise known
        return known

    def read_pages(self) -> dict[str, Envelope]:
        """The first pages read so far that succeeded."""
        return {k: v for k, v in self._first.items() if isinstance(v, Envelope)}


def _envelope(answer: Any) -> Envelope:
    if not isinstance(answer, dict):
        raise NotAnEnvelope(f"expected a paging envelope, got {type(answer).__name__}")
    fields = {str(k).lower(): v for k, v in answer.items()}
    items, total = fields.get("items"), fields.get("total")
    if not isinstance(items, list) or not isinstance(total, int):
        raise NotAnEnvelope("a paging envelope without Items or Total")
    return Envelope(
        offset=int(fields.get("offset", 0)),
        limit=int(fields.get("limit", len(items))),
        total=total,
        items=[i for i in items if isinstance(i, dict)],
    )


def failure(exc: Exception) -> str:
    """A failed read in words (the client's message names the route and the status)."""
    return str(exc)
