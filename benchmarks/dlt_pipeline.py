"""The dlt side of the sync benchmark: the same four resources through dlt's `rest_api` source.

Runs in its own venv (`benchmarks/.venv-dlt`, see benchmarks/README.md), never in the
product's: `bench_sync.py` starts it as a subprocess and reads the one JSON line it prints.
It is written the way a dlt user would write it, with dlt's defaults:

- `kustannuspaikat/selaa`, `osapuolet/yhteydet/selaa`, `ilmoitukset/selaa`: GET with an
  offset paginator (`Offset`/`Limit` in the query, `Total` in the envelope, items in `Items`);
- `kohteet/{kohde_id}/selaa`: a POST per cost centre, a dependent resource that resolves
  `kohde_id` from the kustannuspaikat resource; `Offset`/`Limit` travel in the JSON body
  (`offset_body_path`/`limit_body_path`);
- merge write disposition on `Id`, PostgreSQL destination.

The nested party (`Osapuoli`) of a link stays in the link row (dlt flattens it into
`osapuoli__*` columns); dlt has no notion of parties as their own table.

One step a dlt user has to add: the API sends a few integers beyond 64 bits (the simulator,
like Tampuuri's .NET serialiser: `Lisäkenttä.Viite` on about 1 item in 50), and dlt's
extract stops on them ("Integer exceeds 64-bit range"), so a `map` processing step turns
such integers into text before dlt sees them.

With `BENCH_DLT_PARALLEL=1`, dlt's own parallel extraction (dlt 1.31's rest_api): the
source is `parallelized` (its resources are extracted side by side in dlt's thread pool,
`extract.workers`, default 5) and so is the dependent `kohteet` resource (each cost
centre's pages are fetched as a deferred call in that pool). Paging within one listing
stays sequential: rest_api's paginators follow one page after another.

Everything comes from the environment, so no secret appears on a command line:
`BENCH_BASE_URL` (the API root ending in /v10/api/), `BENCH_DATABASE_URL` (libpq URL of a
fresh database), `BENCH_PIPELINES_DIR` (dlt's working directory), and the five
`TAMPUURI_*` credential variables plus `TAMPUURI_SOFTWARE_VERSION`.

Prints one JSON line: `{"seconds", "peak_rss_mb", "load_ids", "parallel"}` (rows and
calls are counted by the caller, from the database and the simulator's transaction report).
"""

from __future__ import annotations

import json
import os
import resource
import time
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import dlt
from dlt.sources.rest_api import rest_api_source

PAGE = 250
DATASET = "tampuuri_dlt"


def _offset_paginator(*, in_body: bool = False) -> dict[str, Any]:
    where = (
        {"offset_body_path": "Offset", "limit_body_path": "Limit"}
        if in_body
        else {"offset_param": "Offset", "limit_param": "Limit"}
    )
    return {"type": "offset", "limit": PAGE, "total_path": "Total", **where}


INT64 = range(-(2**63), 2**63)


def big_ints_as_text(value: Any) -> Any:
    """`value` with every integer beyond 64 bits (at any depth) as its decimal text."""
    if isinstance(value, dict):
        return {key: big_ints_as_text(item) for key, item in value.items()}
    if isinstance(value, list):
        return [big_ints_as_text(item) for item in value]
    if isinstance(value, int) and not isinstance(value, bool) and value not in INT64:
        return str(value)
    return value


def _headers(env: dict[str, str]) -> dict[str, str]:
    return {
        "X-TampuuriAvain": env["TAMPUURI_API_KEY"],
        "X-AsiakasNimi": env["TAMPUURI_CUSTOMER_NAME"],
        "X-Ohjelmistoversio": env.get("TAMPUURI_SOFTWARE_VERSION", "dlt-bench_v1"),
        "X-TiliNimi": env["TAMPUURI_ACCOUNT_NAME"],
        "X-Kayttajatunnus": env["TAMPUURI_USERNAME"],
        "X-Salasana": env["TAMPUURI_PASSWORD"],
    }


def destination_url(url: str) -> str:
    """dlt insists on a host and a password, which a local server's URL may both lack.

    A Unix-socket URL (`postgresql://u:@/db?host=/dir`) has no host: libpq lets the `host`
    query parameter win over the URL's host, so a placeholder host satisfies dlt's
    configuration check while the connection still goes to the socket. A URL without a
    password (`postgresql://u@127.0.0.1/db`, trust authentication) gets an empty one.
    """
    parts = urlsplit(url)
    userinfo, _, hostport = parts.netloc.rpartition("@")
    if userinfo and ":" not in userinfo:
        userinfo += ":"
    if not parts.hostname and "host=" in parts.query:
        hostport = "localhost"
    return urlunsplit(parts._replace(netloc=f"{userinfo}@{hostport}" if userinfo else hostport))


def source_config(
    base_url: str, headers: dict[str, str], *, parallel: bool = False
) -> dict[str, Any]:
    """The rest_api source configuration for the four resources."""
    return {
        "client": {"base_url": base_url, "headers": headers},
        "resource_defaults": {
            "primary_key": "Id",
            "write_disposition": "merge",
            "endpoint": {"data_selector": "Items", "paginator": _offset_paginator()},
            "processing_steps": [{"map": big_ints_as_text}],
        },
        "resources": [
            {"name": "kustannuspaikat", "endpoint": {"path": "kustannuspaikat/selaa"}},
            {
                "name": "kohteet",
                "endpoint": {
                    "path": "kohteet/{kohde_id}/selaa",
                    "method": "POST",
                    "json": {},
                    "params": {
                        "kohde_id": {
                            "type": "resolve",
                            "resource": "kustannuspaikat",
                            "field": "Id",
                        }
                    },
                    "paginator": _offset_paginator(in_body=True),
                },
                **({"parallelized": True} if parallel else {}),
            },
            {"name": "osapuoli_yhteydet", "endpoint": {"path": "osapuolet/yhteydet/selaa"}},
            {"name": "ilmoitukset", "endpoint": {"path": "ilmoitukset/selaa"}},
        ],
    }


def main() -> None:
    env = dict(os.environ)
    pipeline = dlt.pipeline(
        pipeline_name="tampuuri_bench",
        pipelines_dir=env["BENCH_PIPELINES_DIR"],
        destination=dlt.destinations.postgres(
            credentials=destination_url(env["BENCH_DATABASE_URL"])
        ),
        dataset_name=DATASET,
    )
    parallel = env.get("BENCH_DLT_PARALLEL") == "1"
    config = source_config(env["BENCH_BASE_URL"], _headers(env), parallel=parallel)
    source = rest_api_source(config, parallelized=parallel)
    started = time.perf_counter()
    info = pipeline.run(source)
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        json.dumps(
            {
                "seconds": seconds,
                "peak_rss_mb": peak,
                "load_ids": info.loads_ids,
                "parallel": parallel,
            }
        )
    )


if __name__ == "__main__":
    main()
