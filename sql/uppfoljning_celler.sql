-- The programme follow-up as it is published (SPEC §6): every count of the
-- uppfoljning_* views in the layout of the long kartläggning, so one small-count
-- suppression and one audit serve both. period = the year ('alla' for the fact box,
-- which covers an insats' whole life); dimension/kategori = insats or anordnare
-- ('total'/'total' for the unit as a whole); alder = age class ('alla' = every age).
-- Shares are computed after suppression from the published counts (publish::followup);
-- averages (programme days) are not published: over a handful of persons they are
-- close to a person's own figure.
WITH per_insats AS (
    SELECT kommun, CAST(ar AS VARCHAR) AS period, insats, 'deltagare' AS matt, kon, aldersklass AS alder, deltagare AS antal
    FROM uppfoljning_deltagare
    UNION ALL
    SELECT DISTINCT kommun, CAST(ar AS VARCHAR), insats, 'avslut', kon, 'alla', avslut FROM uppfoljning_avslut
    UNION ALL
    SELECT DISTINCT kommun, CAST(ar AS VARCHAR), insats, 'avslut_utan_overgang', kon, 'alla', avslut_utan_overgang FROM uppfoljning_avslut
    UNION ALL
    SELECT kommun, CAST(ar AS VARCHAR), insats, 'avslut_' || avslutskod, kon, 'alla', antal FROM uppfoljning_avslut
    UNION ALL
    SELECT DISTINCT kommun, CAST(ar AS VARCHAR), insats, 'sex_man_avslutade_' || halvar, 'T', 'alla', avslutade FROM uppfoljning_sex_manader
    UNION ALL
    SELECT DISTINCT kommun, CAST(ar AS VARCHAR), insats, 'sex_man_uppfoljda_' || halvar, 'T', 'alla', uppfoljda FROM uppfoljning_sex_manader
    UNION ALL
    SELECT DISTINCT kommun, CAST(ar AS VARCHAR), insats, 'sex_man_nadda_' || halvar, 'T', 'alla', nadda FROM uppfoljning_sex_manader
    UNION ALL
    SELECT kommun, CAST(ar AS VARCHAR), insats, 'sex_man_' || halvar || '_' || status, 'T', 'alla', antal
    FROM uppfoljning_sex_manader WHERE status IS NOT NULL AND status <> ''
    UNION ALL
    SELECT kommun, 'alla', insats, 'faktaruta_deltagare', kon, 'alla', deltagare FROM uppfoljning_faktaruta
    UNION ALL
    SELECT kommun, 'alla', insats, 'faktaruta_i_arbete', kon, 'alla', i_arbete FROM uppfoljning_faktaruta
    UNION ALL
    SELECT kommun, 'alla', insats, 'faktaruta_i_studier', kon, 'alla', i_studier FROM uppfoljning_faktaruta
    UNION ALL
    SELECT kommun, 'alla', insats, 'faktaruta_planerade_avbrott', kon, 'alla', planerade_avbrott FROM uppfoljning_faktaruta
    UNION ALL
    SELECT kommun, 'alla', insats, 'faktaruta_oplanerade_avbrott', kon, 'alla', oplanerade_avbrott FROM uppfoljning_faktaruta
    UNION ALL
    SELECT kommun, 'alla', insats, 'faktaruta_kvar', kon, 'alla', kvar FROM uppfoljning_faktaruta
),
per_anordnare AS (
    SELECT kommun, CAST(ar AS VARCHAR) AS period, anordnare, 'anordnare_insatser' AS matt, insatser AS antal FROM uppfoljning_anordnare
    UNION ALL SELECT kommun, CAST(ar AS VARCHAR), anordnare, 'anordnare_deltagare', deltagare FROM uppfoljning_anordnare
    UNION ALL SELECT kommun, CAST(ar AS VARCHAR), anordnare, 'anordnare_startade', startade FROM uppfoljning_anordnare
    UNION ALL SELECT kommun, CAST(ar AS VARCHAR), anordnare, 'anordnare_avslutade', avslutade FROM uppfoljning_anordnare
    UNION ALL SELECT kommun, CAST(ar AS VARCHAR), anordnare, 'anordnare_till_arbete', till_arbete FROM uppfoljning_anordnare
    UNION ALL SELECT kommun, CAST(ar AS VARCHAR), anordnare, 'anordnare_till_studier', till_studier FROM uppfoljning_anordnare
    UNION ALL SELECT kommun, CAST(ar AS VARCHAR), anordnare, 'anordnare_till_eget_foretag', till_eget_foretag FROM uppfoljning_anordnare
)
SELECT kommun, period, matt, kon, alder,
       CASE WHEN insats = 'alla' THEN 'total' ELSE 'insats' END AS dimension,
       CASE WHEN insats = 'alla' THEN 'total' ELSE insats END AS kategori,
       'ok' AS status, 'deltagande' AS kalla, CAST(antal AS BIGINT) AS antal,
       CAST(NULL AS BIGINT) AS befolkning, CAST(NULL AS DOUBLE) AS andel
FROM per_insats
UNION ALL
SELECT kommun, period, matt, 'T', 'alla', 'anordnare', anordnare, 'ok', 'deltagande', CAST(antal AS BIGINT),
       CAST(NULL AS BIGINT), CAST(NULL AS DOUBLE)
FROM per_anordnare
