-- Participants per kommun, year and insats (and 'alla' for the unit as a whole), by kön
-- (K, M, T) and age class (18-24, 25+, alla). A person counts once per group.
WITH d AS (
    SELECT kommun, ar, insats, person_id, kon, aldersklass FROM deltagande WHERE tackt
    UNION ALL SELECT kommun, ar, 'alla', person_id, kon, aldersklass FROM deltagande WHERE tackt
),
k AS (
    SELECT kommun, ar, insats, person_id, kon, aldersklass FROM d
    UNION ALL SELECT kommun, ar, insats, person_id, 'T', aldersklass FROM d
)
SELECT kommun, ar, insats, kon, aldersklass, COUNT(DISTINCT person_id) AS deltagare
FROM k GROUP BY kommun, ar, insats, kon, aldersklass
UNION ALL
SELECT kommun, ar, insats, kon, 'alla', COUNT(DISTINCT person_id)
FROM k GROUP BY kommun, ar, insats, kon
