//! The optional webhook: a JSON POST when a pipeline run fails (or is blocked by a
//! quality gate) and when a pipeline succeeds again after a failure; and under `serve`
//! when a refresh has problems (committing the lake or the published views to their
//! Delta copies, publishing) or the lake's copy cannot be looked in, and when that
//! works again.
//!
//! The URL comes from an environment variable (`[serve] webhook_env`, default
//! `MALGRUPP_WEBHOOK_URL`) because chat and incident webhooks carry their secret in the
//! URL. The body is small and generic (`event`, `pipeline`, `status`, `error`, counts) so
//! that any receiver — a chat bridge, an incident tool — can map it. A webhook that fails
//! is logged and never fails the run.

use std::time::Duration;

use crate::config::Settings;
use crate::pipeline::RunReport;

/// Where notifications go.
#[derive(Debug, Clone)]
pub struct Webhook {
    url: String,
    client: reqwest::Client,
}

impl Webhook {
    /// The webhook configured in the environment, if any.
    pub fn from_settings(settings: &Settings, client: reqwest::Client) -> Option<Webhook> {
        let url = std::env::var(&settings.serve.webhook_env).ok()?;
        let url = url.trim().to_string();
        (!url.is_empty()).then_some(Webhook { url, client })
    }

    /// Sends `event` (`failure` or `recovery`) for `report`; errors are only logged.
    pub async fn notify(&self, event: &str, report: &RunReport) {
        let body = serde_json::json!({
            "event": event,
            "pipeline": report.pipeline,
            "status": report.status,
            "error": report.error,
            "rows_in": report.rows_in,
            "rows_written": report.rows_written,
            "rows_quarantined": report.rows_quarantined,
            "duration_ms": report.duration.as_millis() as u64,
            "text": match event {
                "recovery" => format!("malgrupp: {} is running again ({})", report.pipeline, report.status),
                _ => format!("malgrupp: {} {}: {}", report.pipeline, report.status, report.error.as_deref().unwrap_or("")),
            },
        });
        self.post(event, &report.pipeline, body).await;
    }

    /// Sends `event` about the service's own upkeep, which no pipeline's run reports:
    /// `refresh_failure` (every refresh with problems: a commit to a Delta copy, or
    /// publishing), `refresh_recovery` (the first refresh without after one),
    /// `poll_failure` (the lake's copy could not be looked in, after it could) and
    /// `poll_recovery`. `problems` are what went wrong (empty for a recovery).
    pub async fn notify_service(&self, event: &str, problems: &[String]) {
        let text = match event {
            "refresh_recovery" => {
                "malgrupp: the views are refreshed and committed again".to_string()
            }
            "poll_recovery" => "malgrupp: the lake's copy can be looked in again".to_string(),
            _ => format!("malgrupp: {event}: {}", problems.join("; ")),
        };
        let body = serde_json::json!({
            "event": event,
            "pipeline": serde_json::Value::Null,
            "status": if problems.is_empty() { "ok" } else { "failed" },
            "problems": problems,
            "text": text,
        });
        self.post(event, "", body).await;
    }

    /// POSTs `body`; a failure is logged, never raised.
    async fn post(&self, event: &str, pipeline: &str, body: serde_json::Value) {
        // Only the host is ever logged: such URLs carry their secret in the path.
        let host = reqwest::Url::parse(&self.url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_string))
            .unwrap_or_default();
        // `send` shows its second argument in errors and retry logs: the host only.
        let shown = format!("webhook at {host}");
        let result =
            crate::source::http::send("webhook", &shown, Duration::from_secs(10), 2, || {
                self.client
                    .post(&self.url)
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .body(body.to_string())
            })
            .await;
        match result {
            Ok(_) => {
                tracing::info!(event, pipeline, host = %host, "webhook called")
            }
            Err(crate::error::Error::Source { message, .. }) => {
                tracing::warn!(event, pipeline, host = %host, error = %message, "webhook failed");
            }
            Err(e) => {
                tracing::warn!(event, pipeline, host = %host, error = %e, "webhook failed")
            }
        }
    }
}
