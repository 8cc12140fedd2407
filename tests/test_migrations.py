"""The migrations create the public warehouse contract and are applied exactly once."""

from sqlalchemy import text

from pipelines.warehouse.migrations import migration_files, upgrade

CONTRACT_TABLES = {
    "tampuuri": {"kustannuspaikat", "kohteet", "osapuolet", "osapuoli_yhteydet", "ilmoitukset"},
    "ops": {"api_calls", "sync_runs", "sync_state", "schema_migrations"},
}


def test_upgrade_is_idempotent_and_creates_contract_tables(engine):
    assert upgrade(engine) == []  # the template already applied everything
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT table_schema, table_name FROM information_schema.tables "
                "WHERE table_schema IN ('tampuuri', 'ops')"
            )
        ).all()
        applied = conn.execute(text("SELECT count(*) FROM ops.schema_migrations")).scalar()
    found = {(s, t) for s, t in rows}
    for schema, tables in CONTRACT_TABLES.items():
        for table in tables:
            assert (schema, table) in found
        if schema == "tampuuri":
            for table in tables:
                assert (schema, f"{table}_history") in found
    assert applied == len(migration_files())


def test_lenient_casts(engine):
    with engine.connect() as conn:
        row = conn.execute(
            text(
                "SELECT ops.to_numeric('54,5'), ops.to_numeric('n/a'),"
                " ops.to_timestamptz('2025-04-20T00:37:45.8617613+03:00') AT TIME ZONE 'UTC',"
                " ops.to_date('2021-03-01T00:00:00'), ops.to_boolean('true')"
            )
        ).one()
    assert str(row[0]) == "54.5"
    assert row[1] is None
    assert row[2].isoformat() == "2025-04-19T21:37:45.861761"
    assert str(row[3]) == "2021-03-01"
    assert row[4] is True
