-- bi.apartment_occupants: every active apartment (metaname 'huoneisto') with its current
-- parties: one row per current link (owner 'Omistaja', tenant 'Vuokralainen', resident
-- 'Asukas', ...), or one row with NULL party columns for an apartment without any.
--
-- Current: started (alkupvm <= today, or unknown start) and not ended (loppupvm NULL or
-- >= today), "today" being the Helsinki calendar date.
--
-- turvakielto: linking a protected person to an apartment discloses where they live or
-- what they own, which is exactly what the order forbids. So for a protected party (or
-- one whose protection is unknown, e.g. not loaded yet: fail closed) the row keeps the
-- role and dates but hides who it is: osapuoli_id NULL (it would join to the name in
-- bi.osapuolet) and osapuoli_nimi '***'. Contact columns come from bi.osapuolet, which
-- masks them. The links' raw item (it nests the whole party, address included) is never
-- read here.
CREATE OR REPLACE VIEW bi.apartment_occupants AS
SELECT
  k.account,
  k.id                 AS kohde_id,
  k.kustannuspaikka_id,
  kp.nimi              AS kustannuspaikka_nimi,
  k.tunnus,
  k.nimi               AS huoneisto_nimi,
  k.huoneistoala,
  y.id                 AS yhteys_id,
  y.rooli,
  y.alkupvm,
  y.loppupvm,
  CASE WHEN p.turvakielto IS FALSE THEN y.osapuoli_id END AS osapuoli_id,
  CASE
    WHEN y.id IS NULL THEN NULL
    WHEN p.turvakielto IS FALSE THEN p.nimi
    ELSE '***'
  END                  AS osapuoli_nimi,
  p.osapuolityyppi,
  p.turvakielto,
  p.sahkoposti,
  p.puhelin,
  p.katuosoite,
  p.postinumero,
  p.postitoimipaikka
FROM tampuuri.kohteet AS k
LEFT JOIN tampuuri.kustannuspaikat AS kp
  ON kp.account = k.account AND kp.id = k.kustannuspaikka_id AND kp.deleted_at IS NULL
LEFT JOIN tampuuri.osapuoli_yhteydet AS y
  ON y.account = k.account
  AND y.kohde_id = k.id
  AND y.deleted_at IS NULL
  AND (y.alkupvm IS NULL OR y.alkupvm <= (now() AT TIME ZONE 'Europe/Helsinki')::date)
  AND (y.loppupvm IS NULL OR y.loppupvm >= (now() AT TIME ZONE 'Europe/Helsinki')::date)
LEFT JOIN bi.osapuolet AS p
  ON p.account = y.account AND p.osapuoli_id = y.osapuoli_id
WHERE k.deleted_at IS NULL
  AND lower(k.metaname) = 'huoneisto';
