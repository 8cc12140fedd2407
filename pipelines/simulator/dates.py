"""Tampuuri-style timestamps.

The API writes ASP.NET `DateTimeOffset` values: ISO 8601 with 7 fractional digits (100 ns
"ticks") and the Helsinki offset that applied on that date, e.g.
`2025-04-20T00:37:45.8617613+03:00`. Plain dates travel as ASP.NET `DateTime` at midnight
without an offset (`2021-03-01T00:00:00`).

Internally the simulator keeps every timestamp as an integer count of 100 ns ticks since
the Unix epoch (UTC), so comparisons (`MuokattuAlku`) keep the full 7-digit precision.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

HELSINKI = ZoneInfo("Europe/Helsinki")
TICKS_PER_SECOND = 10_000_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ISO = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?)?"
    r"\s*(Z|[+-]\d{2}:?\d{2})?$",
    re.IGNORECASE,
)


def ticks_from_datetime(value: datetime) -> int:
    """Ticks (100 ns since the epoch, UTC) of an aware datetime; naive means Helsinki time."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=HELSINKI)
    delta = value - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * TICKS_PER_SECOND + delta.microseconds * 10


def format_ticks(ticks: int) -> str:
    """`2025-04-20T00:37:45.8617613+03:00`: 7 fractional digits, Helsinki offset of that date."""
    seconds, fraction = divmod(ticks, TICKS_PER_SECOND)
    local = datetime.fromtimestamp(seconds, HELSINKI)
    offset = local.utcoffset() or timedelta(0)
    minutes = int(offset.total_seconds()) // 60
    sign = "+" if minutes >= 0 else "-"
    hours, mins = divmod(abs(minutes), 60)
    return f"{local:%Y-%m-%dT%H:%M:%S}.{fraction:07d}{sign}{hours:02d}:{mins:02d}"


def format_date(value: date) -> str:
    """A plain date the ASP.NET way: midnight, no offset (`2021-03-01T00:00:00`)."""
    return f"{value:%Y-%m-%d}T00:00:00"


def parse_ticks(value: str) -> int:
    """Parse an ISO 8601 timestamp (with or without offset, up to 9 fractional digits).

    Without an offset the value is Helsinki wall-clock time (as the API's `DateTime`).

    Raises:
        ValueError: the value is not an ISO 8601 date or timestamp.
    """
    match = _ISO.match(value.strip())
    if match is None:
        raise ValueError(f"not an ISO 8601 timestamp: {value!r}")
    year, month, day, hour, minute, second, fraction, offset = match.groups()
    naive = datetime(
        int(year), int(month), int(day), int(hour or 0), int(minute or 0), int(second or 0)
    )
    if offset is None:
        aware = naive.replace(tzinfo=HELSINKI)
    elif offset.upper() == "Z":
        aware = naive.replace(tzinfo=UTC)
    else:
        digits = offset.replace(":", "")
        delta = timedelta(hours=int(digits[1:3]), minutes=int(digits[3:5]))
        aware = naive.replace(tzinfo=UTC) - (delta if digits[0] == "+" else -delta)
    frac_ticks = int((fraction or "0").ljust(9, "0")[:7])
    return ticks_from_datetime(aware.replace(microsecond=0)) + frac_ticks
