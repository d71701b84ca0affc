-- All counts of the kartläggning in long format (before population shares are added by
-- `kartlaggning`): one row per kommun, period, measure (matt), kön (K, M, T = both),
-- age band or single age (alder) and breakdown (dimension/kategori, 'total' when none).
-- `status` is 'ok', for a total derived from K + M 'derived', or for agency cells
-- 'suppressed'/'missing'/'nil' (then antal is NULL); `kalla` names the source. `andel` is set only for measures delivered as shares
-- (Kolada's, converted from percent to 0–1); `kartlaggning` computes the others.
SELECT kommun, period, matt, kon, alder, dimension, kategori, antal, status, 'malgrupp' AS kalla, CAST(NULL AS DOUBLE) AS andel FROM kartlaggning_malgrupp
UNION ALL
SELECT kommun, period, matt, kon, alder, dimension, kategori, antal, 'ok', 'kaa', NULL FROM kartlaggning_kaa
UNION ALL
SELECT kommun, period, matt, kon, alder, dimension, kategori, antal, 'ok', 'forsorjningsstod', NULL FROM kartlaggning_fs
UNION ALL
SELECT kommun, period, matt, kon, alder, dimension, kategori, antal, status, 'af', NULL FROM kartlaggning_af
UNION ALL
SELECT kommun, period, matt, kon, alder, dimension, kategori, antal, 'ok', 'timanstallda', NULL FROM kartlaggning_timanstallda
UNION ALL
SELECT kommun, period, matt, kon, alder, dimension, kategori, CAST(NULL AS BIGINT), status, 'kolada', varde / 100.0
FROM aggregat
WHERE kalla = 'kolada' AND enhet = 'procent'
