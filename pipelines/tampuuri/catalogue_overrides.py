"""Corrections of the route catalogue that `tampuuri-sync doctor` measured on a live account.

The doctor checks each [ASSUMED] fact of the catalogue against the live API and writes
what it found contradicted to `catalogue_overrides.yaml` next to `routes.yaml`:

```yaml
account: prod-a
checked_at: "2026-12-03T18:00:00+00:00"
contradicted:
  - assumption: limit_clamp
    key: max_page_size          # a dotted path into routes.yaml
    value: 100                  # null removes the key (e.g. a change_since the API ignores)
    evidence: "Limit=251 answered Limit 100 with 100 of 1234 rows"
  - assumption: deleted_404
    resource: kohteet
    evidence: "GET kohteet/123 ... answered 200"
    action: "what the operator must do"   # no key: the product cannot act on it itself
```

`apply_overrides` applies the entries that carry a `key` to the parsed `routes.yaml`
before the catalogue is validated, so an override passes the same checks as a hand edit.
Only the facts the doctor measures may be overridden (`OVERRIDABLE`); any other key, or a
resource the catalogue does not have, is a `ConfigError` naming the file and the entry.
"""

from __future__ import annotations

import copy
import logging
import re
from pathlib import Path
from typing import Any

from pipelines.settings import ConfigError, read_yaml

log = logging.getLogger(__name__)
OVERRIDES_FILE = "catalogue_overrides.yaml"
# The corrections the product can act on: the page clamp, and per resource its order,
# its change-since filter and its batch route's id limit.
OVERRIDABLE = re.compile(
    r"^(max_page_size|resources\.[A-Za-z0-9_]+\.(ordered_by_id|change_since|batch\.max_ids))$"
)


def overrides_path(routes_file: Path) -> Path:
    """Where the doctor's overrides of `routes_file` live: beside it."""
    return routes_file.with_name(OVERRIDES_FILE)


def read_overrides(path: Path) -> list[dict[str, Any]]:
    """The contradicted entries of an overrides file; [] when there is no file."""
    if not path.exists():
        return []
    raw = read_yaml(path)
    if raw is None:
        return []
    entries = raw.get("contradicted") if isinstance(raw, dict) else None
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise ConfigError(f"{path}: contradicted: must be a list of mappings")
    return entries


def apply_overrides(raw: Any, routes_file: Path) -> Any:
    """`raw` (parsed routes.yaml) with the doctor's overrides beside it applied.

    Returns `raw` itself when there is no overrides file, else a corrected deep copy.

    Raises:
        ConfigError: an entry names a key that may not be overridden or a resource the
            catalogue does not have.
    """
    path = overrides_path(routes_file)
    entries = [e for e in read_overrides(path) if e.get("key") is not None]
    if not entries or not isinstance(raw, dict):
        return raw
    corrected = copy.deepcopy(raw)
    for number, entry in enumerate(entries, start=1):
        key = str(entry["key"])
        where = f"{path}: contradicted[{number}] ({entry.get('assumption', '?')}): key {key}"
        if not OVERRIDABLE.match(key):
            raise ConfigError(f"{where}: may not be overridden")
        _set(corrected, key.split("."), entry.get("value"), where)
    log.info(
        "route catalogue: %d correction(s) measured by `tampuuri-sync doctor` applied from %s: %s",
        len(entries),
        path,
        ", ".join(f"{e['key']}={e.get('value')}" for e in entries),
    )
    return corrected


def _set(document: dict[str, Any], parts: list[str], value: Any, where: str) -> None:
    node: Any = document
    for depth, part in enumerate(parts[:-1]):
        child = node.get(part) if isinstance(node, dict) else None
        if not isinstance(child, dict):
            named = ".".join(parts[: depth + 1])
            raise ConfigError(f"{where}: the catalogue has no {named}")
        node = child
    if value is None:
        node.pop(parts[-1], None)
    else:
        node[parts[-1]] = value
