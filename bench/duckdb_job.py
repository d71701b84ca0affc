"""DuckDB doing malgrupp's ingest job on the national benchmark's extracts.

The same work as `malgrupp run` on the same files: parse the Windows-1252 CSV, validate
each identity number (birth date and Luhn check digit), pseudonymize it with two SHA-256
calls (the cost of an HMAC), age at the end of the month, kön, the pipeline's value maps,
the amount in Swedish number format, and write zstd Parquet partitioned by kommun and
period. Prints seconds and the process's peak RSS.

Usage: python3 bench/duckdb_job.py EXTRACT_GLOB OUT_DIR
"""

import resource
import sys
import time

import duckdb

MACRO = r"""
CREATE MACRO luhn_ok(d) AS (
  list_sum(list_transform(range(10), lambda i:
    CASE WHEN i % 2 = 0
      THEN (CAST(d[i + 1] AS INT) * 2) // 10 + (CAST(d[i + 1] AS INT) * 2) % 10
      ELSE CAST(d[i + 1] AS INT) END)) % 10 = 0
)
"""

JOB = r"""
COPY (
  WITH raw AS (
    SELECT * FROM read_csv('{extracts}', delim = ';', header = true, encoding = 'latin-1',
                           all_varchar = true)
  ),
  typed AS (
    SELECT
      Kommun AS kommun,
      substr(Månad, 1, 4) || '-' || substr(Månad, 5, 2) AS period,
      regexp_replace(Personnr, '[-+]', '') AS pnr,
      try_strptime(substr(regexp_replace(Personnr, '[-+]', ''), 1, 8), '%Y%m%d') AS born,
      last_day(strptime(Månad || '01', '%Y%m%d')) AS reference_date,
      *
    FROM raw
  )
  SELECT
    sha256('outer-key' || sha256('inner-key' || pnr)) AS person_id,
    reference_date,
    date_diff('year', born, reference_date)
      - CASE WHEN strftime(reference_date, '%m%d') < strftime(born, '%m%d') THEN 1 ELSE 0 END AS alder,
    CASE WHEN CAST(substr(pnr, 11, 1) AS INT) % 2 = 1 THEN 'M' ELSE 'K' END AS kon,
    CASE Orsakskod WHEN 'Arbetslöshet' THEN 'arbetsloshet' WHEN 'Sociala skäl' THEN 'sociala_skal'
      WHEN 'Ohälsa' THEN 'ohalsa' WHEN 'Annan orsak' THEN 'annan'
      WHEN 'Otillräcklig inkomst' THEN 'otillracklig_inkomst' END AS orsak,
    CASE Delorsak WHEN 'Endast FS som inkomstkälla' THEN 'endast_fs'
      WHEN 'Väntar på ersättning' THEN 'vantar_ersattning'
      WHEN 'Otillräcklig ersättning' THEN 'otillracklig_ersattning' END AS delorsak,
    "Inskriven AF" = 'J' AS inskriven_af,
    CASE Utbildningsnivå WHEN 'Ingen gymnasial utbildning' THEN 'ingen_gymnasial'
      WHEN 'Gymnasial utbildning' THEN 'gymnasial' WHEN 'Eftergymnasial utbildning' THEN 'eftergymnasial'
      WHEN 'Uppgift saknas' THEN 'saknas' END AS utbildning,
    CASE Funktionsnedsättning WHEN 'Fysisk' THEN 'fysisk' WHEN 'Psykisk' THEN 'psykisk'
      WHEN 'Fysisk och psykisk' THEN 'fysisk_psykisk' WHEN 'Nej' THEN 'nej'
      WHEN 'Uppgift saknas' THEN 'saknas' END AS funktionsnedsattning,
    CASE Födelseland WHEN 'Sverige' THEN 'inrikes' WHEN 'Utrikes' THEN 'utrikes' END AS fodelseland,
    CAST(replace(replace("Utbetalt belopp", chr(160), ''), ',', '.') AS DOUBLE) AS belopp,
    kommun, period
  FROM typed
  WHERE born IS NOT NULL AND luhn_ok(substr(pnr, 3, 10))
) TO '{out}' (FORMAT parquet, COMPRESSION zstd, PARTITION_BY (kommun, period), OVERWRITE_OR_IGNORE true);
"""


def main() -> None:
    extracts, out = sys.argv[1], sys.argv[2]
    con = duckdb.connect()
    started = time.perf_counter()
    quote = lambda s: s.replace("'", "''")
    con.execute(MACRO)
    con.execute(JOB.replace("{extracts}", quote(extracts)).replace("{out}", quote(out)))
    seconds = time.perf_counter() - started
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"duckdb {duckdb.__version__}: {seconds:.2f} s, peak RSS {peak_kb / 1000:.0f} MB")


if __name__ == "__main__":
    main()
