"""The value types settings are made of: strict (YAML's `2.7` is no integer and `true` no
number; nothing is truncated or coerced) and bounded."""

from __future__ import annotations

from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, Field, Strict, StrictBool, StrictInt, StrictStr

from pipelines.settings.errors import shown

__all__ = [
    "NonNegativeFloat",
    "NonNegativeInt",
    "PositiveFloat",
    "PositiveInt",
    "StrictBool",
    "StrictInt",
    "StrictStr",
    "TimeZoneName",
]

PositiveInt = Annotated[int, Strict(), Field(gt=0)]
NonNegativeInt = Annotated[int, Strict(), Field(ge=0)]
# A strict float takes an integer (YAML's `5`) but never a bool or a string.
PositiveFloat = Annotated[float, Strict(), Field(gt=0)]
NonNegativeFloat = Annotated[float, Strict(), Field(ge=0)]


def _known_zone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"{shown(name, 'zone')} is not a time zone such as Europe/Helsinki"
        ) from None
    return name


TimeZoneName = Annotated[StrictStr, AfterValidator(_known_zone)]
