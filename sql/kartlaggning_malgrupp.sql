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
WITH band AS (
    SELECT * FROM (VALUES ('16-24', 16, 24), ('16-19', 16, 19), ('20-24', 20, 24)) AS t(alder, fran, till)
),
-- AF's counts as `kartlaggning_af` gives them: a total AF did not deliver is K + M there.
af AS (
    SELECT kommun, period, kon, alder, antal
    FROM kartlaggning_af WHERE matt = 'af_inskrivna' AND dimension = 'total'
),
kaa_all AS (
    SELECT kommun, period, person_id, kon, alder FROM kaa
),
kaa_io AS (
    SELECT DISTINCT kommun, period, person_id, kon, alder FROM kaa WHERE aktivitet IN ('ingen', 'okand')
),
fs_ej_af AS (
    SELECT DISTINCT kommun, period, person_id, kon, alder FROM forsorjningsstod WHERE orsak = 'arbetsloshet' AND inskriven_af = false
),
-- The persons of each part of the unduplicated count, and those in both.
delar AS (
    SELECT kommun, period, person_id, kon, alder, 'malgrupp_kaa_ingen_okand' AS matt FROM kaa_io
    UNION ALL
    SELECT kommun, period, person_id, kon, alder, 'malgrupp_fs_arbetsloshet_ej_af' FROM fs_ej_af
    UNION ALL
    SELECT kommun, period, person_id, kon, alder, 'malgrupp_unik_personer' FROM kaa_io
    UNION
    SELECT kommun, period, person_id, kon, alder, 'malgrupp_unik_personer' FROM fs_ej_af
),
kon_kaa AS (SELECT kommun, period, person_id, kon, alder FROM kaa_all UNION ALL SELECT kommun, period, person_id, 'T', alder FROM kaa_all),
kon_delar AS (SELECT kommun, period, person_id, kon, alder, matt FROM delar UNION ALL SELECT kommun, period, person_id, 'T', alder, matt FROM delar),
-- KAA covers 16-20; the 16-24 band takes all of it, the others those of their ages.
kaa_band AS (
    SELECT k.kommun, k.period, k.kon, b.alder, COUNT(DISTINCT k.person_id) AS antal
    FROM kon_kaa k JOIN band b ON k.alder BETWEEN b.fran AND b.till OR (b.alder = '16-24' AND k.alder <= 24)
    GROUP BY k.kommun, k.period, k.kon, b.alder
),
delar_band AS (
    SELECT d.kommun, d.period, d.kon, b.alder,
           COUNT(DISTINCT CASE WHEN d.matt = 'malgrupp_kaa_ingen_okand' THEN d.person_id END) AS kaa_io,
           COUNT(DISTINCT CASE WHEN d.matt = 'malgrupp_fs_arbetsloshet_ej_af' THEN d.person_id END) AS fs_ej_af,
           COUNT(DISTINCT CASE WHEN d.matt = 'malgrupp_unik_personer' THEN d.person_id END) AS unik
    FROM kon_delar d JOIN band b ON d.alder BETWEEN b.fran AND b.till
    GROUP BY d.kommun, d.period, d.kon, b.alder
),
steg AS (
    SELECT af.kommun, af.period, af.kon, af.alder, af.antal AS af,
           COALESCE(kaa_band.antal, 0) AS kaa, COALESCE(db.kaa_io, 0) AS kaa_io,
           COALESCE(db.fs_ej_af, 0) AS fs_ej_af, COALESCE(db.unik, 0) AS unik
    FROM af JOIN band ON af.alder = band.alder
    LEFT JOIN kaa_band ON kaa_band.kommun = af.kommun AND kaa_band.period = af.period AND kaa_band.kon = af.kon AND kaa_band.alder = af.alder
    LEFT JOIN delar_band db ON db.kommun = af.kommun AND db.period = af.period AND db.kon = af.kon AND db.alder = af.alder
)
SELECT kommun, period, 'malgrupp_summa' AS matt, kon, alder, 'total' AS dimension, 'total' AS kategori, af + kaa AS antal FROM steg
UNION ALL
SELECT kommun, period, 'malgrupp_kaa_ingen_okand', kon, alder, 'total', 'total', kaa_io FROM steg
UNION ALL
SELECT kommun, period, 'malgrupp_fs_arbetsloshet_ej_af', kon, alder, 'total', 'total', fs_ej_af FROM steg
UNION ALL
SELECT kommun, period, 'malgrupp_delar_summa', kon, alder, 'total', 'total', af + kaa_io + fs_ej_af FROM steg
UNION ALL
SELECT kommun, period, 'malgrupp_overlapp', kon, alder, 'total', 'total', kaa_io + fs_ej_af - unik FROM steg
UNION ALL
SELECT kommun, period, 'malgrupp_unik', kon, alder, 'total', 'total', af + unik FROM steg
