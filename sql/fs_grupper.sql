-- Försörjningsstöd recipients aged 16–24, one row per person and reason group they
-- belong to: everyone (fs_mottagare), their reason (fs_<orsak>) and, for arbetslöshet,
-- the sub-reason (fs_arbetsloshet_<delorsak>). A person with several rows in a month
-- (several payments) is counted once per group by the views that read this.
SELECT kommun, period, person_id, kon, alder, orsak, 'fs_mottagare' AS matt, utbildning, funktionsnedsattning, fodelseland, inskriven_af
FROM forsorjningsstod WHERE alder BETWEEN 16 AND 24
UNION ALL
SELECT kommun, period, person_id, kon, alder, orsak, 'fs_' || orsak, utbildning, funktionsnedsattning, fodelseland, inskriven_af
FROM forsorjningsstod WHERE alder BETWEEN 16 AND 24
UNION ALL
SELECT kommun, period, person_id, kon, alder, orsak, 'fs_arbetsloshet_' || delorsak, utbildning, funktionsnedsattning, fodelseland, inskriven_af
FROM forsorjningsstod WHERE alder BETWEEN 16 AND 24 AND orsak = 'arbetsloshet' AND delorsak IS NOT NULL
