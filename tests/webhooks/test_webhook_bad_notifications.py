"""One bad notification does not cost its bundle: a NUL character in a text field, a field
nested too deeply to decode, an unpaired surrogate, or a value the warehouse refuses sends
that notification (only) to ops.webhook_dead_letters with the reason, stores its valid
siblings and answers 200; only an unreachable warehouse answers 503. Deduplication is on
the notification's meaning: the same event re-sent with other key order, spacing, key case,
id or time spelling is one event; different values (down to a 29th decimal digit) are two.
"""

from __future__ import annotations

import logging

import orjson
from sqlalchemy import text

from pipelines.warehouse.engine import make_engine
from pipelines.webhooks.receiver import create_receiver_app

from .conftest import SECRET, asgi_client, bundle, count, notification, run

PATH = "/tampuuri/webhook"
HEADERS = {"X-Webhook-Secret": SECRET}


def post(app, body: bytes | dict):
    content = body if isinstance(body, bytes) else orjson.dumps(body)

    async def go():
        async with asgi_client(app) as client:
            return await client.post(PATH, content=content, headers=HEADERS)

    return run(go)


def dead_letters(engine) -> list[tuple[str, str]]:
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT reason, payload FROM ops.webhook_dead_letters ORDER BY dead_letter_id")
        ).all()
    return [(reason, payload) for reason, payload in rows]


def references(engine) -> list[int]:
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT reference_id FROM ops.webhook_inbox ORDER BY reference_id")
        ).all()
    return [ref for (ref,) in rows]


def test_a_nul_character_dead_letters_only_its_notification(engine, settings, mapping):
    app = create_receiver_app(engine, settings, mapping=mapping)
    response = post(
        app,
        bundle(
            notification(1),
            notification(2, ReferenceData="Rappu A\u0000"),
            notification(3, Account="demo\u0000a"),
            notification(4),
        ),
    )
    assert response.status_code == 200
    assert response.json() == {"stored": 2, "duplicates": 0, "invalid": 2}
    assert references(engine) == [1, 4]
    (data_reason, data_payload), (account_reason, _) = dead_letters(engine)
    assert data_reason == (
        "Notifications[1]: ReferenceData contains a NUL character (\\u0000) at position 7,"
        " which the warehouse cannot store in text"
    )
    assert account_reason.startswith("Notifications[2]: Account contains a NUL character")
    assert '"ReferenceData":"Rappu A\\u0000"' in data_payload  # kept, escaped
    # A NUL inside ReferenceJson sent as an object is stored as its JSON escape.
    again = post(app, bundle(notification(5, ReferenceJson={"Nimi": "x\u0000"})))
    assert again.json() == {"stored": 1, "duplicates": 0, "invalid": 0}


def test_deep_nesting_and_bad_escapes_cost_only_their_notification(engine, settings, mapping):
    app = create_receiver_app(engine, settings, mapping=mapping)
    deep_254 = orjson.dumps(notification(1, Extra=[[]])).replace(b"[[]]", b"[" * 254 + b"]" * 254)
    too_deep = orjson.dumps(notification(2)).replace(
        b"}", b',"Extra":' + b"[" * 5000 + b"]" * 5000 + b"}"
    )
    surrogate = orjson.dumps(notification(3, ReferenceData="x")).replace(b'"x"', b'"\\ud800"')
    body = b'{"Attempts": 1, "Notifications": [%s, %s, %s, %s]}' % (
        deep_254,
        too_deep,
        surrogate,
        orjson.dumps(notification(4)),
    )
    response = post(app, body)
    assert response.status_code == 200
    assert response.json() == {"stored": 2, "duplicates": 0, "invalid": 2}
    assert references(engine) == [1, 4]  # 254 levels are fine: the field is kept in the key
    (deep_reason, deep_payload), (escape_reason, escape_payload) = dead_letters(engine)
    assert deep_reason == "Notifications[1]: nested too deeply to decode"
    assert deep_payload == too_deep.decode()
    assert escape_reason.startswith("Notifications[2]: not valid JSON: ")
    assert escape_payload == surrogate.decode()
    # A body whose outer shape is not JSON is still refused whole, saying why.
    broken = post(app, b'{"Notifications": [' + deep_254)
    assert broken.status_code == 400
    assert broken.json()["Message"].startswith("body is not valid JSON: ")
    too_deep_body = post(app, b"[" * 5000 + b"]" * 5000)
    assert too_deep_body.status_code == 400
    assert too_deep_body.json() == {"Message": "body is not valid JSON: nested too deeply"}


def test_a_value_the_warehouse_refuses_is_dead_lettered_with_its_reason(engine, settings, mapping):
    # A rule the receiver's validation does not know (here a CHECK added for the test):
    # the warehouse refuses that row, the receiver finds which one, keeps the others.
    with engine.begin() as conn:
        conn.execute(
            text(
                "ALTER TABLE ops.webhook_inbox ADD CONSTRAINT no_refused"
                " CHECK (reference_data IS DISTINCT FROM 'refused')"
            )
        )
    app = create_receiver_app(engine, settings, mapping=mapping)
    response = post(
        app, bundle(notification(1), notification(2, ReferenceData="refused"), notification(3))
    )
    assert response.status_code == 200
    assert response.json() == {"stored": 2, "duplicates": 0, "invalid": 1}
    assert references(engine) == [1, 3]
    [(reason, payload)] = dead_letters(engine)
    assert reason.startswith("the warehouse refused it: CheckViolation: ")
    assert "no_refused" in reason
    assert orjson.loads(payload)["ReferenceId"] == 2
    # Redelivered: the stored ones are duplicates, the refused one is refused again.
    again = post(
        app,
        bundle(
            notification(1), notification(2, ReferenceData="refused"), notification(3), attempts=2
        ),
    )
    assert again.json() == {"stored": 0, "duplicates": 2, "invalid": 1}


def test_only_an_unreachable_warehouse_answers_503(engine, settings, mapping, caplog):
    down = make_engine("postgresql+psycopg://u:hunter2@127.0.0.1:1/none?connect_timeout=1")
    app = create_receiver_app(down, settings, mapping=mapping)
    with caplog.at_level(logging.INFO):
        response = post(app, bundle(notification(1), notification(2, ReferenceData="\u0000")))
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "30"
    assert "hunter2" not in caplog.text and SECRET not in caplog.text
    # Nothing was written anywhere while it was down; the same bundle is stored once it is up.
    assert count(engine, "SELECT count(*) FROM ops.webhook_dead_letters") == 0
    up = create_receiver_app(engine, settings, mapping=mapping)
    redelivered = post(up, bundle(notification(1), notification(2, ReferenceData="\u0000")))
    assert redelivered.json() == {"stored": 1, "duplicates": 0, "invalid": 1}


def test_dedup_is_on_meaning_not_bytes(engine, settings, mapping):
    app = create_receiver_app(engine, settings, mapping=mapping)
    first = (
        b'{"Attempts":1,"Notifications":[{"Action":"IlmoitusUusi","Account":"demo-a",'
        b'"ReferenceId":12,"ReferenceSecondaryId":null,"ReferenceData":null,'
        b'"ReferenceJson":"{\\"Summa\\": 1.50, \\"Tila\\": \\"Auki\\"}",'
        b'"Timestamp":"2025-04-20T09:00:00Z","Hinta":79.681274900398406374501992032}]}'
    )
    # Other key order, spacing and key case; the id as text; the time with an offset; the
    # ReferenceJson as an object with its keys reordered; nulls left out; 1.5 for 1.50.
    same = (
        b'{ "notifications" : [ { "hinta" : 79.681274900398406374501992032 ,\n'
        b' "timestamp" : "2025-04-20T12:00:00+03:00", "referencejson" : {"Tila": "Auki",'
        b' "Summa": 1.5}, "referenceid" : "12", "account" : "demo-a",'
        b' "action" : "IlmoitusUusi" } ], "attempts" : 2 }'
    )
    assert post(app, first).json() == {"stored": 1, "duplicates": 0, "invalid": 0}
    assert post(app, same).json() == {"stored": 0, "duplicates": 1, "invalid": 0}
    # A different 29th digit, another time, or a number beyond 64 bits: distinct events.
    other_digit = first.replace(b"992032", b"992033")
    other_time = first.replace(b"09:00:00Z", b"09:00:01Z")
    huge = first.replace(b"79.681274900398406374501992032", b"123456789012345678901234567890")
    for body in (other_digit, other_time, huge):
        assert post(app, body).json() == {"stored": 1, "duplicates": 0, "invalid": 0}
    assert count(engine, "SELECT count(*) FROM ops.webhook_inbox") == 4
    assert count(engine, "SELECT max(attempts_seen) FROM ops.webhook_inbox") == 2
