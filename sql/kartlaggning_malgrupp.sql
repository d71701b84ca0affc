-- Målgruppens storlek (SPEC §4.1), per kön and age band 16-24 / 16-19:
--   malgrupp_summa  Kalmar's simple sum: AF inskrivna + everyone in KAA.
--   malgrupp_unik   Mölndal's unduplicated count: AF inskrivna + the persons (by
--                   person_id) who are in KAA with no or unknown activity, or have
--                   försörjningsstöd because of unemployment without being registered at AF.
-- AF counts are aggregates, so overlap with AF itself cannot be removed; overlap between
-- KAA and försörjningsstöd is removed by the pseudonymous person key. Without AF data
-- for a kommun-month both measures are NULL rather than an undercount.
WITH band AS (
    SELECT * FROM (VALUES ('16-24', 16, 24), ('16-19', 16, 19)) AS t(alder, fran, till)
),
-- AF's counts as `kartlaggning_af` gives them: a total AF did not deliver is K + M there.
af AS (
    SELECT kommun, period, kon, alder, antal
    FROM kartlaggning_af WHERE matt = 'af_inskrivna' AND dimension = 'total'
),
kaa_all AS (
    SELECT kommun, period, person_id, kon, alder FROM kaa
),
unik_personer AS (
    SELECT kommun, period, person_id, kon, alder FROM kaa WHERE aktivitet IN ('ingen', 'okand')
    UNION
    SELECT kommun, period, person_id, kon, alder FROM forsorjningsstod WHERE orsak = 'arbetsloshet' AND inskriven_af = false
),
kon_kaa AS (SELECT kommun, period, person_id, kon, alder FROM kaa_all UNION ALL SELECT kommun, period, person_id, 'T', alder FROM kaa_all),
kon_unik AS (SELECT kommun, period, person_id, kon, alder FROM unik_personer UNION ALL SELECT kommun, period, person_id, 'T', alder FROM unik_personer),
-- KAA covers 16-20; the 16-24 band takes all of it, the 16-19 band only those under 20.
kaa_band AS (
    SELECT k.kommun, k.period, k.kon, b.alder, COUNT(DISTINCT k.person_id) AS antal
    FROM kon_kaa k JOIN band b ON k.alder BETWEEN b.fran AND b.till OR (b.alder = '16-24' AND k.alder <= 24)
    GROUP BY k.kommun, k.period, k.kon, b.alder
),
unik_band AS (
    SELECT u.kommun, u.period, u.kon, b.alder, COUNT(DISTINCT u.person_id) AS antal
    FROM kon_unik u JOIN band b ON u.alder BETWEEN b.fran AND b.till
    GROUP BY u.kommun, u.period, u.kon, b.alder
)
SELECT af.kommun, af.period, 'malgrupp_summa' AS matt, af.kon, af.alder, 'total' AS dimension, 'total' AS kategori,
       af.antal + COALESCE(kaa_band.antal, 0) AS antal
FROM af JOIN band ON af.alder = band.alder
LEFT JOIN kaa_band ON kaa_band.kommun = af.kommun AND kaa_band.period = af.period AND kaa_band.kon = af.kon AND kaa_band.alder = af.alder
UNION ALL
SELECT af.kommun, af.period, 'malgrupp_unik', af.kon, af.alder, 'total', 'total', af.antal + COALESCE(unik_band.antal, 0)
FROM af JOIN band ON af.alder = band.alder
LEFT JOIN unik_band ON unik_band.kommun = af.kommun AND unik_band.period = af.period AND unik_band.kon = af.kon AND unik_band.alder = af.alder
