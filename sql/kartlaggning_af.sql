-- Arbetsförmedlingen's figures (SPEC §4.4) as delivered: suppressed cells stay NULL with
-- status 'suppressed' (never 0). What AF left out but delivered the parts of is derived,
-- with status 'derived':
-- * an age band (16-24, 16-19, 20-24) from its single ages, when every one of them is
--   there;
-- * Totalt as Kvinnor + Män.
-- When a part is unknown (suppressed by AF, say) the derived figure is unknown too, NULL
-- with that part's status: a suppressed part cannot be added.
WITH delivered AS (
    SELECT kommun, period, matt, kon, alder, dimension, kategori, CAST(varde AS BIGINT) AS antal, status
    FROM aggregat
    WHERE kalla = 'af'
),
band AS (
    SELECT * FROM (VALUES ('16-24', 16, 24), ('16-19', 16, 19), ('20-24', 20, 24)) AS t(alder, fran, till)
),
bands AS (
    SELECT d.kommun, d.period, d.matt, d.kon, b.alder, d.dimension, d.kategori,
           CASE WHEN COUNT(d.antal) = MAX(b.till - b.fran + 1) THEN SUM(d.antal) END AS antal,
           CASE WHEN COUNT(d.antal) = MAX(b.till - b.fran + 1) THEN 'derived' ELSE MAX(CASE WHEN d.antal IS NULL THEN d.status END) END AS status
    FROM delivered d
    JOIN band b ON d.alder IN ('16', '17', '18', '19', '20', '21', '22', '23', '24')
               AND CAST(d.alder AS INT) BETWEEN b.fran AND b.till
    LEFT JOIN delivered given ON given.kommun = d.kommun AND given.period = d.period AND given.matt = d.matt
        AND given.kon = d.kon AND given.alder = b.alder AND given.dimension = d.dimension AND given.kategori = d.kategori
    WHERE given.kommun IS NULL
    GROUP BY d.kommun, d.period, d.matt, d.kon, b.alder, d.dimension, d.kategori
    HAVING COUNT(DISTINCT d.alder) = MAX(b.till - b.fran + 1)
),
kon_delar AS (
    SELECT * FROM delivered
    UNION ALL
    SELECT * FROM bands
),
totals AS (
    SELECT DISTINCT kommun, period, matt, alder, dimension, kategori FROM kon_delar WHERE kon = 'T'
)
SELECT kommun, period, matt, kon, alder, dimension, kategori, antal, status FROM kon_delar
UNION ALL
SELECT d.kommun, d.period, d.matt, 'T' AS kon, d.alder, d.dimension, d.kategori,
       CASE WHEN COUNT(d.antal) = 2 THEN SUM(d.antal) END AS antal,
       CASE WHEN COUNT(d.antal) = 2 THEN 'derived' ELSE MAX(CASE WHEN d.antal IS NULL THEN d.status END) END AS status
FROM kon_delar d
LEFT JOIN totals t ON t.kommun = d.kommun AND t.period = d.period AND t.matt = d.matt
    AND t.alder = d.alder AND t.dimension = d.dimension AND t.kategori = d.kategori
WHERE d.kon IN ('K', 'M') AND t.kommun IS NULL
GROUP BY d.kommun, d.period, d.matt, d.alder, d.dimension, d.kategori
HAVING COUNT(DISTINCT d.kon) = 2
