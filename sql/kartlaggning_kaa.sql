-- KAA (SPEC §4.2): youths in the kommunala aktivitetsansvaret by kön, by activity and
-- by reason for registration, and those with a plan to deregister soon. Age band 16-20
-- is the KAA definition; every person is counted whatever their age.
-- Not delivered is not zero: a kommun-month whose extract has no reason for registration
-- or no planned deregistration has no rows for them (the report says so).
WITH k AS (
    SELECT kommun, period, person_id, kon, aktivitet, registreringsorsak, planerad_avregistrering FROM kaa
    UNION ALL
    SELECT kommun, period, person_id, 'T', aktivitet, registreringsorsak, planerad_avregistrering FROM kaa
),
b AS (
    SELECT kommun, period, person_id, 'kaa_inskrivna' AS matt, kon, 'total' AS dimension, 'total' AS kategori FROM k
    UNION ALL SELECT kommun, period, person_id, 'kaa_inskrivna', kon, 'aktivitet', aktivitet FROM k
    UNION ALL SELECT kommun, period, person_id, 'kaa_inskrivna', kon, 'registreringsorsak', COALESCE(registreringsorsak, 'saknas') FROM k
    UNION ALL SELECT kommun, period, person_id, 'kaa_planerad_avregistrering', kon, 'total', 'total' FROM k WHERE planerad_avregistrering
),
counts AS (
    SELECT kommun, period, matt, kon, dimension, kategori, COUNT(DISTINCT person_id) AS antal FROM b
    GROUP BY kommun, period, matt, kon, dimension, kategori
),
levererat AS (
    SELECT kommun, period, COUNT(registreringsorsak) > 0 AS registreringsorsak,
           COUNT(planerad_avregistrering) > 0 AS planerad_avregistrering
    FROM kaa GROUP BY kommun, period
),
frame AS (
    SELECT p.kommun, p.period, c.matt, s.kon, c.dimension, c.kategori
    FROM levererat p
    CROSS JOIN (VALUES ('K'), ('M'), ('T')) AS s(kon)
    CROSS JOIN (VALUES ('kaa_inskrivna', 'total', 'total'), ('kaa_planerad_avregistrering', 'total', 'total'),
                       ('kaa_inskrivna', 'aktivitet', 'studier'), ('kaa_inskrivna', 'aktivitet', 'arbete'),
                       ('kaa_inskrivna', 'aktivitet', 'praktik'), ('kaa_inskrivna', 'aktivitet', 'insats'),
                       ('kaa_inskrivna', 'aktivitet', 'ingen'), ('kaa_inskrivna', 'aktivitet', 'okand'),
                       ('kaa_inskrivna', 'registreringsorsak', 'introduktionsprogram'), ('kaa_inskrivna', 'registreringsorsak', 'avbrott'),
                       ('kaa_inskrivna', 'registreringsorsak', 'studiebevis'), ('kaa_inskrivna', 'registreringsorsak', 'aldrig_studerat'),
                       ('kaa_inskrivna', 'registreringsorsak', 'saknas')) AS c(matt, dimension, kategori)
    WHERE (c.dimension <> 'registreringsorsak' OR p.registreringsorsak)
      AND (c.matt <> 'kaa_planerad_avregistrering' OR p.planerad_avregistrering)
)
SELECT f.kommun, f.period, f.matt, f.kon, '16-20' AS alder, f.dimension, f.kategori, COALESCE(c.antal, 0) AS antal
FROM frame f
LEFT JOIN counts c
  ON c.kommun = f.kommun AND c.period = f.period AND c.matt = f.matt AND c.kon = f.kon
 AND c.dimension = f.dimension AND c.kategori = f.kategori
