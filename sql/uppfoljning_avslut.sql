-- Exits per kommun, year and insats by exit code and kön. `andel` is the code's share of
-- the exits that did NOT move on to another insats (the seed's way: transitions are
-- not outcomes of the insats); it is NULL for the transitions themselves.
WITH e AS (
    SELECT kommun, ar, insats, person_id, kon, avslutskod FROM deltagande WHERE tackt AND avslutade
    UNION ALL SELECT kommun, ar, 'alla', person_id, kon, avslutskod FROM deltagande WHERE tackt AND avslutade
),
k AS (
    SELECT kommun, ar, insats, person_id, kon, COALESCE(avslutskod, 'okand') AS avslutskod FROM e
    UNION ALL SELECT kommun, ar, insats, person_id, 'T', COALESCE(avslutskod, 'okand') FROM e
),
per_kod AS (
    SELECT kommun, ar, insats, kon, avslutskod, COUNT(*) AS antal FROM k GROUP BY kommun, ar, insats, kon, avslutskod
),
tot AS (
    SELECT kommun, ar, insats, kon, COUNT(*) AS avslut,
           SUM(CASE WHEN avslutskod = 'annan_insats' THEN 1 ELSE 0 END) AS overgangar
    FROM k GROUP BY kommun, ar, insats, kon
)
SELECT p.kommun, p.ar, p.insats, p.kon, p.avslutskod, p.antal,
       t.avslut, t.overgangar, t.avslut - t.overgangar AS avslut_utan_overgang,
       CASE WHEN p.avslutskod = 'annan_insats' OR t.avslut = t.overgangar THEN NULL
            ELSE CAST(p.antal AS DOUBLE) / (t.avslut - t.overgangar) END AS andel
FROM per_kod p
JOIN tot t ON t.kommun = p.kommun AND t.ar = p.ar AND t.insats = p.insats AND t.kon = p.kon
