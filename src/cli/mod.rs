//! The command line: argument definitions and one module per command.
//!
//! Commands are library functions that write to a `Write` and return a result, so the
//! integration tests drive exactly what the binary runs.

pub mod audit;
pub mod backfill;
pub mod bench;
pub mod bench_national;
pub mod check;
mod check_measures;
pub mod demo;
pub mod export;
mod progress;
pub mod report;
pub mod restore;
pub mod run;
pub mod serve;
pub mod sql;
pub mod status;

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

use crate::query::output::Encoding;

/// Nightly pipelines for the kartläggning of young people outside work and studies.
#[derive(Debug, Parser)]
#[command(name = "malgrupp", version, about)]
pub struct Cli {
    /// Settings file (default: ./malgrupp.toml if present, else built-in defaults).
    #[arg(long, global = true)]
    pub config: Option<PathBuf>,
    /// Log format on stderr.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run pipelines once, now (all by default), then check the views against the new data.
    Run {
        /// Pipeline names (file stems in the pipelines directory).
        pipelines: Vec<String>,
    },
    /// The service: scheduled pipeline runs plus the HTTP API over the published views.
    Serve {
        /// Address to listen on (default from `[serve] listen`, else 127.0.0.1:8080).
        #[arg(long)]
        listen: Option<std::net::SocketAddr>,
        /// Serve the API only; run no pipelines (for extra read-only replicas).
        #[arg(long)]
        no_scheduler: bool,
    },
    /// Rebuild an empty lake from its `[lake] delta` copy: the tables, the run history
    /// and the lake's identity (not the raw extracts or the quarantine).
    Restore {
        /// Leave a lake that holds data, or a copy not made yet, as it is (exit 0): for a
        /// host that starts without the lake's disk.
        #[arg(long)]
        if_empty: bool,
    },
    /// Reprocess a pipeline's extracts for a range of periods (idempotent).
    Backfill {
        /// Pipeline name.
        pipeline: String,
        /// First period, YYYY-MM (or YYYY).
        #[arg(long)]
        from: String,
        /// Last period, YYYY-MM (or YYYY), inclusive.
        #[arg(long)]
        to: String,
        /// Fetch, decode and map, and list what would be written, without writing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Show every pipeline's last run, next run and freshness (exit 1 if any is stale or failing).
    Status {
        /// Output format.
        #[arg(long, value_enum, default_value_t = status::StatusFormat::Table)]
        format: status::StatusFormat,
    },
    /// Run a SQL query over the lake's tables and views.
    Sql {
        /// The query.
        query: String,
        /// Output format.
        #[arg(long, value_parser = Encoding::offered(sql::OFFERED), default_value = "table")]
        format: Encoding,
        /// Also query a Delta table, as NAME=ROOT (a path, file:///…, s3://bucket/prefix or
        /// az://container/prefix; the store's endpoint and credentials from AWS_* or
        /// AZURE_* in the environment). Repeatable.
        #[arg(long = "delta", value_name = "NAME=ROOT")]
        delta: Vec<String>,
        /// Read the --delta tables as of a version (a number), a time (RFC 3339), the
        /// end of a day in Swedish time (YYYY-MM-DD) or a run (its id, for tables
        /// committed with `[lake] delta`: as they were once the run was committed);
        /// default the newest. With a time, a date or a run id the lake's own tables,
        /// ledger and views are read from its copy (`[lake] delta`) as of then too.
        #[arg(long, value_name = "VERSION|TIME|DATE|RUN_ID")]
        as_of: Option<String>,
    },
    /// Export a published (suppressed) view to a file.
    Export {
        /// View name: kartlaggning, kartlaggning_kon, bilaga1_fs_orsak or uppfoljning.
        view: String,
        /// Only this kommun (4-digit code).
        #[arg(long)]
        kommun: Option<String>,
        /// Only this period.
        #[arg(long)]
        period: Option<String>,
        /// File format.
        #[arg(long, value_parser = Encoding::offered(export::OFFERED))]
        format: Encoding,
        /// Output file.
        #[arg(long)]
        out: PathBuf,
        /// The view as published at a time (RFC 3339) or by the end of a day in Swedish
        /// time (YYYY-MM-DD), within `[publish] keep_days`; default the current one.
        #[arg(long, value_name = "TIME|DATE")]
        as_of: Option<String>,
    },
    /// Render the Bilaga 1 report of one kommun and month from the published views.
    Report {
        /// Kommun code, e.g. 0880.
        #[arg(long)]
        kommun: String,
        /// Period, YYYY-MM.
        #[arg(long)]
        period: String,
        /// html (self-contained, with charts), xlsx (one sheet per section) or md.
        #[arg(long, default_value = "html")]
        format: String,
        /// Output file (default bilaga1_<kommun>_<period>.<format> in the current
        /// directory); `-` writes to standard output.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Validate settings, every pipeline file and every SQL view without running anything.
    Check,
    /// Attack the published files as an outsider would: find the identities they satisfy
    /// and the interval each suppressed count is confined to (exit 1 if one is disclosed).
    Audit {
        /// Folder of published files (default: the lake's `published/`).
        #[arg(long)]
        dir: Option<PathBuf>,
        /// Read the CSV files instead of the Parquet ones.
        #[arg(long)]
        csv: bool,
        /// Suppression threshold (default: `suppress_below` of the settings).
        #[arg(long)]
        threshold: Option<i64>,
        /// List the identities found.
        #[arg(long)]
        identities: bool,
    },
    /// Run every pipeline and print the kartläggning of each kommun and period.
    Demo,
    /// Measure pipeline throughput and view latency on a synthetic extract (prints figures).
    Bench {
        /// Rows in the synthetic försörjningsstöd extract.
        #[arg(long, default_value_t = 200_000)]
        rows: usize,
        /// Number of kommuner the rows are spread over (1–290).
        #[arg(long, default_value_t = 290)]
        kommuner: usize,
        /// The national case: monthly national extracts through `run` and publishing,
        /// then one more month (see docs/performance.md).
        #[arg(long)]
        national: bool,
        /// Months of the national full run.
        #[arg(long, default_value_t = 12, requires = "national")]
        months: usize,
        /// Keep the national extracts in this folder (for bench/duckdb_compare.sh).
        #[arg(long, requires = "national")]
        keep: Option<PathBuf>,
        /// Also commit the published views as Delta tables to this location (a directory,
        /// s3://… or az://…, credentials from the environment) and time it.
        #[arg(long, requires = "national", value_parser = crate::lake::location::Location::parse)]
        delta: Option<crate::lake::location::Location>,
        /// Also commit the lake's tables as Delta tables to this location (as `[lake]
        /// delta`) and time it, and a restore from there at the end.
        #[arg(long, requires = "national", value_parser = crate::lake::location::Location::parse)]
        lake_delta: Option<crate::lake::location::Location>,
        /// Kommun-months of `kartlaggning` queried for the latency figures (0: none).
        #[arg(long, default_value_t = 50, requires = "national")]
        queries: usize,
    },
    /// Probe a health endpoint (for container HEALTHCHECKs: no curl in the image). Exit 0 on 2xx.
    Health {
        /// URL to GET.
        #[arg(long, default_value = "http://127.0.0.1:8080/healthz")]
        url: String,
    },
    /// Write the synthetic sample extracts (Kalmar, May 2015) that the demo pipelines read.
    Sample {
        /// Output directory.
        #[arg(long, default_value = "samples/kalmar")]
        out: PathBuf,
    },
}
