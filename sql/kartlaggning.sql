-- The kartläggning in long format for dashboards: every count of `kartlaggning_antal`
-- plus `befolkning` (the matching population: same kommun, kön and age band or single
-- age) and `andel` = antal / befolkning. A month uses the population of 31 December of
-- the latest year BEFORE it (SCB publishes year-end figures in February, so that is the
-- figure known at the time): May 2015 is set against 31 December 2014. Measures that
-- are shares already (Kolada's, enhet procent) carry their share in `andel` and no count.
-- Columns: kommun, period, matt, kon, alder, dimension, kategori, antal, status, kalla,
-- befolkning, andel (docs/figures.md).
WITH perioder AS (
    SELECT DISTINCT kommun, period, CAST(substr(period, 1, 4) AS INT) AS ar FROM kartlaggning_antal
),
ref AS (
    SELECT p.kommun, p.period, MAX(b.ar) AS ar
    FROM perioder p JOIN (SELECT DISTINCT kommun, ar FROM befolkning) b ON b.kommun = p.kommun AND b.ar < p.ar
    GROUP BY p.kommun, p.period
)
SELECT k.kommun, k.period, k.matt, k.kon, k.alder, k.dimension, k.kategori, k.antal, k.status, k.kalla,
       b.befolkning,
       COALESCE(k.andel, CASE WHEN b.befolkning > 0 THEN CAST(k.antal AS DOUBLE) / b.befolkning END) AS andel
FROM kartlaggning_antal k
LEFT JOIN ref r ON r.kommun = k.kommun AND r.period = k.period
LEFT JOIN befolkning b ON b.kommun = k.kommun AND b.ar = r.ar AND b.kon = k.kon AND b.alder = k.alder
