//! The `malgrupp` binary: parse arguments, set up logging, dispatch, map the outcome to
//! an exit code (0 success, 1 a pipeline or check failed, 2 unusable configuration).

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;
use malgrupp::cli::{self, Cli, Command, LogFormat};
use malgrupp::config::Settings;

/// Publishing and ingest allocate and free many small buffers per row group (hash tables,
/// string builders, CSV records); glibc's allocator spent a quarter of a national publish
/// in malloc/free and gave memory back to the OS late. mimalloc is what DataFusion's own
/// CLI uses.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(dispatch(cli)) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        // A closed pipe (`malgrupp status | head`) is the reader's choice, not an error.
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            // Our errors carry their causes in their own text; `{e:#}` would repeat them.
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

async fn dispatch(cli: Cli) -> anyhow::Result<bool> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if let Command::Sample { out: dir } = &cli.command {
        for p in malgrupp_sample::write_kalmar(dir)? {
            writeln!(out, "wrote {}", p.display())?;
        }
        return Ok(true);
    }
    if let Command::Health { url } = &cli.command {
        // Needs no settings and no token: a container HEALTHCHECK runs it bare.
        let status = reqwest::Client::new()
            .get(url)
            .timeout(std::time::Duration::from_secs(4))
            .send()
            .await
            .map(|r| r.status());
        return Ok(match status {
            Ok(s) if s.is_success() => true,
            Ok(s) => {
                writeln!(out, "{url}: HTTP {s}")?;
                false
            }
            Err(e) => {
                writeln!(out, "{url}: {}", e.without_url())?;
                false
            }
        });
    }
    let settings = Settings::load(cli.config.as_deref())?;
    // A lake whose root is on object storage is worked on in a local cache: an empty one
    // is brought in first (`restore` asks for itself, the benchmark has a lake of its
    // own, and `check` checks the settings without asking the store).
    if !matches!(
        cli.command,
        Command::Restore { .. } | Command::Bench { .. } | Command::Check
    ) {
        cli::restore::bring_in(&settings).await?;
    }
    Ok(match cli.command {
        Command::Run { pipelines } => cli::run::execute(&settings, &pipelines, &mut out)
            .await?
            .success(),
        Command::Backfill {
            pipeline,
            from,
            to,
            dry_run,
        } => cli::backfill::execute(&settings, &pipeline, &from, &to, dry_run, &mut out)
            .await?
            .success(),
        Command::Restore { if_empty } => {
            cli::restore::execute(&settings, if_empty, &mut out).await?;
            true
        }
        Command::Status { format } => cli::status::execute(&settings, format, &mut out)?,
        Command::Sql {
            query,
            format,
            delta,
            as_of,
        } => {
            let extra = cli::sql::Extra {
                delta,
                as_of: as_of.as_deref(),
            };
            cli::sql::execute(&settings, &query, format, &extra, &mut out).await?;
            true
        }
        Command::Export {
            view,
            kommun,
            period,
            format,
            out: file,
            as_of,
        } => {
            let rows = cli::export::execute(
                &settings,
                &view,
                kommun.as_deref(),
                period.as_deref(),
                format,
                &file,
                as_of.as_deref(),
            )
            .await?;
            writeln!(out, "wrote {rows} rows to {}", file.display())?;
            true
        }
        Command::Serve {
            listen,
            no_scheduler,
        } => {
            cli::serve::execute(&settings, listen, no_scheduler).await?;
            true
        }
        Command::Report {
            kommun,
            period,
            format,
            out: file,
        } => {
            let path =
                cli::report::execute(&settings, &kommun, &period, &format, file.as_deref()).await?;
            if path != std::path::Path::new("-") {
                writeln!(out, "wrote {}", path.display())?;
            }
            true
        }
        Command::Check => cli::check::execute(&settings, &mut out).await?.is_empty(),
        Command::Audit {
            dir,
            csv,
            threshold,
            identities,
        } => cli::audit::execute(
            &settings,
            dir.as_deref(),
            csv,
            threshold,
            identities,
            &mut out,
        )?,
        Command::Demo => cli::demo::execute(&settings, &mut out).await?,
        Command::Bench {
            rows,
            kommuner,
            national: true,
            months,
            keep,
            delta,
            lake_delta,
            queries,
        } => {
            let n = cli::bench_national::National {
                rows,
                kommuner,
                months,
                keep,
                delta,
                lake_delta,
                queries,
            };
            cli::bench_national::execute(&settings, &n, &mut out).await?;
            true
        }
        Command::Bench { rows, kommuner, .. } => {
            cli::bench::execute(&settings, rows, kommuner, &mut out).await?;
            true
        }
        Command::Sample { .. } | Command::Health { .. } => true,
    })
}

fn init_logging(format: LogFormat) {
    use tracing_subscriber::EnvFilter;
    let mut filter =
        EnvFilter::try_from_env("MALGRUPP_LOG").unwrap_or_else(|_| EnvFilter::new("malgrupp=info"));
    // These crates log client SQL, plans with its literals and SET statements verbatim
    // (at debug, info, warn); what a client sends is logged only by malgrupp, scrubbed.
    for cap in ["datafusion=error", "sqlparser=error", "pgwire=error"] {
        if let Ok(directive) = cap.parse() {
            filter = filter.add_directive(directive);
        }
    }
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        // Log lines pause the progress bars of an interactive run instead of tearing them.
        .with_writer(malgrupp::progress::LogWriter)
        // Colours only for a person at a terminal, never into a file or a collector.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    match format {
        LogFormat::Text => builder.with_target(false).init(),
        LogFormat::Json => builder.json().init(),
    }
}
