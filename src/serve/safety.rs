//! Query safety: the per-request session over the published files only, the shared memory
//! pool without spilling, the timeout, and the mapping of query errors to status codes.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::http::StatusCode;
use axum::response::Response;
use datafusion::arrow::error::ArrowError;
use datafusion::common::TableReference;
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::error::DataFusionError;
use datafusion::execution::disk_manager::{DiskManagerBuilder, DiskManagerMode};
use datafusion::execution::runtime_env::{RuntimeEnv, RuntimeEnvBuilder};
use datafusion::execution::session_state::SessionStateBuilder;
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::coop::CooperativeExec;
use datafusion::prelude::{ParquetReadOptions, SessionConfig, SessionContext};

use super::encode::ApiError;
use super::{App, QueryLimits};
use crate::error::{Error, Result};

/// The runtime shared by every request: one memory pool of `limits.memory_bytes`.
pub(crate) fn runtime(limits: &QueryLimits) -> Result<Arc<RuntimeEnv>> {
    Ok(RuntimeEnvBuilder::new()
        .with_memory_limit(limits.memory_bytes, 1.0)
        // No spill files: a query over the limit fails instead of filling the disk, and
        // the API never writes anything.
        .with_disk_manager_builder(
            DiskManagerBuilder::default().with_mode(DiskManagerMode::Disabled),
        )
        .build_arc()?)
}

/// A fresh session in which every published view, and nothing else, is a table, with the
/// names of the views registered (sorted).
///
/// `partitions` is 1 for paged reads: a single partition scans the file in order, so
/// `offset` pages are stable without a sort.
pub(crate) async fn published_session(
    app: &App,
    partitions: usize,
) -> Result<(SessionContext, Vec<String>)> {
    let mut config = SessionConfig::new()
        .with_information_schema(false)
        .with_target_partitions(partitions);
    // Clients get the column types the publish step wrote (Utf8), not view types.
    config
        .options_mut()
        .execution
        .parquet
        .schema_force_view_types = false;
    let state = SessionStateBuilder::new()
        .with_config(config)
        .with_runtime_env(app.runtime.clone())
        .with_default_features()
        .with_physical_optimizer_rule(Arc::new(YieldEverywhere))
        .build();
    let ctx = SessionContext::new_with_state(state);
    super::bounded::bound_functions(&ctx, &app.runtime.memory_pool);
    let names = register_published(&ctx, published_files(&app.published_dir).await?).await;
    Ok((ctx, names))
}

/// Registers each `(view name, path)` of [`published_files`] in `ctx`; returns the names
/// registered. The one way the HTTP API and the PostgreSQL endpoint open published views.
pub(crate) async fn register_published(
    ctx: &SessionContext,
    files: Vec<(String, PathBuf)>,
) -> Vec<String> {
    let mut names = Vec::new();
    for (name, path) in files {
        let Some(url) = path.to_str() else { continue };
        // `bare`: a name is one identifier, never parsed as `schema.table`.
        match ctx
            .register_parquet(
                TableReference::bare(name.clone()),
                url,
                ParquetReadOptions::default(),
            )
            .await
        {
            Ok(()) => names.push(name),
            // One unreadable file must not take the other views offline.
            Err(e) => tracing::warn!(view = %name, error = %e, "published file skipped"),
        }
    }
    names
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

/// `(view name, absolute path)` of every `<name>.parquet` in `dir`, sorted by name.
///
/// Names are limited to lowercase letters, digits and `_` (what SQL reaches without
/// quoting); temporary files of the atomic writer start with `.` and are skipped.
pub(crate) async fn published_files(dir: &Path) -> Result<Vec<(String, PathBuf)>> {
    let abs = tokio::fs::canonicalize(dir)
        .await
        .map_err(|e| Error::io(dir, e))?;
    let mut entries = tokio::fs::read_dir(&abs)
        .await
        .map_err(|e| Error::io(&abs, e))?;
    let mut out = Vec::new();
    while let Some(entry) = entries.next_entry().await.map_err(|e| Error::io(&abs, e))? {
        let path = entry.path();
        let Some(file) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        let Some(stem) = file.strip_suffix(".parquet") else {
            continue;
        };
        let valid = stem.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
            && stem
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if !valid {
            if !file.starts_with('.') {
                tracing::warn!(
                    file,
                    "published file skipped: name is not a plain identifier"
                );
            }
            continue;
        }
        if entry.file_type().await.is_ok_and(|t| t.is_file()) {
            out.push((stem.to_string(), path));
        }
    }
    out.sort();
    Ok(out)
}

/// Stack of each thread of [`query_runtime`]. Planning, optimizing and evaluating walk
/// expression trees recursively, partly without DataFusion's stack growth (dropping,
/// cloning, comparing, evaluating); `serve::guard` bounds the depth, and this leaves
/// room for it even in a debug build. Only the pages a query touches are committed.
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

/// Runs `work` in its own task on the [`query_runtime`] under the request timeout.
///
/// The task is aborted when the time is up (DataFusion's operators yield cooperatively,
/// so the abort takes effect), and a panic inside it becomes a 500, not a dropped
/// connection.
pub(crate) async fn run_limited<F>(app: &App, work: F) -> Response
where
    F: Future<Output = Result<Response, ApiError>> + Send + 'static,
{
    use axum::response::IntoResponse;
    let timeout = app.limits.timeout;
    let mut task = query_runtime().spawn(work);
    match tokio::time::timeout(timeout, &mut task).await {
        Ok(Ok(Ok(resp))) => resp,
        Ok(Ok(Err(e))) => e.into_response(),
        Ok(Err(join)) => {
            tracing::error!(error = %join, "query task failed");
            ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
        }
        Err(_) => {
            task.abort();
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                format!(
                    "query cancelled: it ran longer than the limit of {} ms; narrow it with filters or aggregation",
                    timeout.as_millis()
                ),
            )
            .into_response()
        }
    }
}

/// Maps a library error to an answer: the client's mistakes are 400 with DataFusion's
/// message, a query over the memory limit is 413, anything else is 500 with the detail
/// only in the log (it may name server paths).
pub(crate) fn api_error(e: Error, limits: &QueryLimits) -> ApiError {
    match e {
        Error::Query(df) => query_error(df, limits),
        Error::Io { .. } => {
            tracing::warn!(error = %e, "published views not readable");
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "the published views are not readable right now",
            )
        }
        other => internal(&other),
    }
}

fn query_error(e: DataFusionError, limits: &QueryLimits) -> ApiError {
    match e.find_root() {
        DataFusionError::ResourcesExhausted(_) => ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "query needs more memory than the limit of {} bytes; narrow it with filters, fewer columns or aggregation ({})",
                limits.memory_bytes,
                e.strip_backtrace()
            ),
        ),
        DataFusionError::Plan(msg) if is_refused_statement(msg) => ApiError::bad_request(format!(
            "only read-only queries (SELECT, WITH, VALUES) are allowed: {msg}"
        )),
        DataFusionError::Plan(_)
        | DataFusionError::SQL(..)
        | DataFusionError::SchemaError(..)
        | DataFusionError::NotImplemented(_)
        | DataFusionError::Execution(_) => ApiError::bad_request(e.strip_backtrace()),
        // Casts, overflow, division by zero: the query's fault. I/O is the server's.
        DataFusionError::ArrowError(a, _)
            if !matches!(**a, ArrowError::IoError(..) | ArrowError::ExternalError(_)) =>
        {
            ApiError::bad_request(e.strip_backtrace())
        }
        _ => internal(&e),
    }
}

/// The messages of [`datafusion::execution::context::SQLOptions::verify_plan`].
fn is_refused_statement(msg: &str) -> bool {
    [
        "DDL not supported",
        "DML not supported",
        "Statement not supported",
    ]
    .iter()
    .any(|p| msg.starts_with(p))
}

fn internal(e: &dyn std::fmt::Display) -> ApiError {
    // Error texts quote the client's literals: logged like everything a client sends.
    tracing::error!(error = %crate::normalize::personnummer::scrub(&e.to_string()), "request failed");
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal error; see the server log",
    )
}
