//! HTTP(S) transport: the `type = "http"` source (its `[source]` keys, their validation,
//! a plain GET), and the one shared client and the one retry loop every HTTP source
//! (plain files, PxWeb, Kolada) goes through.
//!
//! Transient failures (timeouts, connection errors, 5xx, 429) are retried with
//! exponential backoff and jitter; `Retry-After` on a 429 or 503 is honoured (capped).
//! Other 4xx fail at once, with the title and detail of an RFC 7807 problem+json body
//! when the server sends one. Header secrets are read from the environment at request
//! time and never logged; URLs are logged without their query string.

use std::collections::BTreeMap;
use std::time::Duration;

use reqwest::StatusCode;
use serde::Deserialize;

use super::Extract;
use crate::error::{Error, Problems, Result};

/// `[source]` with `type = "http"`: an http(s) URL fetched with the shared client.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHttp {
    /// The URL.
    pub url: String,
    /// Per-request timeout in seconds (default 60).
    pub timeout_secs: Option<u64>,
    /// Retries after a transient failure (timeout, 5xx, 429), with exponential backoff (default 3).
    pub retries: Option<u32>,
    /// Request headers. Secret values must come from environment variables.
    #[serde(default)]
    pub headers: BTreeMap<String, RawHeader>,
}

/// A request header value.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHeader {
    /// A literal value (refused for headers that carry credentials).
    pub value: Option<String>,
    /// Name of an environment variable holding the value.
    pub env: Option<String>,
    /// Text put before the environment value, e.g. `"Bearer "`.
    pub prefix: Option<String>,
}

/// A validated HTTP(S) source.
#[derive(Debug, Clone)]
pub struct HttpSource {
    /// URL.
    pub url: String,
    /// Timeout per request.
    pub timeout: Duration,
    /// Retries after transient failures.
    pub retries: u32,
    /// Headers.
    pub headers: Vec<(String, HeaderValue)>,
}

/// A header value, resolved at fetch time so secrets never sit in memory longer than needed.
#[derive(Debug, Clone)]
pub enum HeaderValue {
    /// Literal (non-secret).
    Literal(String),
    /// From the environment.
    Env {
        /// Variable name.
        var: String,
        /// Prefix such as `Bearer `.
        prefix: String,
    },
}

/// Checks the URL and the headers; a header whose name suggests a credential must come
/// from the environment, never from the file (which is committed and shown in reviews).
pub fn validate(raw: RawHttp, file: &str, p: &mut Problems) -> HttpSource {
    let RawHttp {
        url,
        timeout_secs,
        retries,
        headers,
    } = raw;
    match reqwest::Url::parse(&url) {
        Ok(u) if matches!(u.scheme(), "http" | "https") => {}
        Ok(u) => p.push(
            file,
            "source.url",
            format!("scheme '{}' is not http or https", u.scheme()),
        ),
        Err(e) => p.push(file, "source.url", format!("not a valid URL: {e}")),
    }
    let mut hs = Vec::new();
    for (name, h) in headers {
        let at = format!("source.headers.{name}");
        let secret = [
            "authorization",
            "cookie",
            "token",
            "key",
            "secret",
            "password",
        ]
        .iter()
        .any(|w| name.to_ascii_lowercase().contains(w));
        match (h.value, h.env) {
            (Some(_), Some(_)) => p.push(file, &at, "set either value or env, not both"),
            (Some(_), None) if secret => p.push(file, &at, "this header carries a credential: take it from an environment variable (env = \"VAR\"), never write it in the file"),
            (Some(v), None) => hs.push((name, HeaderValue::Literal(v))),
            (None, Some(var)) => hs.push((name, HeaderValue::Env { var, prefix: h.prefix.unwrap_or_default() })),
            (None, None) => p.push(file, &at, "set value or env"),
        }
    }
    HttpSource {
        url,
        timeout: Duration::from_secs(timeout_secs.unwrap_or(60)),
        retries: retries.unwrap_or(3),
        headers: hs,
    }
}

/// The one HTTP client of the process.
pub fn client() -> Result<reqwest::Client> {
    reqwest::Client::builder()
        .user_agent(concat!("malgrupp/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(Duration::from_secs(15))
        .build()
        .map_err(|e| Error::Internal(format!("cannot build the HTTP client: {e}")))
}

/// A URL as it may be shown: without the query string, which may carry tokens.
pub fn shown(url: &str) -> String {
    url.split('?').next().unwrap_or(url).to_string()
}

/// Sends the request that `build` makes (called anew for every attempt), retrying
/// transient failures up to `retries` times, and returns the body.
pub async fn send(
    pipeline: &str,
    url: &str,
    timeout: Duration,
    retries: u32,
    build: impl Fn() -> reqwest::RequestBuilder,
) -> Result<Vec<u8>> {
    let location = shown(url);
    let fail = |message: String, transient: bool| Error::Source {
        pipeline: pipeline.into(),
        location: location.clone(),
        message,
        transient,
    };
    let mut attempt = 0;
    loop {
        let (error, wait) = match build().timeout(timeout).send().await {
            // A body cut off mid-transfer is as transient as a failed connection.
            Ok(resp) if resp.status().is_success() => match read_body(pipeline, resp).await {
                Ok(b) => return Ok(b),
                Err(e) => (
                    fail(format!("reading the body: {}", e.without_url()), true),
                    None,
                ),
            },
            Ok(resp) => {
                let status = resp.status();
                let retry_after = resp
                    .headers()
                    .get(reqwest::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|s| s.trim().parse::<u64>().ok())
                    .map(Duration::from_secs);
                let body = resp.bytes().await.unwrap_or_default();
                let transient = status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS;
                let err = fail(
                    format!("HTTP {status}{}", problem_details(&body)),
                    transient,
                );
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
                        // The URL is already in the error's location, without its query
                        // string; reqwest's own text would repeat it whole.
                        format!("request failed: {}", e.without_url())
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
        tracing::warn!(pipeline, url = %location, attempt, delay_ms = delay.as_millis() as u64, error = %error, "retrying");
        tokio::time::sleep(delay).await;
    }
}

/// Reads a body chunk by chunk, reporting progress to the pipeline's bar.
async fn read_body(pipeline: &str, mut resp: reqwest::Response) -> reqwest::Result<Vec<u8>> {
    // Preallocate from Content-Length, but never trust it for more than 64 MiB.
    let hint = resp.content_length().unwrap_or(0).min(64 << 20) as usize;
    let mut body = Vec::with_capacity(hint);
    while let Some(chunk) = resp.chunk().await? {
        crate::progress::downloaded(pipeline, chunk.len() as u64);
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// `: title — detail` from an RFC 7807 problem+json body, or nothing.
fn problem_details(body: &[u8]) -> String {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) else {
        return String::new();
    };
    let text = |k: &str| {
        v.get(k)
            .and_then(serde_json::Value::as_str)
            .map(str::to_string)
    };
    match (text("title"), text("detail")) {
        (Some(t), Some(d)) => format!(": {t} — {d}"),
        (Some(t), None) => format!(": {t}"),
        (None, Some(d)) => format!(": {d}"),
        (None, None) => String::new(),
    }
}

/// Resolves configured headers (secrets from the environment) for a request.
pub fn resolve_headers(
    pipeline: &str,
    url: &str,
    headers: &[(String, HeaderValue)],
) -> Result<Vec<(String, String)>> {
    headers
        .iter()
        .map(|(name, value)| match value {
            HeaderValue::Literal(v) => Ok((name.clone(), v.clone())),
            HeaderValue::Env { var, prefix } => std::env::var(var)
                .map(|v| (name.clone(), format!("{prefix}{v}")))
                .map_err(|_| Error::Source {
                    pipeline: pipeline.into(),
                    location: shown(url),
                    message: format!("header {name}: environment variable {var} is not set"),
                    transient: false,
                }),
        })
        .collect()
}

/// GETs a file over HTTP(S).
pub async fn get(
    client: &reqwest::Client,
    pipeline: &str,
    url: &str,
    timeout: Duration,
    retries: u32,
    headers: &[(String, HeaderValue)],
) -> Result<Extract> {
    let headers = resolve_headers(pipeline, url, headers)?;
    let bytes = send(pipeline, url, timeout, retries, || {
        headers
            .iter()
            .fold(client.get(url), |req, (n, v)| req.header(n, v))
    })
    .await?;
    let location = shown(url);
    let name = location
        .rsplit('/')
        .next()
        .filter(|s| !s.is_empty())
        .unwrap_or("download")
        .to_string();
    Ok(Extract::in_memory(name, location, bytes))
}

/// Exponential backoff for HTTP requests (0.5 s, 1 s, 2 s … capped at 60 s).
pub fn backoff(attempt: u32) -> Duration {
    jittered_backoff(Duration::from_millis(500), Duration::from_secs(60), attempt)
}

/// The one backoff rule (HTTP requests and whole-run retries): `first` doubled for each
/// attempt after the first, capped at `max`, with ±25 % jitter so that many pipelines
/// retrying together do not hit a server in step.
pub fn jittered_backoff(first: Duration, max: Duration, attempt: u32) -> Duration {
    let doublings = attempt.saturating_sub(1).min(20);
    let base = (first.as_millis() as u64)
        .saturating_mul(1u64 << doublings)
        .min(max.as_millis() as u64);
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

    #[test]
    fn problem_json_is_summarized() {
        let body = br#"{"type":"about:blank","title":"Too many requests","status":429,"detail":"30 calls per 10 s"}"#;
        assert_eq!(
            problem_details(body),
            ": Too many requests — 30 calls per 10 s"
        );
        assert_eq!(problem_details(b"<html>"), "");
    }
}
