//! The session of one connection: the published views (`published`, or the set live
//! at the session's `SET malgrupp.as_of`) as tables of `malgrupp.public`, re-registered
//! whenever the publish step replaced them, with the
//! pg_catalog emulation, information_schema and the compatibility functions (`compat`)
//! for the clients' catalog queries, and the row and time limits in every plan.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use datafusion::common::TableReference;
use datafusion::execution::runtime_env::RuntimeEnv;
use datafusion::prelude::SessionContext;
use datafusion_postgres::datafusion_pg_catalog::pg_catalog::context::EmptyContextProvider;
use datafusion_postgres::datafusion_pg_catalog::pg_catalog::setup_pg_catalog;

use super::compat::{self, SessionUser};
use super::limits::EnforceLimits;
use crate::error::{Error, Result};
use crate::lake::Lake;
use crate::publish::generation;
use crate::published::{self, QueryLimits, Session, Set};

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
    Session::shared(runtime)
        .partitions(2)
        // BI tools list tables and columns through it.
        .information_schema()
        .catalog(CATALOG, SCHEMA)
        // Last: nothing may be placed above the limits.
        .last_rule(Arc::new(EnforceLimits::new(limits)))
        .extend(|ctx| {
            setup_pg_catalog(ctx, CATALOG, EmptyContextProvider).map_err(|e| Error::Query(*e))?;
            // After the catalog emulation, whose functions of the same names they replace.
            compat::register(ctx, user);
            Ok(())
        })
        .build()
}

/// What the published folder held when the session's tables were last registered.
#[derive(Debug, Default)]
pub(crate) struct Published {
    dir: PathBuf,
    /// The moment whose set the session reads (`SET malgrupp.as_of`); `None`: the current.
    as_of: Option<DateTime<Utc>>,
    /// The views registered, as they were on disk then; `None` also after `as_of` changed.
    seen: Option<Set>,
    /// The views registered in the session, to be replaced at the next refresh.
    registered: Vec<String>,
}

impl Published {
    pub(crate) fn new(dir: &Path) -> Self {
        Published {
            dir: dir.to_path_buf(),
            ..Published::default()
        }
    }

    /// The moment whose set the session reads (`None`: the current).
    pub(crate) fn as_of(&self) -> Option<DateTime<Utc>> {
        self.as_of
    }

    /// Reads the set published at `at` from the next statement on (`None`: the current).
    pub(crate) fn set_as_of(&mut self, at: Option<DateTime<Utc>>) {
        if self.as_of != at {
            self.as_of = at;
            self.seen = None;
        }
    }

    /// The published set the session reads: the link, or the generation live at `as_of`
    /// (`NotFound` when none kept was).
    fn set_dir(&self) -> Result<PathBuf> {
        let Some(at) = self.as_of else {
            return Ok(self.dir.clone());
        };
        let lake = Lake::new(self.dir.parent().unwrap_or(Path::new("")));
        generation::as_of(&lake, at)?.ok_or_else(|| {
            Error::NotFound(format!(
                "nothing published as of {at} is kept (replaced sets are kept for [publish] keep_days); SET malgrupp.as_of = DEFAULT reads the current one"
            ))
        })
    }

    /// Makes the session's tables the published views on disk now: the first time, and
    /// whenever a file was added, removed or replaced since (the publish step replaces
    /// files atomically, so a connection kept open for days still sees the new views).
    pub(crate) async fn refresh(&mut self, ctx: &SessionContext) -> Result<()> {
        let mut now = published::open(&self.set_dir()?).await?;
        // A new generation has new paths: only names, times and lengths tell a change.
        let stamps = |set: &Set| {
            set.views
                .iter()
                .map(|v| (v.name.clone(), v.modified, v.len))
                .collect::<Vec<_>>()
        };
        if self.seen.as_ref().map(stamps) == Some(stamps(&now)) {
            return Ok(());
        }
        for name in self.registered.drain(..) {
            ctx.deregister_table(TableReference::bare(name))?;
        }
        let registered = now.register(ctx).await;
        // A file that could not be registered is tried again at the next refresh.
        now.views.retain(|v| registered.contains(&v.name));
        self.registered = now.views.iter().map(|v| v.name.clone()).collect();
        self.seen = Some(now);
        Ok(())
    }
}
