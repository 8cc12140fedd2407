-- The last finished run of an asset's resource for one account: its status and error
-- (`forbidden`: the API refused a route as a whole; `not_licensed`: as the config expects;
-- `incomplete`: a scan it could not prove complete).
SELECT run_id, status, error
  FROM ops.sync_runs
 WHERE account = :account
   AND resource = :resource
   AND status <> 'running'
 ORDER BY started_at DESC
 LIMIT 1
