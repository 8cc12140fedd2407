-- bi.notice_lead_times_monthly: lead times summarised per account, creation month,
-- urgency (kiireellisyys) and fault class (vikaluokka). Averages and medians are over the
-- notices that reached the milestone; `done` and `closed` say how many that is.
CREATE OR REPLACE VIEW bi.notice_lead_times_monthly AS
SELECT
  t.account,
  t.created_month,
  t.kiireellisyys,
  t.vikaluokka,
  count(*)                                  AS notices,
  count(t.done_at)                          AS done,
  count(t.closed_at)                        AS closed,
  round(avg(t.days_to_done), 2)             AS avg_days_to_done,
  round((percentile_cont(0.5) WITHIN GROUP (ORDER BY t.days_to_done))::numeric, 2)
                                            AS median_days_to_done,
  round(avg(t.days_to_closed), 2)           AS avg_days_to_closed,
  round((percentile_cont(0.5) WITHIN GROUP (ORDER BY t.days_to_closed))::numeric, 2)
                                            AS median_days_to_closed
FROM bi.notice_lead_times AS t
GROUP BY t.account, t.created_month, t.kiireellisyys, t.vikaluokka;
