"""JSON as the API writes it: exact decimals, integers of any size.

Tampuuri is a .NET service: its decimals (`Kustannusarvio`, `Huoneistoala`, rents) travel
as JSON numbers with up to 28-29 significant digits (`79.681274900398406374501992032`).
A binary float keeps 15-17 of them, so parsing with floats silently changes money, and a
row's hash would change with the parser rather than with the data.

msgspec's decoder hands every number with a fraction or an exponent to `float_hook` as
its text, so `decimal.Decimal` receives exactly the digits sent (a trailing zero
included), and integers of any size decode as Python ints. Its encoder writes Decimals
back as JSON numbers digit for digit (`decimal_format="number"`). Measured against
orjson on a 250-row page (benchmarks/RESULTS.md, exact decimals): decoding ~250 vs
~130 us a page, canonical (sorted-key) encoding ~370 vs ~1,050 us, since orjson cannot
write a Decimal as a number at all without a slow `default` hook.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import msgspec

DecodeError = msgspec.DecodeError
EncodeError = msgspec.EncodeError

_decoder = msgspec.json.Decoder(float_hook=Decimal)
_encoder = msgspec.json.Encoder(decimal_format="number")
_canonical_encoder = msgspec.json.Encoder(decimal_format="number", order="sorted")


def decode(data: bytes | str) -> Any:
    """Parse JSON text; numbers with a fraction or exponent become exact `Decimal`s.

    Raises:
        DecodeError: the text is not JSON.
    """
    return _decoder.decode(data)


def encode(value: Any) -> bytes:
    """JSON bytes in the value's own key order; Decimals as exact JSON numbers."""
    return _encoder.encode(value)


# JSON bytes with every object's keys sorted: what the warehouse stores and hashes. The
# encoder's own method rather than a function around it: it runs once for every row a sync
# writes, and a Python frame per call was a tenth of the encoding's time. Raises
# EncodeError when the value holds something JSON cannot carry.
encode_canonical: Callable[[Any], bytes] = _canonical_encoder.encode
