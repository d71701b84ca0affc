-- Försörjningsstöd under 25 (SPEC §4.3): persons per reason group × kön × breakdown,
-- zero-filled over the known categories so that tables print their zeros. Disability is
-- multi-valued: a person with both counts under fysisk and under psykisk, and the
-- overlap is also given as kategori 'fysisk_och_psykisk'. Registration at
-- Arbetsförmedlingen is a breakdown too (`inskriven_af`: inskriven, ej_inskriven, saknas):
-- Mölndal's målgrupp takes the unemployed recipients outside AF.
--
-- Not delivered is not zero: a kommun-month whose extract has no sub-reason (delorsak)
-- although some have arbetslöshet, or no education, disability or country of birth,
-- gets no rows for those measures or breakdowns, instead of zeros that would read as
-- "nobody".
--
-- Every count is of distinct persons. How, matters at national size, where this view is
-- most of the cost of publishing (docs/performance.md):
-- * `rader` is how many different rows a person has in a measure and month. Nearly
--   everyone has one, and is counted by their rows without hashing person ids (`flera`
--   is NULL for them all); the few with several (payments with different reasons or
--   details, or a register error) have their id as `flera` and are counted once each. The
--   two share no person, so the sum is exact. Not COUNT(DISTINCT): grouped, DataFusion
--   gives every group a hash set of its own, which was the largest cost of a night's
--   publish (docs/performance.md).
-- * Each row is spread over its breakdowns by one join with the `slot` list below (20
--   rows: every breakdown, for its own kön and for T) instead of a UNION ALL per
--   breakdown, which DataFusion would plan as one scan of the lake each.
WITH d AS (
    SELECT DISTINCT kommun, period, matt, person_id, kon, alder, orsak, utbildning, funktionsnedsattning, fodelseland, inskriven_af FROM fs_grupper
),
n AS (
    SELECT kommun, period, matt, person_id, COUNT(*) AS rader FROM d GROUP BY kommun, period, matt, person_id
),
b AS (
    SELECT d.kommun, d.period, d.matt, CASE WHEN n.rader > 1 THEN d.person_id END AS flera, s.dimension,
           CASE WHEN s.alla THEN 'T' ELSE d.kon END AS kon,
           CASE WHEN s.slot = 'alder' THEN CAST(d.alder AS VARCHAR) ELSE '16-24' END AS alder,
           CASE s.slot
               WHEN 'alder' THEN 'total'
               WHEN 'band' THEN 'total'
               WHEN 'orsak' THEN d.orsak
               WHEN 'utbildning' THEN COALESCE(d.utbildning, 'saknas')
               WHEN 'fysisk' THEN CASE WHEN d.funktionsnedsattning IN ('fysisk', 'fysisk_psykisk') THEN 'fysisk' END
               WHEN 'psykisk' THEN CASE WHEN d.funktionsnedsattning IN ('psykisk', 'fysisk_psykisk') THEN 'psykisk' END
               WHEN 'fysisk_och_psykisk' THEN CASE WHEN d.funktionsnedsattning = 'fysisk_psykisk' THEN 'fysisk_och_psykisk' END
               WHEN 'ingen_kand' THEN CASE WHEN d.funktionsnedsattning IS NULL OR d.funktionsnedsattning IN ('nej', 'saknas')
                                           THEN COALESCE(d.funktionsnedsattning, 'saknas') END
               WHEN 'fodelseland' THEN COALESCE(d.fodelseland, 'saknas')
               WHEN 'inskriven_af' THEN CASE WHEN d.inskriven_af THEN 'inskriven' WHEN NOT d.inskriven_af THEN 'ej_inskriven' ELSE 'saknas' END
           END AS kategori
    FROM d
    JOIN n ON n.kommun = d.kommun AND n.period = d.period AND n.matt = d.matt AND n.person_id = d.person_id
    CROSS JOIN (VALUES ('total', 'alder', FALSE), ('total', 'band', FALSE), ('orsak', 'orsak', FALSE),
                       ('utbildning', 'utbildning', FALSE), ('funktionsnedsattning', 'fysisk', FALSE),
                       ('funktionsnedsattning', 'psykisk', FALSE), ('funktionsnedsattning', 'fysisk_och_psykisk', FALSE),
                       ('funktionsnedsattning', 'ingen_kand', FALSE), ('fodelseland', 'fodelseland', FALSE),
                       ('inskriven_af', 'inskriven_af', FALSE), ('inskriven_af', 'inskriven_af', TRUE),
                       ('total', 'alder', TRUE), ('total', 'band', TRUE), ('orsak', 'orsak', TRUE),
                       ('utbildning', 'utbildning', TRUE), ('funktionsnedsattning', 'fysisk', TRUE),
                       ('funktionsnedsattning', 'psykisk', TRUE), ('funktionsnedsattning', 'fysisk_och_psykisk', TRUE),
                       ('funktionsnedsattning', 'ingen_kand', TRUE), ('fodelseland', 'fodelseland', TRUE)) AS s(dimension, slot, alla)
),
counts AS (
    SELECT kommun, period, matt, kon, alder, dimension, kategori,
           SUM(CASE WHEN flera IS NULL THEN rader_i_gruppen ELSE 1 END) AS antal
    FROM (
        SELECT kommun, period, matt, kon, alder, dimension, kategori, flera, COUNT(*) AS rader_i_gruppen
        FROM b WHERE kategori IS NOT NULL
        GROUP BY kommun, period, matt, kon, alder, dimension, kategori, flera
    ) g
    GROUP BY kommun, period, matt, kon, alder, dimension, kategori
),
levererat AS (
    -- Sub-reasons exist only for arbetslöshet: a month without it has them all zero.
    SELECT kommun, period,
           COUNT(delorsak) > 0 OR COUNT(CASE WHEN orsak = 'arbetsloshet' THEN 1 END) = 0 AS delorsak,
           COUNT(utbildning) > 0 AS utbildning,
           COUNT(funktionsnedsattning) > 0 AS funktionsnedsattning, COUNT(fodelseland) > 0 AS fodelseland,
           COUNT(inskriven_af) > 0 AS inskriven_af
    FROM forsorjningsstod GROUP BY kommun, period
),
frame AS (
    SELECT p.kommun, p.period, m.matt, s.kon, c.alder, c.dimension, c.kategori
    FROM levererat p
    CROSS JOIN (VALUES ('fs_mottagare'), ('fs_arbetsloshet'), ('fs_arbetsloshet_endast_fs'), ('fs_arbetsloshet_vantar_ersattning'),
                       ('fs_arbetsloshet_otillracklig_ersattning'), ('fs_sociala_skal'), ('fs_ohalsa'), ('fs_otillracklig_inkomst'), ('fs_annan')) AS m(matt)
    CROSS JOIN (VALUES ('K'), ('M'), ('T')) AS s(kon)
    CROSS JOIN (VALUES ('16-24', 'total', 'total'), ('16', 'total', 'total'), ('17', 'total', 'total'), ('18', 'total', 'total'),
                       ('19', 'total', 'total'), ('20', 'total', 'total'), ('21', 'total', 'total'), ('22', 'total', 'total'),
                       ('23', 'total', 'total'), ('24', 'total', 'total'),
                       ('16-24', 'orsak', 'arbetsloshet'), ('16-24', 'orsak', 'sociala_skal'), ('16-24', 'orsak', 'ohalsa'),
                       ('16-24', 'orsak', 'otillracklig_inkomst'), ('16-24', 'orsak', 'annan'),
                       ('16-24', 'utbildning', 'ingen_gymnasial'), ('16-24', 'utbildning', 'gymnasial'),
                       ('16-24', 'utbildning', 'eftergymnasial'), ('16-24', 'utbildning', 'saknas'),
                       ('16-24', 'funktionsnedsattning', 'fysisk'), ('16-24', 'funktionsnedsattning', 'psykisk'),
                       ('16-24', 'funktionsnedsattning', 'fysisk_och_psykisk'), ('16-24', 'funktionsnedsattning', 'nej'),
                       ('16-24', 'funktionsnedsattning', 'saknas'),
                       ('16-24', 'fodelseland', 'inrikes'), ('16-24', 'fodelseland', 'utrikes'), ('16-24', 'fodelseland', 'saknas'),
                       ('16-24', 'inskriven_af', 'inskriven'), ('16-24', 'inskriven_af', 'ej_inskriven'),
                       ('16-24', 'inskriven_af', 'saknas')) AS c(alder, dimension, kategori)
    WHERE (p.delorsak OR m.matt NOT IN ('fs_arbetsloshet_endast_fs', 'fs_arbetsloshet_vantar_ersattning', 'fs_arbetsloshet_otillracklig_ersattning'))
      AND (p.utbildning OR c.dimension <> 'utbildning')
      AND (p.funktionsnedsattning OR c.dimension <> 'funktionsnedsattning')
      AND (p.fodelseland OR c.dimension <> 'fodelseland')
      AND (p.inskriven_af OR c.dimension <> 'inskriven_af')
)
SELECT f.kommun, f.period, f.matt, f.kon, f.alder, f.dimension, f.kategori, COALESCE(c.antal, 0) AS antal
FROM frame f
LEFT JOIN counts c
  ON c.kommun = f.kommun AND c.period = f.period AND c.matt = f.matt AND c.kon = f.kon
 AND c.alder = f.alder AND c.dimension = f.dimension AND c.kategori = f.kategori
