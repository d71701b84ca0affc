-- Helper for the follow-up views: one row per participation and calendar year it
-- overlaps (a participation from 2011-10 to 2012-03 counts in both years). A
-- participation seen in several yearly extracts is taken from the newest one.
-- `tackt` says whether an extract of the kommun covers the year: a 2012 extract names
-- participations started in 2011 but not those that ended in 2011, so the yearly views
-- leave out uncovered years (they would show too few exits); the fact box, which spans
-- an insats' whole life, keeps them.
-- `alder` is the age at the end of that year; `aldersklass` is 18-24 or 25+.
-- A register keyed by a customer id may not deliver kön or birth year: kon is then
-- 'okand' (counted in T, in neither K nor M) and aldersklass 'okänd'.
WITH senaste AS (
    SELECT kommun, period, person_id, COALESCE(kon, 'okand') AS kon, alder, insats, COALESCE(anordnare, 'okänd') AS anordnare,
           startdatum, slutdatum, avslutskod, uppfoljning,
           CAST(substr(period, 1, 4) AS INT) AS uttagsar,
           ROW_NUMBER() OVER (PARTITION BY kommun, person_id, insats, startdatum ORDER BY period DESC) AS nr
    FROM deltagare
),
p AS (SELECT * FROM senaste WHERE nr = 1),
-- Every year from the start to the end (or, while ongoing, the extract's year), also
-- the years in between in which nothing starts or ends.
per_ar AS (
    SELECT p.*, CAST(unnest(range(CAST(date_part('year', p.startdatum) AS BIGINT),
                                  CAST(COALESCE(date_part('year', p.slutdatum), p.uttagsar) AS BIGINT) + 1)) AS INT) AS ar
    FROM p
),
tackta AS (
    SELECT DISTINCT kommun, CAST(substr(period, 1, 4) AS INT) AS ar FROM deltagare
)
SELECT p.kommun, p.ar, p.person_id, p.kon,
       p.alder - (p.uttagsar - p.ar) AS alder,
       CASE WHEN p.alder IS NULL THEN 'okänd'
            WHEN p.alder - (p.uttagsar - p.ar) < 18 THEN 'under 18'
            WHEN p.alder - (p.uttagsar - p.ar) <= 24 THEN '18-24'
            ELSE '25+' END AS aldersklass,
       p.insats, p.anordnare, p.startdatum, p.slutdatum, p.avslutskod, p.uppfoljning,
       CAST(date_part('year', p.startdatum) AS INT) = p.ar AS startade,
       p.slutdatum IS NOT NULL AND CAST(date_part('year', p.slutdatum) AS INT) = p.ar AS avslutade,
       CASE WHEN p.slutdatum IS NULL THEN NULL WHEN date_part('month', p.slutdatum) <= 6 THEN 'H1' ELSE 'H2' END AS halvar,
       CASE WHEN p.slutdatum IS NULL THEN NULL ELSE p.slutdatum - p.startdatum + 1 END AS programdagar,
       t.ar IS NOT NULL AS tackt
FROM per_ar p
LEFT JOIN tackta t ON t.kommun = p.kommun AND t.ar = p.ar
