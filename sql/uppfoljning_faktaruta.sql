-- A project's fact box (Skellefteå's "Faktaruta"): over the whole life of each insats
-- per kommun, distinct participants, in work (arbete, subventionerat arbete, eget
-- företag), in studies, planned drop-outs (klar: ended as planned, e.g. when the project
-- ended), unplanned drop-outs (avbruten) and those remaining (no end date), by kön.
WITH p AS (
    SELECT DISTINCT kommun, insats, person_id, kon, startdatum, slutdatum, avslutskod FROM deltagande
),
k AS (
    SELECT kommun, insats, person_id, kon, slutdatum, avslutskod FROM p
    UNION ALL SELECT kommun, insats, person_id, 'T', slutdatum, avslutskod FROM p
)
SELECT kommun, insats, kon,
       COUNT(DISTINCT person_id) AS deltagare,
       COUNT(DISTINCT CASE WHEN avslutskod IN ('arbete', 'subventionerat_arbete', 'eget_foretag') THEN person_id END) AS i_arbete,
       COUNT(DISTINCT CASE WHEN avslutskod = 'studier' THEN person_id END) AS i_studier,
       COUNT(DISTINCT CASE WHEN avslutskod = 'klar' THEN person_id END) AS planerade_avbrott,
       COUNT(DISTINCT CASE WHEN avslutskod = 'avbruten' THEN person_id END) AS oplanerade_avbrott,
       COUNT(DISTINCT CASE WHEN slutdatum IS NULL THEN person_id END) AS kvar
FROM k
GROUP BY kommun, insats, kon
