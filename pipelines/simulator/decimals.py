"""Numbers as Tampuuri's .NET serialiser writes them: the shapes of the simulator's decimals.

The API's decimals (`Kustannusarvio`, `Huoneistoala`) arrive as JSON numbers: most with
the places they were stored with (`52.3`, or `55.50` with its trailing zero), some as
integers (`52`), some as the result of a .NET `decimal` division, 28-29 significant
digits (`79.681274900398406374501992032`). A few items also carry an integer beyond 64
bits in a field of their own. Which shape a value takes is decided by a hash of the
account's random state, the field and the row id, never by the generator's random
stream: the rows, ids and counts a seed makes stay what they were.
"""

from __future__ import annotations

import zlib
from decimal import Context, Decimal
from typing import Any

# A .NET decimal holds 28-29 significant digits (96-bit mantissa).
_DOTNET = (Context(prec=28), Context(prec=29))
BIG_INTEGER_BASE = 2**64  # beyond int64 and uint64 alike


class DecimalShapes:
    """Deterministic shapes for one account's decimal values."""

    def __init__(self, random_state: Any) -> None:
        # The account's generator state (random.Random.getstate()) as the hash's key:
        # the same seed and account give the same shapes, without drawing from the stream.
        self._key = zlib.crc32(repr(random_state[1][:8]).encode())

    def _pick(self, field: str, row_id: int) -> int:
        return zlib.crc32(f"{field}:{row_id}".encode(), self._key) % 100

    def area(self, row_id: int, whole: int, tenth: int) -> Decimal | int:
        """An apartment's floor area of `whole`.`tenth` m2 in one of the API's shapes."""
        pick = self._pick("Huoneistoala", row_id)
        if pick < 15:  # a division's 28-29 digits, near the area: whole.tenth + (1..6)/70
            tenths = whole * 10 + tenth
            return _DOTNET[pick % 2].divide(Decimal(tenths * 7 + 1 + pick % 6), Decimal(70))
        if pick < 30:
            return Decimal(f"{whole}.{tenth}0")  # a trailing zero, as stored
        if pick < 45:
            return whole  # an integer in a decimal field
        return Decimal(f"{whole}.{tenth}")

    def money(self, row_id: int, cents: int) -> Decimal | int:
        """An amount of `cents` / 100 euros in one of the API's shapes."""
        return self.amount("Kustannusarvio", row_id, cents)

    def amount(self, field: str, row_id: int, cents: int) -> Decimal | int:
        """`money` for any decimal field: the shape is picked by `field` and the row id."""
        pick = self._pick(field, row_id)
        if pick < 15:  # a division's 28-29 digits: cents / 100 + 1/300, or 20000/251
            numerator, denominator = (cents * 3 + 1, 300) if pick else (20_000, 251)
            return _DOTNET[pick % 2].divide(Decimal(numerator), Decimal(denominator))
        if pick < 30:
            return Decimal(f"{cents // 100}.{cents % 100 // 10}0")  # two places, 0 last
        if pick < 45:
            return cents // 100  # an integer in a decimal field
        return Decimal(f"{cents // 100}.{cents % 100:02d}")

    def big_integer(self, row_id: int) -> int | None:
        """For about 1 item in 50, an integer beyond 64 bits (else None)."""
        if self._pick("big", row_id) < 2:
            return BIG_INTEGER_BASE * 1000 + row_id
        return None
