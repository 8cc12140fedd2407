-- The calls the run's plan predicted for each resource (the budget guard's plan, before the
-- first call): the `calls_as_planned` asset check compares a run's calls with it. NULL for
-- work that is not planned per resource (webhook refreshes, a run from before 0008).
ALTER TABLE ops.sync_runs ADD COLUMN planned_calls integer;
