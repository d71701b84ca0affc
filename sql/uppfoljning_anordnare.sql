-- Per kommun, year and provider (anordnare): participations (insatser) in the year and
-- their share of the kommun's total, distinct participants, started, ended, ended to
-- work (arbete, subventionerat arbete), studies and own business, the share of exits
-- with a successful result (those four outcomes), and programme days (start to end,
-- both counted): in all of the ended participations, per ended participant, per
-- participant ended with success, and per successful exit (as providers report it: a
-- person with two successful exits counts twice).
WITH d AS (
    SELECT *, avslutade AND avslutskod IN ('arbete', 'subventionerat_arbete', 'studier', 'eget_foretag') AS lyckad
    FROM deltagande WHERE tackt
),
a AS (
    SELECT kommun, ar, anordnare,
           COUNT(*) AS insatser,
           COUNT(DISTINCT person_id) AS deltagare,
           SUM(CASE WHEN startade THEN 1 ELSE 0 END) AS startade,
           SUM(CASE WHEN avslutade THEN 1 ELSE 0 END) AS avslutade,
           SUM(CASE WHEN avslutade AND avslutskod IN ('arbete', 'subventionerat_arbete') THEN 1 ELSE 0 END) AS till_arbete,
           SUM(CASE WHEN avslutade AND avslutskod = 'studier' THEN 1 ELSE 0 END) AS till_studier,
           SUM(CASE WHEN avslutade AND avslutskod = 'eget_foretag' THEN 1 ELSE 0 END) AS till_eget_foretag,
           SUM(CASE WHEN lyckad THEN 1 ELSE 0 END) AS lyckade,
           SUM(CASE WHEN avslutade THEN programdagar ELSE 0 END) AS programdagar_avslutade,
           SUM(CASE WHEN lyckad THEN programdagar ELSE 0 END) AS programdagar_lyckade,
           COUNT(DISTINCT CASE WHEN avslutade THEN person_id END) AS avslutade_personer,
           COUNT(DISTINCT CASE WHEN lyckad THEN person_id END) AS lyckade_personer
    FROM d GROUP BY kommun, ar, anordnare
),
t AS (SELECT kommun, ar, SUM(insatser) AS alla FROM a GROUP BY kommun, ar)
SELECT a.kommun, a.ar, a.anordnare, a.insatser, CAST(a.insatser AS DOUBLE) / t.alla AS andel_av_insatser,
       a.deltagare, a.startade, a.avslutade, a.till_arbete, a.till_studier, a.till_eget_foretag,
       CASE WHEN a.avslutade = 0 THEN NULL ELSE CAST(a.lyckade AS DOUBLE) / a.avslutade END AS andel_lyckade,
       CASE WHEN a.avslutade_personer = 0 THEN NULL ELSE CAST(a.programdagar_avslutade AS DOUBLE) / a.avslutade_personer END AS programdagar_per_avslutad,
       CASE WHEN a.lyckade_personer = 0 THEN NULL ELSE CAST(a.programdagar_lyckade AS DOUBLE) / a.lyckade_personer END AS programdagar_per_lyckad,
       a.programdagar_avslutade,
       CASE WHEN a.lyckade = 0 THEN NULL ELSE CAST(a.programdagar_lyckade AS DOUBLE) / a.lyckade END AS programdagar_per_lyckat_avslut
FROM a JOIN t ON t.kommun = a.kommun AND t.ar = a.ar
