"""What an analyst's Python does against the PostgreSQL endpoint, for tests/it/pgwire/drivers.rs.

psycopg 3 directly (extended protocol, parameters), then SQLAlchemy 2 over psycopg as
pandas, Superset and notebooks use it: connect (SQLAlchemy reads version() and settings),
inspect the tables and columns, and pandas.read_sql of a filtered query. Prints one JSON
object on stdout; the Rust test compares it with the HTTP API and the published files.

Connection settings come from the environment (PGHOST, PGPORT, PGUSER, PGPASSWORD);
MALGRUPP_KOMMUN and MALGRUPP_PERIOD name the filter.
"""

import json
import os
import sys
from urllib.parse import quote

import pandas as pd
import psycopg
import sqlalchemy
from sqlalchemy import create_engine, inspect, text

HOST = os.environ["PGHOST"]
PORT = int(os.environ["PGPORT"])
USER = os.environ["PGUSER"]
PASSWORD = os.environ["PGPASSWORD"]
KOMMUN = os.environ["MALGRUPP_KOMMUN"]
PERIOD = os.environ["MALGRUPP_PERIOD"]

# Statements that must stay refused, and the record-level table that must not be there.
REFUSED = [
    "CREATE TABLE x (a int)",
    "DROP TABLE kartlaggning",
    "INSERT INTO kartlaggning (kommun) VALUES ('0880')",
    "COPY kartlaggning TO STDOUT",
    "SELECT * FROM forsorjningsstod",
]


def plain(value):
    """JSON-friendly: pandas' NA and numpy scalars become None and Python numbers."""
    if value is None or value is pd.NA:
        return None
    if hasattr(value, "item"):
        return value.item()
    return value


def main():
    out = {"sqlalchemy": sqlalchemy.__version__, "psycopg": psycopg.__version__}
    with psycopg.connect(
        host=HOST, port=PORT, user=USER, password=PASSWORD, dbname="malgrupp"
    ) as conn:
        out["server_version_num"] = conn.info.server_version
        out["version"] = conn.execute("select version()").fetchone()[0]
        out["current_setting"] = conn.execute(
            "select current_setting('server_version_num')"
        ).fetchone()[0]
        out["psycopg_sum"] = conn.execute(
            "select sum(antal) from kartlaggning"
            " where kommun = %s and period = %s and antal_skyddad = %s",
            (KOMMUN, PERIOD, False),
        ).fetchone()[0]
        refused = {}
        for sql in REFUSED:
            try:
                conn.execute(sql)
                refused[sql] = None
            except psycopg.Error as e:
                refused[sql] = e.sqlstate
            conn.rollback()
        out["refused"] = refused

    url = f"postgresql+psycopg://{quote(USER, safe='')}:{quote(PASSWORD, safe='')}@{HOST}:{PORT}/malgrupp"
    engine = create_engine(url)
    with engine.connect() as conn:
        out["dialect_server_version"] = list(conn.dialect.server_version_info)
    inspector = inspect(engine)
    out["tables"] = inspector.get_table_names()
    out["views"] = inspector.get_view_names()
    out["columns"] = [
        {"name": c["name"], "type": str(c["type"]), "nullable": c["nullable"]}
        for c in inspector.get_columns("kartlaggning")
    ]
    frame = pd.read_sql(
        text("select * from kartlaggning where kommun = :kommun and period = :period"),
        engine,
        params={"kommun": KOMMUN, "period": PERIOD},
        dtype_backend="numpy_nullable",
    )
    out["rows"] = [
        {k: plain(v) for k, v in row.items()} for row in frame.to_dict(orient="records")
    ]
    engine.dispose()
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
