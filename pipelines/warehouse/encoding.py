"""Items as the warehouse stores them: canonical JSON, its hash, and COPY text lines.

`data` holds the item as canonical JSON (sorted keys), `row_hash` is its md5: the change
detector that lets a re-scan skip unchanged rows. `encode_page` turns one page of items
into the COPY text a staging table takes (the loader's hot path: pure CPU, no database).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pipelines.tampuuri import json_codec
from pipelines.warehouse.id_spans import IdSpan
from pipelines.warehouse.tables import TableSpec

_BIGINT_MIN, _BIGINT_MAX = -(2**63), 2**63 - 1


@dataclass(frozen=True)
class EncodedPage:
    """Items validated and encoded for one table's staging (`ScopeLoad.encode`)."""

    table: str
    lines: bytes  # COPY text: data, id, row_hash per line
    rows: int
    keys: frozenset[str]  # the item keys seen (for `new_fields`)
    spans: tuple[IdSpan, ...] = ()  # the ids of each API page in it (none: no rows)


def join_pages(pages: Sequence[EncodedPage]) -> EncodedPage:
    """Encoded pages of one table as one (one COPY instead of several), in their order."""
    if len(pages) == 1:
        return pages[0]
    tables = {page.table for page in pages}
    if len(tables) != 1:
        raise ValueError(f"pages of one table can be joined, not of {sorted(tables)}")
    return EncodedPage(
        pages[0].table,
        b"".join(page.lines for page in pages),
        sum(page.rows for page in pages),
        frozenset().union(*(page.keys for page in pages)),
        tuple(span for page in pages for span in page.spans),
    )


def canonical_json(item: Mapping[str, Any]) -> bytes:
    """The item as canonical JSON (sorted keys): what `data` stores and `row_hash` hashes.

    PostgreSQL's jsonb cannot hold the NUL character (the escape \\u0000); the rare item
    with one gets it replaced by U+FFFD rather than failing the whole scan.
    """
    payload = json_codec.encode_canonical(item)
    if b"\\u0000" in payload:  # also matches an escaped backslash before "u0000": harmless
        payload = json_codec.encode_canonical(_without_nul(item))
    return payload


def encode_page(spec: TableSpec, items: Sequence[Mapping[str, Any]]) -> EncodedPage:
    """Validate and encode items for a staging COPY of `spec`'s table.

    Only the item itself is staged (its canonical JSON, Id and hash): the typed columns
    are extracted from it in SQL, in one place (`tables.typed_expression`).

    Raises:
        ValueError: an item has no integer `Id` or cannot be encoded; the message names
            its position in `items` (never its content: it may hold personal data).
    """
    keys: set[str] = set()
    lines: list[bytes] = []  # per row: data, then the rest of its line
    md5 = hashlib.md5
    encode = json_codec.encode_canonical  # `canonical_json`, its rare NUL case below
    low, high, ascending = _BIGINT_MAX + 1, _BIGINT_MIN - 1, True  # the page's IdSpan
    for position, item in enumerate(items):
        # (type() first: an isinstance check against the Mapping ABC is slow per item)
        is_mapping = type(item) is dict or isinstance(item, Mapping)
        item_id = item.get("Id") if is_mapping else None
        if type(item_id) is not int or not _BIGINT_MIN <= item_id <= _BIGINT_MAX:
            raise ValueError(f"{spec.name}: item at position {position} {_id_problem(item_id)}")
        try:
            payload = encode(item)
            if b"\\u0000" in payload:
                payload = canonical_json(item)
        except (json_codec.EncodeError, TypeError) as error:
            raise ValueError(
                f"{spec.name}: item at position {position} (Id {item_id}) is not "
                f"encodable as JSON: {error}"
            ) from None
        keys.update(item)
        if item_id > high:
            high = item_id
        else:
            ascending = False
        if item_id < low:
            low = item_id
        # The per-row work is inlined (this loop runs for every row a sync writes): one
        # staging row in COPY's text format, data, id, row_hash. The canonical JSON holds
        # no raw tab, newline or NUL (JSON escapes control characters), so the only byte
        # COPY would misread is the backslash of JSON's own escapes: doubled. Data and the
        # rest of the line go into `lines` as two parts: no copy of the data into a line
        # of its own.
        # row_hash: md5 hex of the canonical JSON, a change detector, not a security measure
        digest = md5(payload, usedforsecurity=False).hexdigest()
        lines.append(payload.replace(b"\\", b"\\\\") if b"\\" in payload else payload)
        lines.append(f"\t{item_id}\t{digest}\n".encode())
    spans = (IdSpan(low, high, ascending),) if lines else ()
    return EncodedPage(spec.name, b"".join(lines), len(lines) // 2, frozenset(keys), spans)


def _id_problem(item_id: Any) -> str:
    if type(item_id) is int:  # an integer beyond the warehouse's bigint id column
        return f"has Id {item_id}, beyond the warehouse's bigint id column"
    return f"has no integer Id (got {type(item_id).__name__})"


def _without_nul(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, Mapping):
        return {_without_nul(k): _without_nul(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_without_nul(v) for v in value]
    return value
