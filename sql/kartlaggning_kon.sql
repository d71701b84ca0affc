-- The kartläggning with kön as columns (kvinnor, man, totalt): the shape of the Bilaga 1
-- tables, one row per kommun, period, measure, age and breakdown.
SELECT kommun, period, matt, alder, dimension, kategori,
       MAX(CASE WHEN kon = 'K' THEN antal END) AS kvinnor,
       MAX(CASE WHEN kon = 'M' THEN antal END) AS man,
       MAX(CASE WHEN kon = 'T' THEN antal END) AS totalt
FROM kartlaggning
GROUP BY kommun, period, matt, alder, dimension, kategori
