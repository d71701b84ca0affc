//! PostgreSQL compatibility for drivers and BI tools: what they call at connect and while
//! they introspect the catalog, beyond (or instead of) datafusion-postgres' `pg_catalog`
//! emulation. Found by running the drivers (psql, psycopg/SQLAlchemy, JDBC, node-postgres)
//! against the endpoint, not by guessing; `docs/bi.md` lists what each one needs.
//!
//! - `settings`: the version the endpoint reports (`version()`, `server_version`,
//!   `server_version_num`) and the read-only settings behind `current_setting()` and
//!   `SHOW`.
//! - `functions`: catalog functions answered truthfully for this endpoint
//!   (`pg_get_userbyid` and `session_user` name the authenticated user, the
//!   `has_*_privilege` family grants reading only, comments are absent).
//! - `json`: `json_build_object`, bounded like the string functions.
//! - `concat`: the `||` operator evaluated by a bounded, NULL-strict function.
//! - `savepoint`: `SAVEPOINT`, `RELEASE`, `ROLLBACK TO` acknowledged (nothing to keep).
//! - `rewrite`: SQL forms DataFusion does not plan (`ARRAY(subquery)`), rewritten before
//!   planning.
//!
//! Nothing here widens what a client may do: the statement allowlist (`hooks`) and the
//! plan check with `SQLOptions` come after these and are unchanged.

mod concat;
mod functions;
mod json;
mod rewrite;
mod savepoint;
mod settings;

use std::sync::{Arc, OnceLock};

use datafusion::prelude::SessionContext;

pub(crate) use concat::bounded_concat_operator;
pub(crate) use rewrite::rewrite_statement;
pub(crate) use savepoint::Savepoints;
pub(crate) use settings::{SERVER_VERSION, Show, show_plan, show_response};

/// The user a connection authenticated as: set once by the startup handler when the
/// password was accepted, read by `session_user()` and `pg_get_userbyid()`.
#[derive(Debug, Clone, Default)]
pub(crate) struct SessionUser(Arc<OnceLock<String>>);

impl SessionUser {
    /// Records the authenticated user (the first call wins: a connection never changes
    /// its user).
    pub(crate) fn set(&self, name: &str) {
        let _ = self.0.set(name.to_string());
    }

    /// The authenticated user; empty before authentication, when no query can run.
    pub(crate) fn name(&self) -> &str {
        self.0.get().map_or("", String::as_str)
    }
}

/// Registers the compatibility functions in `ctx`, after datafusion-postgres' catalog
/// emulation (whose functions of the same name they replace) and before
/// `published::bounded` wraps the growing ones (`textcat` behind `||`, `json_build_object`).
pub(crate) fn register(ctx: &SessionContext, user: &SessionUser) {
    settings::register(ctx);
    functions::register(ctx, user);
    json::register(ctx);
    concat::register(ctx);
}
