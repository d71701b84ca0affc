//! `malgrupp serve`: the HTTP API over the published views, until SIGTERM or Ctrl-C.

use crate::config::Settings;
use crate::error::{Error, Problems, Result};
use crate::lake::Lake;
use crate::serve::{QueryLimits, ServeConfig};
use crate::service::daemon::{Daemon, Ops};

use std::sync::Arc;

/// Builds the API's configuration from the settings and the environment.
pub fn config(settings: &Settings, listen: Option<std::net::SocketAddr>) -> Result<ServeConfig> {
    let s = &settings.serve;
    let from_env = |name: &str| -> Vec<String> {
        std::env::var(name)
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_string)
            .collect()
    };
    let tokens = from_env(&s.tokens_env);
    let admin_tokens = from_env(&s.admin_tokens_env);
    if tokens.is_empty() && admin_tokens.is_empty() {
        let mut p = Problems::default();
        p.push("malgrupp.toml", "serve.tokens_env", format!("environment variable {} (read) or {} (admin) must hold at least one bearer token (comma-separated); the API never runs open", s.tokens_env, s.admin_tokens_env));
        return Err(Error::Config(p));
    }
    Ok(ServeConfig {
        listen: listen.unwrap_or(s.listen),
        published_dir: crate::publish::dir(&Lake::new(&settings.lake_root)),
        tokens,
        admin_tokens,
        cors_origins: s.cors_origins.clone(),
        limits: QueryLimits {
            memory_bytes: s.memory_bytes,
            timeout: s.timeout,
            max_rows: s.max_rows,
        },
        operations: None,
        metrics_public: s.metrics_public,
        report_settings: Some(Arc::new(settings.clone())),
        runtime: None,
    })
}

/// Serves until SIGTERM or Ctrl-C: the API, and unless `no_scheduler`, the scheduled
/// pipelines. On the signal the listener stops accepting, requests in flight finish,
/// running pipelines get the grace period, and the process exits 0.
pub async fn execute(
    settings: &Settings,
    listen: Option<std::net::SocketAddr>,
    no_scheduler: bool,
) -> Result<()> {
    let mut cfg = config(settings, listen)?;
    // One memory pool for the HTTP API and the PostgreSQL endpoint together.
    cfg.runtime = Some(crate::serve::shared_runtime(&cfg.limits)?);
    let pg = pg_config(settings, &cfg)?;
    let daemon = Daemon::start(settings.clone(), !no_scheduler).await?;
    cfg.operations = Some(Arc::new(Ops(daemon.clone())));
    let (tx, mut rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown_signal().await;
        let _ = tx.send(true);
    });
    tracing::info!(listen = %cfg.listen, published = %cfg.published_dir.display(), scheduler = !no_scheduler, "serving");
    let pg = match pg {
        Some(pg) => {
            // Bound (and validated) before anything is served, so a taken port or a
            // missing user stops the start-up instead of surfacing at shutdown.
            crate::pgwire::validate(&pg)?;
            let listener = tokio::net::TcpListener::bind(pg.listen)
                .await
                .map_err(|e| Error::io(format!("pg_listen address {}", pg.listen), e))?;
            tracing::info!(listen = %pg.listen, users = pg.users.len(), "PostgreSQL endpoint");
            let mut rx = rx.clone();
            let task = tokio::spawn(crate::pgwire::serve_pg(listener, pg, async move {
                let _ = rx.wait_for(|stop| *stop).await;
            }));
            Some(task)
        }
        None => None,
    };
    let served = crate::serve::serve(cfg, async move {
        let _ = rx.wait_for(|stop| *stop).await;
    })
    .await;
    daemon.shutdown(settings.serve.shutdown_grace).await;
    if let Some(task) = pg {
        match task.await {
            Ok(result) => result?,
            Err(e) => {
                return Err(Error::Internal(format!(
                    "the PostgreSQL endpoint stopped: {e}"
                )));
            }
        }
    }
    served
}

/// The PostgreSQL endpoint's configuration, when `[serve] pg_listen` is set: users from
/// the environment (`user:password`, comma-separated), the API's limits.
pub fn pg_config(
    settings: &Settings,
    api: &ServeConfig,
) -> Result<Option<crate::pgwire::PgConfig>> {
    let Some(listen) = settings.serve.pg_listen else {
        return Ok(None);
    };
    let var = &settings.serve.pg_users_env;
    let mut users = Vec::new();
    let mut p = Problems::default();
    for entry in std::env::var(var)
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty())
    {
        match entry.split_once(':') {
            Some((u, pw)) if !u.is_empty() && !pw.is_empty() => {
                users.push((u.to_string(), pw.to_string()))
            }
            _ => p.push(
                "malgrupp.toml",
                "serve.pg_users_env",
                format!("environment variable {var}: every entry must be user:password"),
            ),
        }
    }
    if users.is_empty() && p.is_empty() {
        p.push("malgrupp.toml", "serve.pg_listen", format!("environment variable {var} must hold at least one user:password; the endpoint never runs open"));
    }
    p.into_result(())?;
    Ok(Some(crate::pgwire::PgConfig {
        listen,
        published_dir: api.published_dir.clone(),
        users,
        limits: api.limits.clone(),
        runtime: api.runtime.clone(),
    }))
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let term = async {
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(mut s) => {
                    s.recv().await;
                }
                Err(_) => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            () = term => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
    tracing::info!("shutting down");
}
