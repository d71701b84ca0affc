//! Transport: getting the bytes of extracts, nothing else (formats decode them).
//!
//! `file` reads local paths and globs; `http` fetches a URL with the one shared HTTP
//! client (timeouts, retries with backoff and jitter, secrets from the environment);
//! `kolada` pages through Kolada's KPI API after checking each KPI's title; `pxweb`
//! queries SCB's PxWeb (v1 and v2) in requests under the server's cell and rate limits.

pub mod file;
pub mod http;
pub mod kolada;
pub mod pxweb;

use crate::config::pipeline::{Pipeline, Source};
use crate::error::Result;

/// The bytes of one extract.
#[derive(Debug, Clone)]
pub struct Extract {
    /// File name (last path segment), used by `file_name` fields and in messages.
    pub name: String,
    /// Full path or URL (without query string), for messages.
    pub location: String,
    /// Content.
    pub bytes: Vec<u8>,
}

/// Fetches every extract of a pipeline, sorted by name.
pub async fn fetch(pipeline: &Pipeline, client: &reqwest::Client) -> Result<Vec<Extract>> {
    match &pipeline.source {
        Source::File { pattern } => file::read_glob(&pipeline.name, pattern),
        Source::Http {
            url,
            timeout,
            retries,
            headers,
        } => Ok(vec![
            http::get(client, &pipeline.name, url, *timeout, *retries, headers).await?,
        ]),
        Source::Kolada(k) => kolada::fetch(client, &pipeline.name, k).await,
        Source::Pxweb(x) => pxweb::fetch(client, &pipeline.name, x).await,
    }
}
