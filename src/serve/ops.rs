//! The operations endpoints that exist when `serve` also runs the pipelines: Prometheus
//! `/metrics`, `GET /api/v1/status` and `POST /api/v1/runs/{pipeline}` (start a run now).
//!
//! The HTTP layer knows the service only through [`Operations`], so the API can also be
//! served over a lake that another process fills (then these routes answer 404).

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::App;
use super::encode::ApiError;

/// What the running service offers the HTTP layer.
pub trait Operations: Send + Sync {
    /// Prometheus text exposition.
    fn metrics(&self) -> String;
    /// `malgrupp status` as JSON.
    fn status(&self) -> serde_json::Value;
    /// Starts a run of `pipeline` in the background; `Err` with a message when there is
    /// no such pipeline, a run of it is queued or running, or the service is shutting
    /// down.
    fn trigger(&self, pipeline: &str) -> Result<(), TriggerError>;
    /// Ready: start-up catch-up is done and the scheduler runs.
    fn ready(&self) -> bool;
}

/// Why a run could not be started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TriggerError {
    /// No valid pipeline has that name.
    Unknown(String),
    /// The service is shutting down.
    ShuttingDown,
    /// A run of the pipeline is queued or running already; nothing was started.
    Busy(String),
}

fn unavailable() -> Response {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "this server does not run pipelines (serve without the scheduler)",
    )
    .into_response()
}

/// `GET /metrics`.
pub(crate) async fn metrics(State(app): State<Arc<App>>) -> Response {
    match &app.operations {
        Some(ops) => (
            [(
                header::CONTENT_TYPE,
                "text/plain; version=0.0.4; charset=utf-8",
            )],
            ops.metrics(),
        )
            .into_response(),
        None => unavailable(),
    }
}

/// `GET /api/v1/status`.
pub(crate) async fn status(State(app): State<Arc<App>>) -> Response {
    match &app.operations {
        Some(ops) => Json(ops.status()).into_response(),
        None => unavailable(),
    }
}

/// `POST /api/v1/runs/{pipeline}`: 202 when started, 409 (and nothing recorded) while
/// a run of the pipeline is queued or running.
pub(crate) async fn trigger(State(app): State<Arc<App>>, Path(pipeline): Path<String>) -> Response {
    let Some(ops) = &app.operations else {
        return unavailable();
    };
    match ops.trigger(&pipeline) {
        Ok(()) => (
            StatusCode::ACCEPTED,
            Json(serde_json::json!({
                "pipeline": pipeline,
                "started": true,
                "status": "/api/v1/status",
            })),
        )
            .into_response(),
        Err(TriggerError::Unknown(m)) => ApiError::new(StatusCode::NOT_FOUND, m).into_response(),
        Err(TriggerError::Busy(m)) => ApiError::new(StatusCode::CONFLICT, m).into_response(),
        Err(TriggerError::ShuttingDown) => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "the service is shutting down",
        )
        .into_response(),
    }
}

/// `GET /api/v1/reports/{kommun}/{period}?format=html|md|xlsx`: the Bilaga 1 report from
/// the published views (HTML by default, self-contained, viewable offline).
pub(crate) async fn report(
    State(app): State<Arc<App>>,
    Path((kommun, period)): Path<(String, String)>,
    axum::extract::Query(q): axum::extract::Query<std::collections::HashMap<String, String>>,
) -> Response {
    let Some(settings) = &app.report_settings else {
        return ApiError::new(
            StatusCode::NOT_FOUND,
            "reports are not configured on this server",
        )
        .into_response();
    };
    let format: crate::report::ReportFormat =
        match q.get("format").map_or("html", String::as_str).parse() {
            Ok(f) => f,
            Err(e) => return ApiError::bad_request(e.to_string()).into_response(),
        };
    let rendered = tokio::time::timeout(
        app.limits.timeout,
        crate::report::load::build(settings, &kommun, &period, format),
    )
    .await;
    let (mime, name) = match format {
        crate::report::ReportFormat::Html => ("text/html; charset=utf-8", None),
        crate::report::ReportFormat::Md => ("text/markdown; charset=utf-8", None),
        crate::report::ReportFormat::Xlsx => (
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            Some(format!(
                "attachment; filename=\"bilaga1_{kommun}_{period}.xlsx\""
            )),
        ),
    };
    match rendered {
        Ok(Ok(bytes)) => {
            let mut resp = ([(header::CONTENT_TYPE, mime)], bytes).into_response();
            if let Some(v) = name.and_then(|n| header::HeaderValue::from_str(&n).ok()) {
                resp.headers_mut().insert(header::CONTENT_DISPOSITION, v);
            }
            resp
        }
        Ok(Err(crate::error::Error::Usage(p))) => {
            ApiError::bad_request(p.to_string().trim()).into_response()
        }
        Ok(Err(crate::error::Error::NotFound(what))) => {
            ApiError::new(StatusCode::NOT_FOUND, what).into_response()
        }
        Ok(Err(e)) => {
            tracing::error!(error = %e, "report failed");
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the report could not be rendered",
            )
            .into_response()
        }
        Err(_) => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "the report took longer than the query timeout",
        )
        .into_response(),
    }
}
