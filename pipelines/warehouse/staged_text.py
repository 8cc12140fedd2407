"""A row's staged typed values as COPY text: one function per table, compiled once.

`encoding.encode_page` runs for every row a sync writes. For each typed column it looked
the value up, called the column's converter (`tables.staged_converter`) in a list
comprehension and chose NULL: on objects (five typed columns) 2.4 of 6.3 us a row.
`staged_text(spec)` compiles one function per table that does the same for all of its
columns in one frame, with the commonest value of the integer columns (a JSON integer
in range) handled inline. Every other value goes to the column's converter, so the text
is exactly what `tables.staged_value` gives, with None as COPY's NULL.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import cache
from typing import Any

from pipelines.warehouse.tables import Cast, TableSpec, staged_converter

NULL = "\\N"  # COPY's text format for NULL

# Per cast, the expression turning a present value `v` into its text. The inline part of
# the integer casts is what tables._bigint and tables._integer return for a JSON integer.
_EXPRESSIONS: dict[Cast, str] = {
    "bigint": "str(v) if type(v) is int and -10**18 < v < 10**18 else (convert(v) or NULL)",
    "integer": "str(v) if type(v) is int and -2**31 <= v < 2**31 else (convert(v) or NULL)",
}
_CONVERTED = "convert(v) or NULL"

StagedText = Callable[[Mapping[str, Any]], str]


@cache
def staged_text(spec: TableSpec) -> StagedText:
    """`item -> text`: each staged column's value (`TableSpec.staged_columns`, in order),
    each followed by a tab; "" for a table without staged columns."""
    namespace: dict[str, Any] = {"NULL": NULL}
    source = ["def staged_text(item):", "    get = item.get"]
    fields = []
    for n, column in enumerate(spec.staged_columns):
        namespace[f"convert_{n}"] = staged_converter(column)
        expression = _EXPRESSIONS.get(column.cast, _CONVERTED).replace("convert", f"convert_{n}")
        # (field names come from TableSpec, never from an item; repr makes them literals)
        source.append(f"    v = get({column.field!r})")
        source.append(f"    text_{n} = NULL if v is None else ({expression})")
        fields.append(f"{{text_{n}}}\\t")
    source.append(f'    return f"{"".join(fields)}"')
    exec(compile("\n".join(source), f"<staged_text {spec.name}>", "exec"), namespace)
    function: StagedText = namespace["staged_text"]
    return function
