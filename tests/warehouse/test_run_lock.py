"""Run locks: one sync per account and resource; a run's locks share one session."""

import pytest
from sqlalchemy import text

from pipelines.warehouse.run_lock import RUN_LOCK_NAMESPACE, ResourceBusy, RunLocks
from tests.warehouse.conftest import rows


def lock_holders(engine):
    """pid per held run lock in this database (pg_locks: classid is the namespace key)."""
    return rows(
        engine,
        "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND classid = :namespace"
        " AND granted AND database = (SELECT oid FROM pg_database"
        " WHERE datname = current_database()) ORDER BY objid",
        namespace=RUN_LOCK_NAMESPACE,
    )


def test_a_runs_locks_share_one_session_and_another_run_is_turned_away(engine):
    run, other = RunLocks(engine), RunLocks(engine)
    with run.hold("acc-a", "kohteet"), run.hold("acc-a", "ilmoitukset"):
        holders = lock_holders(engine)
        assert len(holders) == 2 and len(set(holders)) == 1
        busy = "another sync of account 'acc-a' kohteet is running"
        with pytest.raises(ResourceBusy, match=busy), other.hold("acc-a", "kohteet"):
            pass
        with other.hold("acc-b", "kohteet"):  # another account's resource is free
            assert len(set(lock_holders(engine))) == 2
    assert lock_holders(engine) == []
    with other.hold("acc-a", "kohteet"):  # released: the next run gets it
        assert len(lock_holders(engine)) == 1


def test_taking_the_lock_marks_dead_runs_abandoned(engine):
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO ops.sync_runs (run_id, account, resource, trigger, mode, status,"
                " started_at) VALUES ('dead', 'acc-a', 'kohteet', 'manual', 'full', 'running',"
                " now()), ('alive-elsewhere', 'acc-b', 'kohteet', 'manual', 'full', 'running',"
                " now())"
            )
        )
    with RunLocks(engine).hold("acc-a", "kohteet") as abandoned:
        assert abandoned == 1
    assert rows(engine, "SELECT run_id, status FROM ops.sync_runs ORDER BY run_id") == [
        ("alive-elsewhere", "running"),
        ("dead", "abandoned"),
    ]
