-- The programme follow-up as it is published (SPEC §6): every count of the
-- uppfoljning_* views in the layout of the long kartläggning, so one small-count
-- suppression and one audit serve both. period = the year ('alla' for the fact box,
-- which covers an insats' whole life); dimension/kategori = insats or anordnare
-- ('total'/'total' for the unit as a whole); alder = age class ('alla' = every age).
-- Shares are computed after suppression from the published counts (publish::followup);
-- averages (programme days) are not published: over a handful of persons they are
-- close to a person's own figure.
-- Each uppfoljning_* view is read once and unpivoted by a join with the list of its
-- measures (a view referenced twice is computed twice).
WITH per_insats AS (
    SELECT kommun, CAST(ar AS VARCHAR) AS period, insats, 'deltagare' AS matt, kon, aldersklass AS alder, deltagare AS antal
    FROM uppfoljning_deltagare
    UNION ALL
    SELECT DISTINCT a.kommun, CAST(a.ar AS VARCHAR), a.insats,
           CASE m.n WHEN 'kod' THEN 'avslut_' || a.avslutskod ELSE m.n END, a.kon, 'alla',
           CASE m.n WHEN 'kod' THEN a.antal WHEN 'avslut' THEN a.avslut ELSE a.avslut_utan_overgang END
    FROM uppfoljning_avslut a CROSS JOIN (VALUES ('kod'), ('avslut'), ('avslut_utan_overgang')) AS m(n)
    UNION ALL
    SELECT DISTINCT s.kommun, CAST(s.ar AS VARCHAR), s.insats,
           CASE m.n WHEN 'status' THEN 'sex_man_' || s.halvar || '_' || s.status ELSE 'sex_man_' || m.n || '_' || s.halvar END,
           'T', 'alla',
           CASE m.n WHEN 'status' THEN s.antal WHEN 'avslutade' THEN s.avslutade WHEN 'uppfoljda' THEN s.uppfoljda ELSE s.nadda END
    FROM uppfoljning_sex_manader s CROSS JOIN (VALUES ('status'), ('avslutade'), ('uppfoljda'), ('nadda')) AS m(n)
    WHERE m.n <> 'status' OR (s.status IS NOT NULL AND s.status <> '')
    UNION ALL
    SELECT f.kommun, 'alla', f.insats, 'faktaruta_' || m.n, f.kon, 'alla',
           CASE m.n WHEN 'deltagare' THEN f.deltagare WHEN 'i_arbete' THEN f.i_arbete WHEN 'i_studier' THEN f.i_studier
                    WHEN 'planerade_avbrott' THEN f.planerade_avbrott WHEN 'oplanerade_avbrott' THEN f.oplanerade_avbrott
                    ELSE f.kvar END
    FROM uppfoljning_faktaruta f
    CROSS JOIN (VALUES ('deltagare'), ('i_arbete'), ('i_studier'), ('planerade_avbrott'), ('oplanerade_avbrott'), ('kvar')) AS m(n)
),
per_anordnare AS (
    SELECT a.kommun, CAST(a.ar AS VARCHAR) AS period, a.anordnare, 'anordnare_' || m.n AS matt,
           CASE m.n WHEN 'insatser' THEN a.insatser WHEN 'deltagare' THEN a.deltagare WHEN 'startade' THEN a.startade
                    WHEN 'avslutade' THEN a.avslutade WHEN 'till_arbete' THEN a.till_arbete
                    WHEN 'till_studier' THEN a.till_studier ELSE a.till_eget_foretag END AS antal
    FROM uppfoljning_anordnare a
    CROSS JOIN (VALUES ('insatser'), ('deltagare'), ('startade'), ('avslutade'), ('till_arbete'), ('till_studier'), ('till_eget_foretag')) AS m(n)
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
