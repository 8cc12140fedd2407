-- The plan's calls for one resource of a run (admission's plan, written once the run's rows exist).
UPDATE ops.sync_runs
   SET planned_calls = :planned
 WHERE run_id = :run_id AND account = :account AND resource = :resource
