-- Försörjningsstöd under 25 (SPEC §4.3): persons per reason group × kön × breakdown,
-- zero-filled over the known categories so that tables print their zeros. Disability is
-- multi-valued: a person with both counts under fysisk and under psykisk, and the
-- overlap is also given as kategori 'fysisk_och_psykisk'.
WITH k AS (
    SELECT kommun, period, person_id, kon, alder, orsak, matt, utbildning, funktionsnedsattning, fodelseland FROM fs_grupper
    UNION ALL
    SELECT kommun, period, person_id, 'T', alder, orsak, matt, utbildning, funktionsnedsattning, fodelseland FROM fs_grupper
),
b AS (
    SELECT kommun, period, person_id, matt, kon, '16-24' AS alder, 'total' AS dimension, 'total' AS kategori FROM k
    UNION ALL SELECT kommun, period, person_id, matt, kon, CAST(alder AS VARCHAR), 'total', 'total' FROM k
    UNION ALL SELECT kommun, period, person_id, matt, kon, '16-24', 'orsak', orsak FROM k
    UNION ALL SELECT kommun, period, person_id, matt, kon, '16-24', 'utbildning', COALESCE(utbildning, 'saknas') FROM k
    UNION ALL SELECT kommun, period, person_id, matt, kon, '16-24', 'funktionsnedsattning', 'fysisk' FROM k WHERE funktionsnedsattning IN ('fysisk', 'fysisk_psykisk')
    UNION ALL SELECT kommun, period, person_id, matt, kon, '16-24', 'funktionsnedsattning', 'psykisk' FROM k WHERE funktionsnedsattning IN ('psykisk', 'fysisk_psykisk')
    UNION ALL SELECT kommun, period, person_id, matt, kon, '16-24', 'funktionsnedsattning', 'fysisk_och_psykisk' FROM k WHERE funktionsnedsattning = 'fysisk_psykisk'
    UNION ALL SELECT kommun, period, person_id, matt, kon, '16-24', 'funktionsnedsattning', COALESCE(funktionsnedsattning, 'saknas') FROM k WHERE funktionsnedsattning IS NULL OR funktionsnedsattning IN ('nej', 'saknas')
    UNION ALL SELECT kommun, period, person_id, matt, kon, '16-24', 'fodelseland', COALESCE(fodelseland, 'saknas') FROM k
),
counts AS (
    SELECT kommun, period, matt, kon, alder, dimension, kategori, COUNT(DISTINCT person_id) AS antal
    FROM b GROUP BY kommun, period, matt, kon, alder, dimension, kategori
),
frame AS (
    SELECT p.kommun, p.period, m.matt, s.kon, c.alder, c.dimension, c.kategori
    FROM (SELECT DISTINCT kommun, period FROM forsorjningsstod) p
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
                       ('16-24', 'fodelseland', 'inrikes'), ('16-24', 'fodelseland', 'utrikes'), ('16-24', 'fodelseland', 'saknas')) AS c(alder, dimension, kategori)
)
SELECT f.kommun, f.period, f.matt, f.kon, f.alder, f.dimension, f.kategori, COALESCE(c.antal, 0) AS antal
FROM frame f
LEFT JOIN counts c
  ON c.kommun = f.kommun AND c.period = f.period AND c.matt = f.matt AND c.kon = f.kon
 AND c.alder = f.alder AND c.dimension = f.dimension AND c.kategori = f.kategori
