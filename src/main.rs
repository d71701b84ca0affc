//! The `malgrupp` binary: parse arguments, set up logging, dispatch, map the outcome to
//! an exit code (0 success, 1 a pipeline or check failed, 2 unusable configuration).

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;
use malgrupp::cli::{self, Cli, Command, LogFormat};
use malgrupp::config::Settings;

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
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

async fn dispatch(cli: Cli) -> anyhow::Result<bool> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if let Command::Sample { out: dir } = &cli.command {
        for p in malgrupp::sample::write_kalmar(dir)? {
            writeln!(out, "wrote {}", p.display())?;
        }
        return Ok(true);
    }
    let settings = Settings::load(cli.config.as_deref())?;
    Ok(match cli.command {
        Command::Run { pipelines } => cli::run::execute(&settings, &pipelines, &mut out)
            .await?
            .success(),
        Command::Sql { query, format } => {
            cli::sql::execute(&settings, &query, format, &mut out).await?;
            true
        }
        Command::Export {
            view,
            kommun,
            period,
            format,
            out: file,
        } => {
            let rows = cli::export::execute(
                &settings,
                &view,
                kommun.as_deref(),
                period.as_deref(),
                format,
                &file,
            )
            .await?;
            writeln!(out, "wrote {rows} rows to {}", file.display())?;
            true
        }
        Command::Serve { listen } => {
            cli::serve::execute(&settings, listen).await?;
            true
        }
        Command::Check => cli::check::execute(&settings, &mut out).await?.is_empty(),
        Command::Demo => cli::demo::execute(&settings, &mut out).await?,
        Command::Bench { rows, kommuner } => {
            cli::bench::execute(&settings, rows, kommuner, &mut out).await?;
            true
        }
        Command::Sample { .. } => true,
    })
}

fn init_logging(format: LogFormat) {
    use tracing_subscriber::EnvFilter;
    let filter =
        EnvFilter::try_from_env("MALGRUPP_LOG").unwrap_or_else(|_| EnvFilter::new("malgrupp=info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.with_target(false).init(),
        LogFormat::Json => builder.json().init(),
    }
}
