"""Helpers shared by the simulator tests."""

from __future__ import annotations

import httpx

from pipelines.tampuuri import json_codec

BASE = "http://sim"
API = "/v10/api/"


async def scan(client: httpx.AsyncClient, path: str, **params: object) -> list[dict]:
    """Read every page of a query-paged list route."""
    items: list[dict] = []
    offset = 0
    while True:
        r = await client.get(API + path, params={**params, "Offset": offset, "Limit": 250})
        assert r.status_code == 200, r.text
        page = json_codec.decode(r.content)  # exact decimals, as sim.items() holds them
        items.extend(page["Items"])
        offset += 250
        if offset >= page["Total"]:
            return items


class Receiver:
    """An in-process webhook listener: records bundles, answers with `statuses` in turn."""

    def __init__(self, *statuses: int) -> None:
        self.statuses = list(statuses) or [200]
        self.bundles: list[dict] = []
        self.headers: list[dict[str, str]] = []
        self.paths: list[str] = []

    async def __call__(self, scope, receive, send):  # a bare ASGI app
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        import orjson

        self.bundles.append(orjson.loads(body))
        self.headers.append({k.decode(): v.decode() for k, v in scope["headers"]})
        self.paths.append(
            scope["path"] + ("?" + scope["query_string"].decode() if scope["query_string"] else "")
        )
        status = self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    def transport(self) -> httpx.ASGITransport:
        return httpx.ASGITransport(app=self)
