"""The first call of a client goes alone: wrong credentials then cost one billed call.

A sync starts several resources side by side, each with calls of its own. Until the API
has answered one of them, nobody knows whether it accepts the account's credentials; if
it does not (401), every call sent meanwhile is a billed 401 too. So until one answer
shows the credentials accepted, a client's calls take turns; after a 401, its later calls
fail with the same error without being sent. Once accepted, calls go side by side.

What counts as accepted: any answer the credentials must have passed, a 2xx or a final
403/404/other 4xx. Unanswered calls (5xx, 429, timeouts until attempts ran out) say
nothing: the next call in line is then the one that finds out.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from pipelines.tampuuri.errors import (
    TampuuriAuthError,
    TampuuriForbidden,
    TampuuriNotFound,
    TampuuriRequestError,
)

T = TypeVar("T")
# Final answers that passed the credential check.
_ANSWERED = (TampuuriForbidden, TampuuriNotFound, TampuuriRequestError)


class FirstAnswerGate:
    """One call at a time until the credentials were accepted; none after a 401."""

    def __init__(self) -> None:
        self._turns = asyncio.Lock()
        self._accepted = False
        self._refused: TampuuriAuthError | None = None

    async def send(self, call: Callable[[], Awaitable[T]], *, method: str, route: str) -> T:
        """Run `call` (one API call with its retries) under the gate.

        Raises:
            TampuuriAuthError: this call got a 401, or an earlier one did (then this call
                was not sent).
            Whatever `call` raises.
        """
        if self._accepted:
            return await call()
        async with self._turns:
            if self._refused is not None:
                refused = self._refused
                raise TampuuriAuthError(
                    account=refused.account,
                    method=method,
                    route=route,
                    status=refused.status,
                    api_message=(
                        f"not sent: the credentials were refused on {refused.method} "
                        f"{refused.route} earlier in this run"
                    ),
                )
            if not self._accepted:
                try:
                    result = await call()
                except TampuuriAuthError as exc:
                    self._refused = exc
                    raise
                except _ANSWERED:
                    self._accepted = True
                    raise
                self._accepted = True
                return result
        return await call()
