//! HTTP(S) sources: the shared client, retries with exponential backoff and jitter.
//!
//! Transient failures (timeouts, connection errors, 5xx, 429) are retried; `Retry-After`
//! on a 429 or 503 is honoured (capped). Other 4xx fail at once. Header secrets are read
//! from the environment at request time and never logged; URLs are logged without their
//! query string, which may carry tokens.

use std::time::Duration;

use reqwest::StatusCode;

use super::Extract;
use crate::config::pipeline::HeaderValue;
use crate::error::{Error, Result};

/// The one HTTP client of the process.
pub fn client() -> Result<reqwest::Client> {
    reqwest::Client::builder()
        .user_agent(concat!("malgrupp/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(Duration::from_secs(15))
        .build()
        .map_err(|e| Error::Internal(format!("cannot build the HTTP client: {e}")))
}

/// GETs `url`, retrying transient failures up to `retries` times.
pub async fn get(
    client: &reqwest::Client,
    pipeline: &str,
    url: &str,
    timeout: Duration,
    retries: u32,
    headers: &[(String, HeaderValue)],
) -> Result<Extract> {
    let shown = url.split('?').next().unwrap_or(url).to_string();
    let fail = |message: String, transient: bool| Error::Source {
        pipeline: pipeline.into(),
        location: shown.clone(),
        message,
        transient,
    };
    let mut attempt = 0;
    loop {
        let mut req = client.get(url).timeout(timeout);
        for (name, value) in headers {
            let v = match value {
                HeaderValue::Literal(v) => v.clone(),
                HeaderValue::Env { var, prefix } => format!(
                    "{prefix}{}",
                    std::env::var(var).map_err(|_| fail(
                        format!("header {name}: environment variable {var} is not set"),
                        false
                    ))?
                ),
            };
            req = req.header(name, v);
        }
        let (error, wait) = match req.send().await {
            Ok(resp) if resp.status().is_success() => {
                let bytes = resp
                    .bytes()
                    .await
                    .map_err(|e| fail(format!("reading the body: {e}"), true))?;
                let name = shown
                    .rsplit('/')
                    .next()
                    .filter(|s| !s.is_empty())
                    .unwrap_or("download")
                    .to_string();
                return Ok(Extract {
                    name,
                    location: shown,
                    bytes: bytes.to_vec(),
                });
            }
            Ok(resp) => {
                let status = resp.status();
                let retry_after = resp
                    .headers()
                    .get(reqwest::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|s| s.trim().parse::<u64>().ok())
                    .map(Duration::from_secs);
                let transient = status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS;
                let err = fail(format!("HTTP {status}"), transient);
                if !transient {
                    return Err(err);
                }
                (err, retry_after)
            }
            Err(e) => (
                fail(
                    if e.is_timeout() {
                        format!("timed out after {}s", timeout.as_secs())
                    } else {
                        format!("request failed: {e}")
                    },
                    true,
                ),
                None,
            ),
        };
        if attempt >= retries {
            return Err(error);
        }
        attempt += 1;
        let delay = wait.map_or_else(|| backoff(attempt), |w| w.min(Duration::from_secs(300)));
        tracing::warn!(pipeline, url = %shown, attempt, delay_ms = delay.as_millis() as u64, error = %error, "retrying");
        tokio::time::sleep(delay).await;
    }
}

/// Exponential backoff (0.5 s, 1 s, 2 s … capped at 60 s) with ±25 % jitter so that
/// many pipelines retrying together do not hit a server in step.
pub fn backoff(attempt: u32) -> Duration {
    let base = 500u64
        .saturating_mul(1 << attempt.min(7).saturating_sub(1))
        .min(60_000);
    let mut r = [0u8; 2];
    let jitter = if getrandom::fill(&mut r).is_ok() {
        f64::from(u16::from_le_bytes(r)) / f64::from(u16::MAX)
    } else {
        0.5
    };
    Duration::from_millis((base as f64 * (0.75 + 0.5 * jitter)) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_stays_bounded() {
        let ms = |a| backoff(a).as_millis();
        assert!((375..=625).contains(&ms(1)));
        assert!((750..=1250).contains(&ms(2)));
        assert!(ms(30) <= 75_000);
    }
}
