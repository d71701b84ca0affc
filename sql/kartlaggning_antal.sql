-- All counts of the kartläggning in long format (before population shares are added by
-- `kartlaggning`): one row per kommun, period, measure (matt), kön (K, M, T = both),
-- age band or single age (alder) and breakdown (dimension/kategori, 'total' when none).
-- `status` is 'ok', or for agency cells 'suppressed'/'missing'/'nil' (then antal is
-- NULL); `kalla` names the source.
SELECT kommun, period, matt, kon, alder, dimension, kategori, antal, 'ok' AS status, 'malgrupp' AS kalla FROM kartlaggning_malgrupp
UNION ALL
SELECT kommun, period, matt, kon, alder, dimension, kategori, antal, 'ok', 'kaa' FROM kartlaggning_kaa
UNION ALL
SELECT kommun, period, matt, kon, alder, dimension, kategori, antal, 'ok', 'forsorjningsstod' FROM kartlaggning_fs
UNION ALL
SELECT kommun, period, matt, kon, alder, dimension, kategori, antal, status, 'af' FROM kartlaggning_af
UNION ALL
SELECT kommun, period, matt, kon, alder, dimension, kategori, antal, 'ok', 'timanstallda' FROM kartlaggning_timanstallda
