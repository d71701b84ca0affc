-- Målgruppens storlek (SPEC §4.1), per kön and age band 16-24 / 16-19 / 20-24:
--   malgrupp_summa  Kalmar's simple sum: AF inskrivna + everyone in KAA.
--   malgrupp_unik   Mölndal's unduplicated count: AF inskrivna + the persons (by
--                   person_id) who are in KAA with no or unknown activity, or have
--                   försörjningsstöd because of unemployment without being registered at AF.
-- and Mölndal's derivation of the second, each step a measure of its own:
--   malgrupp_kaa_ingen_okand        persons in KAA with no or unknown activity
--   malgrupp_fs_arbetsloshet_ej_af  persons with försörjningsstöd for unemployment, not at AF
--   malgrupp_delar_summa            AF inskrivna + the two above (the simple sum of the parts)
--   malgrupp_overlapp               persons in both of the two above, counted twice in the sum
-- so that malgrupp_unik = malgrupp_delar_summa − malgrupp_overlapp.
-- AF counts are aggregates, so overlap with AF itself cannot be removed; overlap between
-- KAA and försörjningsstöd is removed by the pseudonymous person key. Without AF data
-- for a kommun-month every measure here is absent or NULL rather than an undercount.
-- `status` is 'ok', or where a step adds an AF count that AF withheld, that count's
-- status ('suppressed'): the step is then withheld too, not missing.
WITH band AS (
    SELECT * FROM (VALUES ('16-24', 16, 24), ('16-19', 16, 19), ('20-24', 20, 24)) AS t(alder, fran, till)
),
-- AF's counts as `kartlaggning_af` gives them: a total AF did not deliver is K + M there.
af AS (
    SELECT kommun, period, kon, alder, antal, status
    FROM kartlaggning_af WHERE matt = 'af_inskrivna' AND dimension = 'total'
),
kaa_all AS (
    SELECT kommun, period, person_id, kon, alder FROM kaa
),
-- One row per person in either part of the unduplicated count, saying which: the counts
-- below are then sums, with no person id hashed twice.
personer AS (
    SELECT kommun, period, person_id, MAX(kon) AS kon, MAX(alder) AS alder,
           MAX(i_kaa) AS i_kaa, MAX(i_fs) AS i_fs
    FROM (
        SELECT kommun, period, person_id, kon, alder, 1 AS i_kaa, 0 AS i_fs FROM kaa WHERE aktivitet IN ('ingen', 'okand')
        UNION ALL
        SELECT kommun, period, person_id, kon, alder, 0, 1 FROM forsorjningsstod WHERE orsak = 'arbetsloshet' AND inskriven_af = false
    ) x
    GROUP BY kommun, period, person_id
),
kon_kaa AS (SELECT kommun, period, person_id, kon, alder FROM kaa_all UNION ALL SELECT kommun, period, person_id, 'T', alder FROM kaa_all),
kon_personer AS (SELECT kommun, period, kon, alder, i_kaa, i_fs FROM personer UNION ALL SELECT kommun, period, 'T', alder, i_kaa, i_fs FROM personer),
-- KAA covers 16-20; the 16-24 band takes all of it, the others those of their ages.
kaa_band AS (
    SELECT k.kommun, k.period, k.kon, b.alder, COUNT(DISTINCT k.person_id) AS antal
    FROM kon_kaa k JOIN band b ON k.alder BETWEEN b.fran AND b.till OR (b.alder = '16-24' AND k.alder <= 24)
    GROUP BY k.kommun, k.period, k.kon, b.alder
),
delar_band AS (
    SELECT p.kommun, p.period, p.kon, b.alder, SUM(p.i_kaa) AS kaa_io, SUM(p.i_fs) AS fs_ej_af, COUNT(*) AS unik
    FROM kon_personer p JOIN band b ON p.alder BETWEEN b.fran AND b.till
    GROUP BY p.kommun, p.period, p.kon, b.alder
),
steg AS (
    SELECT af.kommun, af.period, af.kon, af.alder, af.antal AS af, af.status AS af_status,
           COALESCE(kaa_band.antal, 0) AS kaa, COALESCE(db.kaa_io, 0) AS kaa_io,
           COALESCE(db.fs_ej_af, 0) AS fs_ej_af, COALESCE(db.unik, 0) AS unik
    FROM af JOIN band ON af.alder = band.alder
    LEFT JOIN kaa_band ON kaa_band.kommun = af.kommun AND kaa_band.period = af.period AND kaa_band.kon = af.kon AND kaa_band.alder = af.alder
    LEFT JOIN delar_band db ON db.kommun = af.kommun AND db.period = af.period AND db.kon = af.kon AND db.alder = af.alder
)
-- Each step from one pass over `steg` (a view's CTE is computed once per reference).
SELECT s.kommun, s.period, m.matt, s.kon, s.alder, 'total' AS dimension, 'total' AS kategori,
       CASE m.matt
           WHEN 'malgrupp_summa' THEN s.af + s.kaa
           WHEN 'malgrupp_kaa_ingen_okand' THEN s.kaa_io
           WHEN 'malgrupp_fs_arbetsloshet_ej_af' THEN s.fs_ej_af
           WHEN 'malgrupp_delar_summa' THEN s.af + s.kaa_io + s.fs_ej_af
           WHEN 'malgrupp_overlapp' THEN s.kaa_io + s.fs_ej_af - s.unik
           WHEN 'malgrupp_unik' THEN s.af + s.unik
       END AS antal,
       CASE WHEN s.af IS NULL AND m.matt IN ('malgrupp_summa', 'malgrupp_delar_summa', 'malgrupp_unik')
            THEN s.af_status ELSE 'ok' END AS status
FROM steg s
CROSS JOIN (VALUES ('malgrupp_summa'), ('malgrupp_kaa_ingen_okand'), ('malgrupp_fs_arbetsloshet_ej_af'),
                   ('malgrupp_delar_summa'), ('malgrupp_overlapp'), ('malgrupp_unik')) AS m(matt)
