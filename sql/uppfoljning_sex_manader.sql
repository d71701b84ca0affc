-- Six-month follow-up per kommun, year, half-year of the exit (H1/H2) and insats (and
-- 'alla'): exits that did not move on to another insats, how many were followed up,
-- how many were reached, and each status with its share among those reached.
WITH e AS (
    SELECT kommun, ar, halvar, insats, person_id, uppfoljning FROM deltagande
    WHERE tackt AND avslutade AND COALESCE(avslutskod, '') <> 'annan_insats'
    UNION ALL
    SELECT kommun, ar, halvar, 'alla', person_id, uppfoljning FROM deltagande
    WHERE tackt AND avslutade AND COALESCE(avslutskod, '') <> 'annan_insats'
),
tot AS (
    SELECT kommun, ar, halvar, insats,
           COUNT(*) AS avslutade,
           SUM(CASE WHEN uppfoljning IS NOT NULL THEN 1 ELSE 0 END) AS uppfoljda,
           SUM(CASE WHEN uppfoljning IS NOT NULL AND uppfoljning <> 'ej_nadd' THEN 1 ELSE 0 END) AS nadda
    FROM e GROUP BY kommun, ar, halvar, insats
),
st AS (
    SELECT kommun, ar, halvar, insats, uppfoljning AS status, COUNT(*) AS antal
    FROM e WHERE uppfoljning IS NOT NULL AND uppfoljning <> 'ej_nadd'
    GROUP BY kommun, ar, halvar, insats, uppfoljning
)
SELECT t.kommun, t.ar, t.halvar, t.insats, t.avslutade, t.uppfoljda, t.nadda, s.status, s.antal,
       CAST(s.antal AS DOUBLE) / t.nadda AS andel
FROM tot t
LEFT JOIN st s ON s.kommun = t.kommun AND s.ar = t.ar AND s.halvar = t.halvar AND s.insats = t.insats
