//! The session of one connection: the published views as tables of `malgrupp.public`,
//! the pg_catalog emulation, information_schema and the compatibility functions
//! (`compat`) for the clients' catalog queries, the
//! shared memory pool without spilling, and the row and time limits in every plan.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use datafusion::common::TableReference;
use datafusion::execution::runtime_env::RuntimeEnv;
use datafusion::execution::session_state::SessionStateBuilder;
use datafusion::prelude::{SessionConfig, SessionContext};
use datafusion_postgres::datafusion_pg_catalog::pg_catalog::context::EmptyContextProvider;
use datafusion_postgres::datafusion_pg_catalog::pg_catalog::setup_pg_catalog;

use super::compat::{self, SessionUser};
use super::limits::EnforceLimits;
use crate::error::{Error, Result};
use crate::serve::QueryLimits;
use crate::serve::bounded::bound_functions;
use crate::serve::safety::{YieldEverywhere, published_files, register_published};

/// The catalog (PostgreSQL's database) the views are in: `current_database()`.
pub(crate) const CATALOG: &str = "malgrupp";
/// The schema the views are in.
pub(crate) const SCHEMA: &str = "public";

/// A new session without views (see [`Published::refresh`]) for the connection whose
/// authenticated user `user` will hold.
pub(crate) fn context(
    runtime: Arc<RuntimeEnv>,
    limits: &QueryLimits,
    user: &SessionUser,
) -> Result<SessionContext> {
    // information_schema on: BI tools list tables and columns through it.
    let mut config = SessionConfig::new()
        .with_information_schema(true)
        .with_default_catalog_and_schema(CATALOG, SCHEMA)
        .with_target_partitions(2);
    // Clients get the column types the publish step wrote (Utf8, not Utf8View).
    config
        .options_mut()
        .execution
        .parquet
        .schema_force_view_types = false;
    let pool = runtime.memory_pool.clone();
    let state = SessionStateBuilder::new()
        .with_config(config)
        .with_runtime_env(runtime)
        .with_default_features()
        .with_physical_optimizer_rule(Arc::new(YieldEverywhere))
        // Last: nothing may be placed above the limits.
        .with_physical_optimizer_rule(Arc::new(EnforceLimits::new(limits)))
        .build();
    let ctx = SessionContext::new_with_state(state);
    setup_pg_catalog(&ctx, CATALOG, EmptyContextProvider).map_err(|e| Error::Query(*e))?;
    // After the catalog emulation, whose functions of the same names they replace.
    compat::register(&ctx, user);
    // After both, so nothing registers an unbounded function again.
    bound_functions(&ctx, &pool);
    Ok(ctx)
}

/// What the published folder held when the session's tables were last registered.
#[derive(Debug, Default)]
pub(crate) struct Published {
    dir: PathBuf,
    /// `(name, modified, length)` of every registered file, sorted by name.
    seen: Option<Vec<(String, Option<SystemTime>, u64)>>,
}

impl Published {
    pub(crate) fn new(dir: &Path) -> Self {
        Published {
            dir: dir.to_path_buf(),
            seen: None,
        }
    }

    /// Makes the session's tables the published views on disk now: the first time, and
    /// whenever a file was added, removed or replaced since (the publish step replaces
    /// files atomically, so a connection kept open for days still sees the new views).
    pub(crate) async fn refresh(&mut self, ctx: &SessionContext) -> Result<()> {
        let files = published_files(&self.dir).await?;
        let mut now = Vec::with_capacity(files.len());
        for (name, path) in &files {
            let meta = tokio::fs::metadata(path).await.ok();
            now.push((
                name.clone(),
                meta.as_ref().and_then(|m| m.modified().ok()),
                meta.map_or(0, |m| m.len()),
            ));
        }
        if self.seen.as_ref() == Some(&now) {
            return Ok(());
        }
        if let Some(old) = &self.seen {
            for (name, _, _) in old {
                ctx.deregister_table(TableReference::bare(name.clone()))?;
            }
        }
        let registered = register_published(ctx, files).await;
        // A file that could not be registered is tried again at the next refresh.
        now.retain(|(n, _, _)| registered.contains(n));
        self.seen = Some(now);
        Ok(())
    }
}
