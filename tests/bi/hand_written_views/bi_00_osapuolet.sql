-- bi.osapuolet: parties (persons and companies) with personal data protected.
--
-- The one place where turvakielto (non-disclosure order) masking is decided; every other
-- bi view that shows a party reads it from here, never from tampuuri.osapuolet. The file
-- name sorts first ("00") because views are applied in file-name order and others use it.
--
-- Masking: when turvakielto is true, OR unknown (NULL: fail closed), the five contact
-- columns read '***' whether or not a value is stored, so a masked row does not even
-- reveal which contact details exist. NULL in an unmasked row means "not known".
-- Never exposed: the raw item (`data`, which holds Tunnistautuminen and Parametrit),
-- row_hash and the sync's bookkeeping columns.
--
-- The view runs with its owner's rights (security_invoker = false, the default): that is
-- what lets tampuuri_bi read it without any right on tampuuri.osapuolet.
CREATE OR REPLACE VIEW bi.osapuolet AS
SELECT
  o.account,
  o.id             AS osapuoli_id,
  o.yritys_id,
  o.nimi,
  o.osapuolityyppi,
  o.turvakielto,
  CASE WHEN o.turvakielto IS NOT FALSE THEN '***' ELSE o.sahkoposti END       AS sahkoposti,
  CASE WHEN o.turvakielto IS NOT FALSE THEN '***' ELSE o.puhelin END          AS puhelin,
  CASE WHEN o.turvakielto IS NOT FALSE THEN '***' ELSE o.katuosoite END       AS katuosoite,
  CASE WHEN o.turvakielto IS NOT FALSE THEN '***' ELSE o.postinumero END      AS postinumero,
  CASE WHEN o.turvakielto IS NOT FALSE THEN '***' ELSE o.postitoimipaikka END AS postitoimipaikka,
  o.first_seen_at,
  o.changed_at
FROM tampuuri.osapuolet AS o
WHERE o.deleted_at IS NULL;
