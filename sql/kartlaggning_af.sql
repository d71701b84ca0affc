-- Arbetsförmedlingen's figures (SPEC §4.4) as delivered: suppressed cells stay NULL with
-- status 'suppressed' (never 0). Where AF delivered Kvinnor and Män but no Totalt, the
-- total is derived as K + M with status 'derived'; when a part is unknown (suppressed by
-- AF, say) the derived total is unknown too, NULL with that part's status, since a
-- suppressed part cannot be added.
WITH delivered AS (
    SELECT kommun, period, matt, kon, alder, dimension, kategori, CAST(varde AS BIGINT) AS antal, status
    FROM aggregat
    WHERE kalla = 'af'
),
totals AS (
    SELECT DISTINCT kommun, period, matt, alder, dimension, kategori FROM delivered WHERE kon = 'T'
)
SELECT kommun, period, matt, kon, alder, dimension, kategori, antal, status FROM delivered
UNION ALL
SELECT d.kommun, d.period, d.matt, 'T' AS kon, d.alder, d.dimension, d.kategori,
       CASE WHEN COUNT(d.antal) = 2 THEN SUM(d.antal) END AS antal,
       CASE WHEN COUNT(d.antal) = 2 THEN 'derived' ELSE MAX(CASE WHEN d.antal IS NULL THEN d.status END) END AS status
FROM delivered d
LEFT JOIN totals t ON t.kommun = d.kommun AND t.period = d.period AND t.matt = d.matt
    AND t.alder = d.alder AND t.dimension = d.dimension AND t.kategori = d.kategori
WHERE d.kon IN ('K', 'M') AND t.kommun IS NULL
GROUP BY d.kommun, d.period, d.matt, d.alder, d.dimension, d.kategori
HAVING COUNT(DISTINCT d.kon) = 2
