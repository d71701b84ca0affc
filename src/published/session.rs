//! The DataFusion session every reader of the published views queries in, with the
//! safety options: the column types the publish step wrote, every operator yielding,
//! the growing functions bounded, and — for the servers — one shared memory pool
//! without spilling and threads with large stacks.

use std::sync::Arc;

use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::execution::disk_manager::{DiskManagerBuilder, DiskManagerMode};
use datafusion::execution::runtime_env::{RuntimeEnv, RuntimeEnvBuilder};
use datafusion::execution::session_state::SessionStateBuilder;
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::coop::CooperativeExec;
use datafusion::prelude::{SessionConfig, SessionContext};

use super::QueryLimits;
use super::bounded::bound_functions;
use crate::error::Result;

/// The runtime shared by every client query: one memory pool of `limits.memory_bytes`.
pub fn runtime(limits: &QueryLimits) -> Result<Arc<RuntimeEnv>> {
    Ok(RuntimeEnvBuilder::new()
        .with_memory_limit(limits.memory_bytes, 1.0)
        // No spill files: a query over the limit fails instead of filling the disk, and
        // the servers never write anything.
        .with_disk_manager_builder(
            DiskManagerBuilder::default().with_mode(DiskManagerMode::Disabled),
        )
        .build_arc()?)
}

/// Something a transport adds to a session before the growing functions are bounded
/// (the PostgreSQL endpoint's catalog emulation, whose functions must be bounded too).
type Extension<'a> = Box<dyn FnOnce(&SessionContext) -> Result<()> + Send + 'a>;

/// How to make a session over the published views: [`Session::local`] for a command
/// run by the operator, [`Session::shared`] for the servers' clients.
pub struct Session<'a> {
    runtime: Option<Arc<RuntimeEnv>>,
    partitions: usize,
    information_schema: bool,
    catalog: Option<(&'static str, &'static str)>,
    last_rule: Option<Arc<dyn PhysicalOptimizerRule + Send + Sync>>,
    extension: Option<Extension<'a>>,
}

impl<'a> Session<'a> {
    /// A session for the operator's own commands (`export`, `report`): DataFusion's
    /// default runtime, two partitions.
    pub fn local() -> Self {
        Session {
            runtime: None,
            partitions: 2,
            information_schema: false,
            catalog: None,
            last_rule: None,
            extension: None,
        }
    }

    /// A session for a client of a server: every query of it allocates from `runtime`'s
    /// pool (see [`runtime`]).
    pub fn shared(runtime: Arc<RuntimeEnv>) -> Self {
        Session {
            runtime: Some(runtime),
            ..Session::local()
        }
    }

    /// Target partitions: 1 scans a file in order, so `offset` pages are stable
    /// without a sort.
    pub fn partitions(mut self, n: usize) -> Self {
        self.partitions = n;
        self
    }

    /// information_schema, which BI tools list tables and columns through.
    pub fn information_schema(mut self) -> Self {
        self.information_schema = true;
        self
    }

    /// The default catalog and schema the views are registered in.
    pub fn catalog(mut self, catalog: &'static str, schema: &'static str) -> Self {
        self.catalog = Some((catalog, schema));
        self
    }

    /// A physical optimizer rule that must run last, so nothing is placed above it.
    pub fn last_rule(mut self, rule: Arc<dyn PhysicalOptimizerRule + Send + Sync>) -> Self {
        self.last_rule = Some(rule);
        self
    }

    /// Functions or tables a transport registers before the growing functions are
    /// bounded, so nothing registers an unbounded function again after that.
    pub fn extend(mut self, f: impl FnOnce(&SessionContext) -> Result<()> + Send + 'a) -> Self {
        self.extension = Some(Box::new(f));
        self
    }

    /// The session, without views yet (`super::Set::register` adds them).
    pub fn build(self) -> Result<SessionContext> {
        let mut config = SessionConfig::new()
            .with_information_schema(self.information_schema)
            .with_target_partitions(self.partitions);
        if let Some((catalog, schema)) = self.catalog {
            config = config.with_default_catalog_and_schema(catalog, schema);
        }
        // Readers get the column types the publish step wrote (Utf8), not view types.
        config
            .options_mut()
            .execution
            .parquet
            .schema_force_view_types = false;
        // A client's SQL is bounded; the operator's own commands run fixed queries.
        let bounded = self.runtime.is_some();
        let runtime = match self.runtime {
            Some(r) => r,
            None => RuntimeEnvBuilder::new().build_arc()?,
        };
        let pool = runtime.memory_pool.clone();
        let mut state = SessionStateBuilder::new()
            .with_config(config)
            .with_runtime_env(runtime)
            .with_default_features()
            .with_physical_optimizer_rule(Arc::new(YieldEverywhere));
        if let Some(rule) = self.last_rule {
            state = state.with_physical_optimizer_rule(rule);
        }
        let ctx = SessionContext::new_with_state(state.build());
        if let Some(extend) = self.extension {
            extend(&ctx)?;
        }
        if bounded {
            bound_functions(&ctx, &pool);
        }
        Ok(ctx)
    }
}

/// Makes every operator of a plan yield to the scheduler, not only the scans.
///
/// DataFusion makes the leaves cooperative, but an operator that produces many batches
/// per input batch (a cross join of two series) then never returns `Pending`, and a task
/// that never yields can be neither timed out nor aborted: it would keep a worker thread
/// forever. Wrapping each operator costs one budget check per batch.
#[derive(Debug)]
pub(crate) struct YieldEverywhere;

impl PhysicalOptimizerRule for YieldEverywhere {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        _config: &ConfigOptions,
    ) -> datafusion::error::Result<Arc<dyn ExecutionPlan>> {
        plan.transform_up(|node| {
            if node.children().is_empty() || node.downcast_ref::<CooperativeExec>().is_some() {
                Ok(Transformed::no(node))
            } else {
                Ok(Transformed::yes(
                    Arc::new(CooperativeExec::new(node)) as Arc<dyn ExecutionPlan>
                ))
            }
        })
        .map(|t| t.data)
    }

    fn name(&self) -> &str {
        "malgrupp_yield_everywhere"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

/// Stack of each thread of [`query_runtime`]. Planning, optimizing and evaluating walk
/// expression trees recursively, partly without DataFusion's stack growth (dropping,
/// cloning, comparing, evaluating); `guard` bounds the depth, and this leaves room for
/// it even in a debug build. Only the pages a query touches are committed.
const QUERY_STACK_BYTES: usize = 64 * 1024 * 1024;

/// The runtime client queries run on, over both protocols: threads with a large stack
/// ([`QUERY_STACK_BYTES`]), so that a deep expression within the limits cannot
/// overflow a stack and abort the process, scheduler and all. The caller's runtime
/// when it cannot be built (the error is logged).
pub(crate) fn query_runtime() -> tokio::runtime::Handle {
    static RUNTIME: std::sync::OnceLock<Option<tokio::runtime::Runtime>> =
        std::sync::OnceLock::new();
    let built = RUNTIME.get_or_init(|| {
        let threads = std::thread::available_parallelism().map_or(2, |n| n.get().max(2));
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .thread_name("malgrupp-query")
            .thread_stack_size(QUERY_STACK_BYTES)
            .enable_all()
            .build()
            .inspect_err(
                |e| tracing::error!(error = %e, "no query runtime; queries run on the main one"),
            )
            .ok()
    });
    match built {
        Some(runtime) => runtime.handle().clone(),
        None => tokio::runtime::Handle::current(),
    }
}
