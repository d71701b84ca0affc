-- Programme follow-up in long format for dashboards: one row per kommun, year, insats
-- ('alla' = the unit as a whole), provider ('alla' unless per provider), measure (matt),
-- kön, age class and category, with the value and its unit (antal or andel, a share
-- 0–1). docs/figures.md defines every measure.
SELECT kommun, ar, insats, 'alla' AS anordnare, 'deltagare' AS matt, kon, aldersklass, 'total' AS kategori,
       CAST(deltagare AS DOUBLE) AS varde, 'antal' AS enhet
FROM uppfoljning_deltagare
UNION ALL
SELECT DISTINCT kommun, ar, insats, 'alla', 'avslut', kon, 'alla', 'total', CAST(avslut AS DOUBLE), 'antal' FROM uppfoljning_avslut
UNION ALL
SELECT DISTINCT kommun, ar, insats, 'alla', 'avslut_utan_overgang', kon, 'alla', 'total', CAST(avslut_utan_overgang AS DOUBLE), 'antal' FROM uppfoljning_avslut
UNION ALL
SELECT kommun, ar, insats, 'alla', 'avslut', kon, 'alla', avslutskod, CAST(antal AS DOUBLE), 'antal' FROM uppfoljning_avslut
UNION ALL
SELECT kommun, ar, insats, 'alla', 'avslut_andel', kon, 'alla', avslutskod, andel, 'andel' FROM uppfoljning_avslut WHERE andel IS NOT NULL
UNION ALL
SELECT DISTINCT kommun, ar, insats, 'alla', 'sex_man_avslutade_' || halvar, 'T', 'alla', 'total', CAST(avslutade AS DOUBLE), 'antal' FROM uppfoljning_sex_manader
UNION ALL
SELECT DISTINCT kommun, ar, insats, 'alla', 'sex_man_nadda_' || halvar, 'T', 'alla', 'total', CAST(nadda AS DOUBLE), 'antal' FROM uppfoljning_sex_manader
UNION ALL
SELECT kommun, ar, insats, 'alla', 'sex_man_status_' || halvar, 'T', 'alla', status, andel, 'andel' FROM uppfoljning_sex_manader WHERE status IS NOT NULL
UNION ALL
SELECT kommun, ar, 'alla', anordnare, 'anordnare_insatser', 'T', 'alla', 'total', CAST(insatser AS DOUBLE), 'antal' FROM uppfoljning_anordnare
UNION ALL
SELECT kommun, ar, 'alla', anordnare, 'anordnare_andel_lyckade', 'T', 'alla', 'total', andel_lyckade, 'andel' FROM uppfoljning_anordnare WHERE andel_lyckade IS NOT NULL
