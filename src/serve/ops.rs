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
    /// no such pipeline or the service is shutting down.
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

/// `POST /api/v1/runs/{pipeline}`: 202 when started.
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
        Err(TriggerError::ShuttingDown) => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "the service is shutting down",
        )
        .into_response(),
    }
}
