-- The item keys without a typed column that an asset's last finished run saw for one
-- account, and those that no earlier finished run of it had seen (first seen in that run).
WITH last AS (
    SELECT run_id, started_at, new_fields
      FROM ops.sync_runs
     WHERE account = :account
       AND resource = :resource
       AND status <> 'running'
     ORDER BY started_at DESC
     LIMIT 1
), seen_before AS (
    SELECT DISTINCT field.value AS name
      FROM ops.sync_runs AS earlier
      JOIN last ON earlier.started_at < last.started_at
     CROSS JOIN LATERAL jsonb_array_elements_text(earlier.new_fields) AS field(value)
     WHERE earlier.account = :account
       AND earlier.resource = :resource
       AND earlier.status <> 'running'
)
SELECT last.run_id,
       ARRAY(SELECT jsonb_array_elements_text(last.new_fields) ORDER BY 1) AS new_fields,
       ARRAY(
           SELECT field.value
             FROM jsonb_array_elements_text(last.new_fields) AS field(value)
            WHERE field.value NOT IN (SELECT name FROM seen_before)
            ORDER BY 1
       ) AS first_seen
  FROM last
