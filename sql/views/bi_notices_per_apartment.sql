-- bi.notices_per_apartment: every active apartment (metaname 'huoneisto', any letter
-- case) with counts of the active notices whose HuoneId is that apartment. Apartments
-- without notices appear with zero counts.
CREATE OR REPLACE VIEW bi.notices_per_apartment AS
SELECT
  k.account,
  k.kohde_id,
  k.kustannuspaikka_id,
  kp.nimi                                                      AS kustannuspaikka_nimi,
  k.tunnus,
  k.nimi                                                       AS huoneisto_nimi,
  count(n.ilmoitus_id)                                         AS notices_total,
  count(n.ilmoitus_id) FILTER (WHERE n.is_open)                AS notices_open,
  count(n.ilmoitus_id) FILTER (WHERE n.luotu >= now() - interval '365 days')
                                                               AS notices_last_365_days,
  min(n.luotu)                                                 AS first_notice_at,
  max(n.luotu)                                                 AS last_notice_at
FROM bi.kohteet AS k
LEFT JOIN bi.kustannuspaikat AS kp
  ON kp.account = k.account AND kp.kustannuspaikka_id = k.kustannuspaikka_id
LEFT JOIN bi.ilmoitukset AS n
  ON n.account = k.account AND n.huone_id = k.kohde_id
WHERE lower(k.metaname) = 'huoneisto'
GROUP BY k.account, k.kohde_id, k.kustannuspaikka_id, kp.nimi, k.tunnus, k.nimi;
