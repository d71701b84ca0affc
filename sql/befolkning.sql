-- Population (SCB, 31 December of each year) per kommun, year (ar), kön (K, M, T) and age:
-- the single ages 16…24 as delivered and the bands 16-24, 16-19, 20-24 and 16-20 (KAA's
-- span). A band with a suppressed or missing single age is NULL, never an undercount.
WITH s AS (
    SELECT kommun, TRY_CAST(period AS INT) AS ar, kon, TRY_CAST(alder AS INT) AS alder, varde
    FROM aggregat
    WHERE kalla = 'scb' AND matt = 'befolkning' AND dimension = 'total' AND kon IN ('K', 'M')
      AND length(period) = 4 AND alder IN ('16', '17', '18', '19', '20', '21', '22', '23', '24')
),
k AS (
    SELECT kommun, ar, kon, alder, varde FROM s
    UNION ALL
    SELECT kommun, ar, 'T', alder, CASE WHEN COUNT(varde) = 2 THEN SUM(varde) END FROM s GROUP BY kommun, ar, alder
),
band AS (
    SELECT * FROM (VALUES ('16-24', 16, 24), ('16-19', 16, 19), ('20-24', 20, 24), ('16-20', 16, 20)) AS b(alder, fran, till)
)
SELECT kommun, ar, kon, CAST(alder AS VARCHAR) AS alder, CAST(varde AS BIGINT) AS befolkning FROM k
UNION ALL
SELECT k.kommun, k.ar, k.kon, b.alder,
       CASE WHEN COUNT(k.varde) = b.till - b.fran + 1 THEN CAST(SUM(k.varde) AS BIGINT) END
FROM k JOIN band b ON k.alder BETWEEN b.fran AND b.till
GROUP BY k.kommun, k.ar, k.kon, b.alder, b.fran, b.till
