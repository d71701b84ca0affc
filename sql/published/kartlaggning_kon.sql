-- Published form of kartlaggning_kon: computed by publishing from the *suppressed* long
-- `kartlaggning` (never from the lake), so it cannot show a hidden count. Each count
-- carries its `<col>_skyddad` flag. Not a lake view: `malgrupp` reads this folder only
-- when it publishes.
SELECT kommun, period, matt, alder, dimension, kategori,
       MAX(CASE WHEN kon = 'K' THEN antal END) AS kvinnor,
       BOOL_OR(CASE WHEN kon = 'K' THEN antal_skyddad END) AS kvinnor_skyddad,
       MAX(CASE WHEN kon = 'M' THEN antal END) AS man,
       BOOL_OR(CASE WHEN kon = 'M' THEN antal_skyddad END) AS man_skyddad,
       MAX(CASE WHEN kon = 'T' THEN antal END) AS totalt,
       BOOL_OR(CASE WHEN kon = 'T' THEN antal_skyddad END) AS totalt_skyddad
FROM kartlaggning
GROUP BY kommun, period, matt, alder, dimension, kategori
ORDER BY kommun, period, matt, alder, dimension, kategori
