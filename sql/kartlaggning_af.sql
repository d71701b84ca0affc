-- Arbetsförmedlingen's figures (SPEC §4.4) as delivered: suppressed cells stay NULL with
-- status 'suppressed' (never 0).
SELECT kommun, period, matt, kon, alder, dimension, kategori, CAST(varde AS BIGINT) AS antal, status
FROM aggregat
WHERE kalla = 'af'
