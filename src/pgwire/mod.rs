//! `serve` over the PostgreSQL wire protocol: BI tools (Grafana, Metabase, Superset,
//! Power BI) and `psql` connect as to a PostgreSQL database and read the *published*
//! views, and nothing else.
//!
//! - **Authentication**: SCRAM-SHA-256 with the users and passwords the caller gives
//!   ([`PgConfig::users`]); starting without a user is an error. No TLS: put the port
//!   behind a TLS-terminating proxy (or keep it on 127.0.0.1) when it leaves the host.
//! - **Only published views**: each connection gets its own DataFusion session
//!   (`published::Session`) in which the views `published::open` lists are the tables
//!   of `malgrupp.public`, with
//!   datafusion-postgres' `pg_catalog` emulation and `information_schema` for the
//!   clients' catalog queries, and what drivers call beyond it (`compat`: the version
//!   as PostgreSQL 16, settings, catalog functions, `ARRAY(subquery)`, a bounded `||`).
//!   Record-level tables are never registered. Before each
//!   read the session re-registers the views whose files the publish step replaced.
//! - **Read-only**: every statement passes the hooks of `hooks`: reads go on, the SET
//!   of client session parameters and transaction commands are answered, and CREATE,
//!   INSERT, DROP, COPY, cursors and the rest are refused (SQLSTATE 25006); each read
//!   plan is checked with DataFusion's `SQLOptions` before it runs.
//! - **Admission** (`admission`): a client must authenticate within
//!   [`HANDSHAKE_DEADLINE`]; unauthenticated connections are capped per IP address and
//!   in all, and only authenticated ones take one of the [`MAX_SESSIONS`] session slots.
//! - **Statement checks** (`checked`, `published::guard`): over-complex statements are
//!   refused (SQLSTATE 54001) before datafusion-postgres parses them, and functions that
//!   grow their input reserve their result from the memory pool (`published::bounded`).
//! - **Limits** ([`QueryLimits`]): one memory pool for all connections, without
//!   spilling; the row limit and the timeout sit in every physical plan (`limits`), so
//!   they hold in the simple and the extended protocol alike. A query over a limit fails
//!   with a clear error, and the connection and the server stay up.

mod admission;
mod as_of;
mod auth;
mod checked;
mod compat;
mod errors;
mod hooks;
mod limits;
mod session;

use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use datafusion::execution::runtime_env::RuntimeEnv;
use datafusion_postgres::hooks::set_show::SetShowHook;
use datafusion_postgres::hooks::transactions::TransactionStatementHook;
use datafusion_postgres::pgwire::api::auth::DefaultServerParameterProvider;
use datafusion_postgres::pgwire::api::auth::StartupHandler;
use datafusion_postgres::pgwire::api::auth::sasl::SASLAuthStartupHandler;
use datafusion_postgres::pgwire::api::auth::sasl::scram::ScramAuth;
use datafusion_postgres::pgwire::api::query::{ExtendedQueryHandler, SimpleQueryHandler};
use datafusion_postgres::pgwire::api::{ErrorHandler, PgWireServerHandlers};
use datafusion_postgres::{DfSessionService, QueryHook};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

use crate::error::{Error, Problems, Result};
use crate::normalize::personnummer::scrub;
use crate::published::QueryLimits;
use crate::serve::admission::Standing;

pub use admission::{HANDSHAKE_DEADLINE, HANDSHAKES_PER_PEER, MAX_HANDSHAKES, MAX_SESSIONS};

/// Settings of the PostgreSQL endpoint.
#[derive(Clone)]
pub struct PgConfig {
    /// Address to listen on (default `127.0.0.1:5432`: local only until deliberately opened).
    pub listen: SocketAddr,
    /// The published folder, `<lake root>/published`.
    pub published_dir: PathBuf,
    /// Accepted `(user, password)` pairs; at least one is required. Read them from the
    /// environment, never from a file in the repository.
    pub users: Vec<(String, String)>,
    /// Memory, time and row limits (one memory pool for all connections).
    pub limits: QueryLimits,
    /// A runtime (memory pool) shared with the HTTP API, so both endpoints together stay
    /// under one limit; None: a pool of its own of `limits.memory_bytes`.
    pub runtime: Option<Arc<RuntimeEnv>>,
}

impl Default for PgConfig {
    fn default() -> Self {
        PgConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 5432)),
            published_dir: PathBuf::from("data/published"),
            users: Vec::new(),
            limits: QueryLimits::default(),
            runtime: None,
        }
    }
}

// By hand: the passwords must never reach a log line.
impl fmt::Debug for PgConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let users: Vec<&str> = self.users.iter().map(|(u, _)| u.as_str()).collect();
        f.debug_struct("PgConfig")
            .field("listen", &self.listen)
            .field("published_dir", &self.published_dir)
            .field("users", &users)
            .field("limits", &self.limits)
            .finish()
    }
}

/// Checks `config`: at least one user, no empty or repeated user name, no empty
/// password, no zero limit.
pub fn validate(config: &PgConfig) -> Result<()> {
    let mut p = Problems::default();
    if config.users.is_empty() {
        p.push(
            "serve",
            "pg.users",
            "at least one user with a password is required; the PostgreSQL endpoint is never served without authentication",
        );
    }
    for (i, (user, password)) in config.users.iter().enumerate() {
        if user.is_empty() || user.chars().any(char::is_control) {
            p.push(
                "serve",
                format!("pg.users[{i}]"),
                "the user name must be non-empty, without control characters",
            );
        } else if config.users[..i].iter().any(|(u, _)| u == user) {
            p.push(
                "serve",
                format!("pg.users[{i}]"),
                format!("user {user:?} is given twice"),
            );
        }
        if password.is_empty() {
            p.push(
                "serve",
                format!("pg.users[{i}]"),
                format!("user {user:?} has an empty password"),
            );
        }
    }
    config.limits.validate(&mut p);
    p.into_result(())
}

/// Binds `config.listen` and runs [`serve_pg`] on it.
pub async fn serve(
    config: PgConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    // A configuration error is reported as such, not hidden behind a bind error.
    validate(&config)?;
    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(|e| Error::io(format!("listen address {}", config.listen), e))?;
    serve_pg(listener, config, shutdown).await
}

/// Serves the published views over the PostgreSQL protocol on `listener` (its address,
/// not `config.listen`, is used) until `shutdown` completes; then stops accepting and
/// closes the open connections.
///
/// Fails at once when `config` is invalid (see [`validate`]), e.g. without users.
pub async fn serve_pg(
    listener: TcpListener,
    config: PgConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    validate(&config)?;
    let addr = listener
        .local_addr()
        .map_err(|e| Error::io("listen socket", e))?;
    let shared = Arc::new(Shared {
        runtime: match &config.runtime {
            Some(r) => r.clone(),
            None => crate::published::runtime(&config.limits)?,
        },
        users: Arc::new(auth::Users::new(&config.users)?),
        parameters: Arc::new(server_parameters()),
        config,
    });
    tracing::info!(
        %addr,
        published = %shared.config.published_dir.display(),
        users = shared.config.users.len(),
        "serving the published views over the PostgreSQL protocol"
    );
    let admission = admission::admission();
    let mut connections = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            // Reap finished connections so the set does not grow.
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            (socket, peer, standing) = admission.next(
                &listener,
                "connection refused: too many unauthenticated connections",
            ) => {
                let shared = shared.clone();
                // The whole connection runs on the query runtime (large stacks), its
                // socket registered there.
                let socket = match socket.into_std() {
                    Ok(s) => s,
                    Err(e) => {
                        tracing::warn!(%peer, error = %e, "connection dropped: socket not movable");
                        continue;
                    }
                };
                connections.spawn_on(async move {
                    let result = match TcpStream::from_std(socket) {
                        Ok(socket) => connection(socket, &shared, standing).await,
                        Err(e) => Err(e),
                    };
                    if let Err(e) = result {
                        tracing::info!(%peer, error = %scrub(&e.to_string()), "connection ended with an error");
                    }
                }, &crate::published::query_runtime());
            }
        }
    }
    tracing::info!(%addr, open = connections.len(), "PostgreSQL endpoint stopping");
    connections.shutdown().await;
    Ok(())
}

/// What all connections share: one memory pool, the users, the settings.
struct Shared {
    runtime: Arc<RuntimeEnv>,
    users: Arc<auth::Users>,
    parameters: Arc<DefaultServerParameterProvider>,
    config: PgConfig,
}

/// What the server tells a client at startup: PostgreSQL 16, a read-only session of a
/// non-superuser.
fn server_parameters() -> DefaultServerParameterProvider {
    let mut p = DefaultServerParameterProvider::default();
    // JDBC, Npgsql and psql read the version from here at connect.
    p.server_version = compat::SERVER_VERSION.to_string();
    p.is_superuser = false;
    p.default_transaction_read_only = true;
    p
}

/// One connection: its own session, hooks and authentication state. Closed when it has
/// not authenticated within [`HANDSHAKE_DEADLINE`].
async fn connection(
    socket: TcpStream,
    shared: &Shared,
    standing: Arc<Standing>,
) -> std::result::Result<(), std::io::Error> {
    let user = compat::SessionUser::default();
    let ctx = session::context(shared.runtime.clone(), &shared.config.limits, &user)
        .map_err(std::io::Error::other)?;
    let published = Arc::new(tokio::sync::Mutex::new(session::Published::new(
        &shared.config.published_dir,
    )));
    let hooks: Vec<Arc<dyn QueryHook>> = vec![
        Arc::new(hooks::ReadOnly),
        Arc::new(as_of::SessionAsOf::new(published.clone())),
        // Before datafusion-postgres' SHOW, which reports DataFusion's version.
        Arc::new(compat::Show),
        Arc::new(compat::Savepoints),
        Arc::new(SetShowHook),
        Arc::new(TransactionStatementHook),
        Arc::new(hooks::Reads::new(published)),
    ];
    let handlers = Connection {
        service: Arc::new(checked::Checked::new(Arc::new(
            DfSessionService::new_with_hooks(Arc::new(ctx), hooks),
        ))),
        startup: Arc::new(admission::Gate {
            inner: Arc::new(
                SASLAuthStartupHandler::new(shared.parameters.clone())
                    .with_scram(ScramAuth::new(shared.users.clone())),
            ),
            standing: standing.clone(),
            user,
        }),
        errors: Arc::new(errors::Errors {
            limits: shared.config.limits.clone(),
        }),
    };
    let serving = datafusion_postgres::pgwire::tokio::process_socket(socket, None, handlers);
    let deadline = async {
        tokio::time::sleep(HANDSHAKE_DEADLINE).await;
        if standing.in_session() {
            // Authenticated in time: from here on only the client ends the connection.
            std::future::pending::<()>().await;
        }
    };
    tokio::select! {
        result = serving => result,
        () = deadline => {
            tracing::info!("connection closed: no authentication within the deadline");
            Ok(())
        }
    }
}

type Startup = admission::Gate<SASLAuthStartupHandler<DefaultServerParameterProvider>>;

struct Connection {
    service: Arc<checked::Checked>,
    startup: Arc<Startup>,
    errors: Arc<errors::Errors>,
}

impl PgWireServerHandlers for Connection {
    fn simple_query_handler(&self) -> Arc<impl SimpleQueryHandler> {
        self.service.clone()
    }

    fn extended_query_handler(&self) -> Arc<impl ExtendedQueryHandler> {
        self.service.clone()
    }

    fn startup_handler(&self) -> Arc<impl StartupHandler> {
        self.startup.clone()
    }

    fn error_handler(&self) -> Arc<impl ErrorHandler> {
        self.errors.clone()
    }
}
