-- Undersysselsatta (SPEC §4.5): hourly employees aged 16–24 in the kommun's
-- administrations, by kön, single age and administration.
WITH k AS (
    SELECT kommun, period, person_id, kon, alder, forvaltning FROM timanstallda WHERE alder BETWEEN 16 AND 24
    UNION ALL
    SELECT kommun, period, person_id, 'T', alder, forvaltning FROM timanstallda WHERE alder BETWEEN 16 AND 24
),
b AS (
    SELECT kommun, period, person_id, kon, '16-24' AS alder, 'total' AS dimension, 'total' AS kategori FROM k
    UNION ALL SELECT kommun, period, person_id, kon, CAST(alder AS VARCHAR), 'total', 'total' FROM k
    UNION ALL SELECT kommun, period, person_id, kon, '16-24', 'forvaltning', forvaltning FROM k
),
counts AS (
    SELECT kommun, period, kon, alder, dimension, kategori, COUNT(DISTINCT person_id) AS antal FROM b
    GROUP BY kommun, period, kon, alder, dimension, kategori
),
frame AS (
    SELECT p.kommun, p.period, s.kon, a.alder, 'total' AS dimension, 'total' AS kategori
    FROM (SELECT DISTINCT kommun, period FROM timanstallda) p
    CROSS JOIN (VALUES ('K'), ('M'), ('T')) AS s(kon)
    CROSS JOIN (VALUES ('16-24'), ('16'), ('17'), ('18'), ('19'), ('20'), ('21'), ('22'), ('23'), ('24')) AS a(alder)
    UNION
    SELECT DISTINCT kommun, period, s.kon, '16-24', 'forvaltning', kategori
    FROM counts CROSS JOIN (VALUES ('K'), ('M'), ('T')) AS s(kon) WHERE dimension = 'forvaltning'
)
SELECT f.kommun, f.period, 'timanstallda' AS matt, f.kon, f.alder, f.dimension, f.kategori, COALESCE(c.antal, 0) AS antal
FROM frame f
LEFT JOIN counts c
  ON c.kommun = f.kommun AND c.period = f.period AND c.kon = f.kon
 AND c.alder = f.alder AND c.dimension = f.dimension AND c.kategori = f.kategori
