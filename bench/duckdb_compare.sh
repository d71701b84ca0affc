#!/usr/bin/env bash
# malgrupp and DuckDB side by side on the same national extracts, in one run.
#
#   bench/duckdb_compare.sh [ROWS] [MONTHS]     (defaults: 2000000 rows, 12 months)
#
# Builds nothing: it runs `malgrupp` from PATH or target/release. Needs `duckdb` from
# PyPI (`python3 -m pip install duckdb`). Prints malgrupp's national benchmark, then
# DuckDB doing the same ingest job (bench/duckdb_job.py) on the same files, then the
# ratio of the ingest times and of the peak RSS. Figures: docs/performance.md.
set -euo pipefail
cd "$(dirname "$0")/.."
rows="${1:-2000000}"
months="${2:-12}"
bin="$(command -v malgrupp || echo target/release/malgrupp)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

echo "== malgrupp ($bin)"
"$bin" bench --national --rows "$rows" --months "$months" --keep "$work/extracts" | tee "$work/malgrupp.txt"
# The night's extra month is not part of the full run DuckDB repeats.
last="$(ls "$work"/extracts/fs_*.csv | sort | tail -n 1)"
mkdir "$work/night" && mv "$last" "$work/night/"

echo "== duckdb"
python3 bench/duckdb_job.py "$work/extracts/fs_*.csv" "$work/duckdb_out" | tee "$work/duckdb.txt"

python3 - "$work/malgrupp.txt" "$work/duckdb.txt" <<'PY'
import re, sys
m = open(sys.argv[1]).read()
d = open(sys.argv[2]).read()
ms, mr = re.search(r"full run\s+ingest\s+([\d.]+) s.*?peak RSS\s+(\d+) MB", m).groups()
ds, dr = re.search(r": ([\d.]+) s, peak RSS (\d+) MB", d).groups()
print(f"{'':10}{'malgrupp':>12}{'duckdb':>12}{'ratio':>8}")
print(f"{'ingest s':10}{float(ms):>12.2f}{float(ds):>12.2f}{float(ms)/float(ds):>8.2f}")
print(f"{'peak MB':10}{int(mr):>12}{int(dr):>12}{int(mr)/int(dr):>8.2f}")
PY
