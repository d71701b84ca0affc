//! `malgrupp serve`: a read-only HTTP API over the *published* views.
//!
//! Only the Parquet files of `<lake root>/published/` are reachable, each as a table named
//! by its file stem; record-level tables are never registered, so no query can reach them.
//!
//! ```text
//! GET  /healthz, /readyz                       no auth
//! GET  /api/v1/views                           list: name, columns, rows
//! GET  /api/v1/views/{name}?col=v&format=…     rows (equality / IN filters, paging)
//! POST /api/v1/sql {"sql": …, "format": …}     read-only SQL over the published views
//! GET  /api/v1/openapi.json                    the OpenAPI 3.0 description
//! GET  /metrics                                Prometheus (admin unless metrics_public)
//! GET  /api/v1/status                          pipelines: last/next run, freshness
//! POST /api/v1/runs/{pipeline}                 start a run now (202; admin; 409 while one runs)
//! GET  /api/v1/reports/{kommun}/{period}       Bilaga 1 report (html | md | xlsx)
//! ```
//! The last three need the service (`ops::Operations`); without it they answer 404.
//!
//! Every route except health needs `Authorization: Bearer <token>`: a read token or an
//! admin token, and for starting runs and a non-public `/metrics` an admin token.
//! Starting without any token is an error, so the API is never open by accident. Each
//! request builds a fresh `SessionContext` from the files on disk (the publish step
//! replaces them atomically, so a request sees the old or the new file, never a mix, and
//! no cache can go stale; `published::open_session`); all requests share one memory
//! pool, so the limit bounds the process, not one query. Queries run under a timeout and
//! a row limit ([`QueryLimits`]), on threads with large stacks
//! (`published::query_runtime`), after the statement checks of `published::guard`, with
//! growing functions bounded (`published::bounded`); slow and silent clients are held
//! off by the listener (`listener`, `admission`).

pub(crate) mod admission;
mod api;
mod auth;
mod encode;
mod listener;
pub mod openapi;
pub mod ops;
pub use listener::{
    BODY_READ_TIMEOUT, HANDSHAKES_PER_PEER, HEADER_READ_TIMEOUT, MAX_CONNECTIONS, MAX_HANDSHAKES,
};
pub(crate) mod safety;

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderName, HeaderValue, Method, header};
use axum::routing::{get, post};
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::error::{Error, Problems, Result};
pub use crate::published::QueryLimits;

/// Settings of the HTTP API.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// Address to listen on (default `127.0.0.1:8080`: local only until deliberately opened).
    pub listen: SocketAddr,
    /// The published folder, `<lake root>/published`.
    pub published_dir: PathBuf,
    /// Read-only bearer tokens: the views, SQL, reports and status. At least one token
    /// (read or admin) is required.
    pub tokens: Vec<String>,
    /// Admin bearer tokens: everything a read token may, and starting runs
    /// (`POST /api/v1/runs/{pipeline}`) and `/metrics` when it is not public.
    pub admin_tokens: Vec<String>,
    /// Origins allowed by CORS (`https://example.se`, or `*` alone for any); empty: no CORS headers.
    pub cors_origins: Vec<String>,
    /// Limits for the data endpoints.
    pub limits: QueryLimits,
    /// The running service, when `serve` runs the pipelines too.
    pub operations: Option<Arc<dyn ops::Operations>>,
    /// Serve `/metrics` without a token.
    pub metrics_public: bool,
    /// Settings the report endpoint renders with (lake, views, agreements); None: no reports.
    pub report_settings: Option<Arc<crate::config::Settings>>,
    /// A runtime (memory pool) shared with the PostgreSQL endpoint; None: one of its own.
    pub runtime: Option<Arc<datafusion::execution::runtime_env::RuntimeEnv>>,
}

/// The query runtime for `limits`: one memory pool, no spilling. Build it once and give
/// it to both endpoints so their queries share one limit.
pub fn shared_runtime(
    limits: &QueryLimits,
) -> Result<Arc<datafusion::execution::runtime_env::RuntimeEnv>> {
    crate::published::runtime(limits)
}

impl std::fmt::Debug for dyn ops::Operations {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Operations")
    }
}

impl Default for ServeConfig {
    fn default() -> Self {
        ServeConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            published_dir: PathBuf::from("data/published"),
            tokens: Vec::new(),
            admin_tokens: Vec::new(),
            cors_origins: Vec::new(),
            limits: QueryLimits::default(),
            operations: None,
            metrics_public: false,
            report_settings: None,
            runtime: None,
        }
    }
}

/// The shared state of all handlers.
pub(crate) struct App {
    pub(crate) published_dir: PathBuf,
    pub(crate) tokens: auth::Tokens,
    pub(crate) admin_tokens: auth::Tokens,
    pub(crate) limits: QueryLimits,
    pub(crate) runtime: Arc<datafusion::execution::runtime_env::RuntimeEnv>,
    pub(crate) operations: Option<Arc<dyn ops::Operations>>,
    pub(crate) report_settings: Option<Arc<crate::config::Settings>>,
}

/// The whole API as a router (no listener): validates `cfg` first.
///
/// Fails when no token is configured, a token cannot be sent in a header, a limit is
/// zero or a CORS origin is not a valid origin.
pub fn router(cfg: ServeConfig) -> Result<Router> {
    validate(&cfg)?;
    let cors = cors_layer(&cfg.cors_origins)?;
    let app = Arc::new(App {
        runtime: match &cfg.runtime {
            Some(r) => r.clone(),
            None => crate::published::runtime(&cfg.limits)?,
        },
        published_dir: cfg.published_dir,
        tokens: auth::Tokens::new(&cfg.tokens),
        admin_tokens: auth::Tokens::new(&cfg.admin_tokens),
        limits: cfg.limits,
        operations: cfg.operations,
        report_settings: cfg.report_settings,
    });
    // The fallback sits behind the token check too, so without a token nobody can even
    // learn which paths exist.
    // Starting runs (each a row of the capped ledger) and the service's metrics need
    // an admin token; a read token is answered 403.
    let admin = Router::new().route("/api/v1/runs/{pipeline}", post(ops::trigger));
    let admin = if cfg.metrics_public {
        admin
    } else {
        admin.route("/metrics", get(ops::metrics))
    };
    let admin = admin.layer(axum::middleware::from_fn_with_state(
        app.clone(),
        auth::require_admin,
    ));
    let protected = Router::new()
        .route("/api/v1/views", get(api::list_views))
        .route("/api/v1/views/{name}", get(api::view_rows))
        .route("/api/v1/sql", post(api::sql))
        .route("/api/v1/openapi.json", get(api::openapi))
        .route("/api/v1/status", get(ops::status))
        .route("/api/v1/reports/{kommun}/{period}", get(ops::report))
        .merge(admin)
        .fallback(api::not_found)
        .layer(axum::middleware::from_fn_with_state(
            app.clone(),
            auth::require_token,
        ));
    let mut open = Router::new()
        .route("/healthz", get(api::healthz))
        .route("/readyz", get(api::readyz));
    if cfg.metrics_public {
        open = open.route("/metrics", get(ops::metrics));
    }
    let mut router = open.merge(protected).with_state(app);
    // Outermost, so browser preflights (which carry no token) are answered before auth.
    if let Some(cors) = cors {
        router = router.layer(cors);
    }
    Ok(router)
}

/// Listens on `cfg.listen` and serves until `shutdown` completes, then lets running
/// requests finish.
pub async fn serve(
    cfg: ServeConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    // A configuration error is reported as such, not hidden behind a bind error.
    validate(&cfg)?;
    let listener = tokio::net::TcpListener::bind(cfg.listen)
        .await
        .map_err(|e| Error::io(format!("listen address {}", cfg.listen), e))?;
    serve_on(listener, cfg, shutdown).await
}

/// [`serve`] on a listener the caller bound (tests bind port 0 and read the address).
pub async fn serve_on(
    listener: tokio::net::TcpListener,
    cfg: ServeConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let addr = listener
        .local_addr()
        .map_err(|e| Error::io("listen socket", e))?;
    let dir = cfg.published_dir.clone();
    let tokens = cfg.tokens.len();
    let admin_tokens = cfg.admin_tokens.len();
    let app = router(cfg)?;
    tracing::info!(%addr, published = %dir.display(), tokens, admin_tokens, "serving the published views");
    listener::serve_router(listener, app, shutdown).await;
    Ok(())
}

fn validate(cfg: &ServeConfig) -> Result<()> {
    let mut p = Problems::default();
    if cfg.tokens.is_empty() && cfg.admin_tokens.is_empty() {
        p.push(
            "serve",
            "tokens",
            "at least one bearer token is required; the API is never served without authentication",
        );
    }
    for (field, tokens) in [("tokens", &cfg.tokens), ("admin_tokens", &cfg.admin_tokens)] {
        for (i, t) in tokens.iter().enumerate() {
            // A header value can only carry visible ASCII; an empty token would let
            // `Bearer ` through.
            if t.is_empty() || !t.bytes().all(|b| b.is_ascii_graphic()) {
                p.push(
                    "serve",
                    format!("{field}[{i}]"),
                    "must be non-empty and consist of visible ASCII characters only",
                );
            }
        }
    }
    cfg.limits.validate(&mut p);
    p.into_result(())
}

fn cors_layer(origins: &[String]) -> Result<Option<CorsLayer>> {
    if origins.is_empty() {
        return Ok(None);
    }
    let allow = if origins.len() == 1 && origins[0] == "*" {
        AllowOrigin::any()
    } else {
        let mut p = Problems::default();
        let mut values = Vec::new();
        for (i, o) in origins.iter().enumerate() {
            // `*` inside a list would make tower-http panic; an origin has no path.
            let ok = (o.starts_with("https://") || o.starts_with("http://"))
                && !o
                    .trim_start_matches("https://")
                    .trim_start_matches("http://")
                    .contains('/');
            match HeaderValue::from_str(o) {
                Ok(v) if ok => values.push(v),
                _ => p.push(
                    "serve",
                    format!("cors_origins[{i}]"),
                    format!("{o:?} is not an origin like https://example.se (or `*` alone)"),
                ),
            }
        }
        p.into_result(())?;
        AllowOrigin::list(values)
    };
    Ok(Some(
        CorsLayer::new()
            .allow_origin(allow)
            .allow_methods([Method::GET, Method::POST])
            .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE])
            .expose_headers([
                HeaderName::from_static("x-total-count"),
                HeaderName::from_static(safety::PUBLISHED_AT),
                header::LINK,
            ])
            .max_age(Duration::from_secs(3600)),
    ))
}
