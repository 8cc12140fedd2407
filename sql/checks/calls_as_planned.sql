-- The asset's last finished planned run: its calls, retries, deletions, and the plan's calls.
SELECT run_id, status, calls, retries, deleted, planned_calls
  FROM ops.sync_runs
 WHERE account = :account AND resource = :resource
   AND finished_at IS NOT NULL AND planned_calls IS NOT NULL
 ORDER BY finished_at DESC
 LIMIT 1
