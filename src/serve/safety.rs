//! Query safety over HTTP: the per-request session over the published views
//! (`published`), the timeout around a request, and the mapping of query errors to
//! status codes.

use std::future::Future;
use std::path::{Path, PathBuf};

use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::Response;
use chrono::SecondsFormat;
use datafusion::arrow::error::ArrowError;
use datafusion::error::DataFusionError;
use datafusion::prelude::SessionContext;

use super::encode::ApiError;
use super::{App, QueryLimits};
use crate::error::{Error, Result};
use crate::lake::Lake;
use crate::publish::generation;
use crate::published::guard::is_refused_statement;
use crate::published::{self, LimitExceeded, Session, query_runtime};

/// A fresh session of one request in which every published view, and nothing else, is
/// a table, with the names of the views registered (sorted).
///
/// `partitions` is 1 for paged reads: a single partition scans the file in order, so
/// `offset` pages are stable without a sort.
pub(crate) async fn published_session(
    app: &App,
    partitions: usize,
    dir: &Path,
) -> Result<(SessionContext, Vec<String>)> {
    let session = Session::shared(app.runtime.clone()).partitions(partitions);
    let (ctx, set) = published::open_session(dir, session).await?;
    Ok((ctx, set.names()))
}

/// The published set a request reads: the current one, or with `as_of` (a time, or a
/// date meaning the end of that day in Swedish time) the set that was live then, among
/// the generations kept beside the `published` link (`[publish] keep_days`).
pub(crate) fn published_set(app: &App, as_of: Option<&str>) -> Result<PathBuf, ApiError> {
    let Some(text) = as_of else {
        // The generation the link points to now, resolved once: the rows and the
        // `x-published-at` of one answer come from the same publish.
        return Ok(
            std::fs::canonicalize(&app.published_dir).unwrap_or_else(|_| app.published_dir.clone())
        );
    };
    let at =
        crate::lake::as_of::time(text).map_err(|e| ApiError::bad_request(format!("as_of: {e}")))?;
    let lake = Lake::new(app.published_dir.parent().unwrap_or(Path::new("")));
    match generation::as_of(&lake, at) {
        Ok(Some(dir)) => Ok(dir),
        Ok(None) => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!(
                "nothing published as of {at} is kept (replaced sets are kept for [publish] keep_days)"
            ),
        )),
        Err(e) => Err(api_error(e, &app.limits)),
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
                LimitExceeded::Time(timeout).to_string(),
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
            limits.memory_exceeded(&e.strip_backtrace()),
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

fn internal(e: &dyn std::fmt::Display) -> ApiError {
    // Error texts quote the client's literals: logged like everything a client sends.
    tracing::error!(error = %crate::normalize::personnummer::scrub(&e.to_string()), "request failed");
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal error; see the server log",
    )
}

/// Tells the client when the set that answered was published (`x-published-at`, RFC
/// 3339), where the set notes it.
pub(crate) fn stamp(mut resp: Response, dir: &Path) -> Response {
    let at = generation::published_at(dir)
        .and_then(|t| HeaderValue::from_str(&t.to_rfc3339_opts(SecondsFormat::Millis, true)).ok());
    if let Some(at) = at {
        resp.headers_mut()
            .insert(HeaderName::from_static(PUBLISHED_AT), at);
    }
    resp
}

/// The header naming when the answering set was published.
pub(crate) const PUBLISHED_AT: &str = "x-published-at";
