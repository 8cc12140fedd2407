-- bi.notice_lead_times: per active notice, when it was created, first done and first
-- closed, and the lead times between them in days (2 decimals).
--
-- done_at / closed_at: the first version of the notice, in tampuuri.ilmoitukset_history
-- or the current row, whose Tila is 'Tehty' / 'Valmis'. The time of that version is its
-- Muokattu (Tampuuri's own change time), falling back to valid_from (when the warehouse
-- first stored it) if Muokattu is missing. Muokattu is preferred because valid_from is a
-- sync time: a notice closed a year before the first sync would otherwise "close" on
-- the day of the first sync. A reopened notice keeps its first done/closed time. A notice
-- first seen already closed has no done_at if no 'Tehty' version was ever stored.
-- created_month is the Helsinki calendar month of creation (a cohort: the latest months
-- are still filling up; compare `closed` with `notices`).
CREATE OR REPLACE VIEW bi.notice_lead_times AS
WITH versions AS (
  SELECT
    h.account,
    h.id,
    h.data ->> 'Tila' AS tila,
    coalesce(ops.to_timestamptz(h.data ->> 'Muokattu'), h.valid_from) AS at
  FROM tampuuri.ilmoitukset_history AS h
  WHERE NOT h.deleted
  UNION ALL
  SELECT i.account, i.id, i.tila, coalesce(i.muokattu, i.changed_at)
  FROM tampuuri.ilmoitukset AS i
  WHERE i.deleted_at IS NULL
),
milestones AS (
  SELECT
    v.account,
    v.id,
    min(v.at) FILTER (WHERE v.tila = 'Tehty')  AS done_at,
    min(v.at) FILTER (WHERE v.tila = 'Valmis') AS closed_at
  FROM versions AS v
  GROUP BY v.account, v.id
)
SELECT
  i.account,
  i.id AS ilmoitus_id,
  i.kustannuspaikka_id,
  i.tila,
  i.kiireellisyys,
  i.vikaluokka,
  i.luotu,
  date_trunc('month', i.luotu AT TIME ZONE 'Europe/Helsinki')::date AS created_month,
  m.done_at,
  m.closed_at,
  round(extract(epoch FROM m.done_at - i.luotu) / 86400, 2)     AS days_to_done,
  round(extract(epoch FROM m.closed_at - i.luotu) / 86400, 2)   AS days_to_closed,
  round(extract(epoch FROM m.closed_at - m.done_at) / 86400, 2) AS days_done_to_closed
FROM tampuuri.ilmoitukset AS i
LEFT JOIN milestones AS m ON m.account = i.account AND m.id = i.id
WHERE i.deleted_at IS NULL;
