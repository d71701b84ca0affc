//! Transport: getting the bytes of extracts, nothing else (formats decode them).
//!
//! Each transport owns its `[source]` keys, their validation and its fetch, in one file:
//! `file` reads local paths and globs; `http` fetches a URL with the one shared HTTP
//! client (timeouts, retries with backoff and jitter, secrets from the environment);
//! `kolada` pages through Kolada's KPI API after checking each KPI's title; `pxweb`
//! queries SCB's PxWeb (v1 and v2) in requests under the server's cell and rate limits.
//! This file holds only what joins them: the `[source]` enum, read by its `type`, and the
//! one dispatch each for validating and for fetching.

pub mod file;
pub mod http;
pub mod kolada;
pub mod pxweb;

use serde::Deserialize;

use crate::error::{Problems, Result};

/// `[source]`, chosen by its `type`. A tagged enum cannot collect unknown keys the way
/// the rest of the file does (`serde_ignored`), so each transport's keys deny unknown
/// fields and stop the reading instead.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum RawSource {
    /// Local files.
    File(file::RawFile),
    /// An http(s) URL fetched with the shared client.
    Http(http::RawHttp),
    /// SCB's PxWeb API returning JSON-stat 2.0 (use with `format.type = "jsonstat"`).
    Pxweb(pxweb::RawPxweb),
    /// Kolada's KPI API (v3, or v2 by its base URL), paged, ids chunked by 25.
    Kolada(kolada::RawKolada),
}

/// Where bytes come from: a validated `[source]`.
#[derive(Debug, Clone)]
pub enum Source {
    /// Local path or glob.
    File(file::FileSource),
    /// HTTP(S).
    Http(http::HttpSource),
    /// Kolada's KPI API.
    Kolada(kolada::KoladaSource),
    /// SCB's PxWeb API (v1 or v2), JSON-stat 2.0 responses.
    Pxweb(pxweb::PxwebSource),
}

/// Validates `[source]` of the pipeline file `pipeline_file`, every problem into `p`
/// (the source is returned even with problems, so that the rest of the file is checked too).
pub fn validate(raw: RawSource, pipeline_file: &str, p: &mut Problems) -> Source {
    match raw {
        RawSource::File(r) => Source::File(file::validate(r, pipeline_file, p)),
        RawSource::Http(r) => Source::Http(http::validate(r, pipeline_file, p)),
        RawSource::Pxweb(r) => Source::Pxweb(pxweb::validate(r, pipeline_file, p)),
        RawSource::Kolada(r) => Source::Kolada(kolada::validate(r, pipeline_file, p)),
    }
}

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

/// Fetches every extract of the pipeline named `pipeline` from `source`, sorted by name.
pub async fn fetch(
    pipeline: &str,
    source: &Source,
    client: &reqwest::Client,
) -> Result<Vec<Extract>> {
    match source {
        Source::File(f) => file::read_glob(pipeline, &f.pattern),
        Source::Http(h) => Ok(vec![
            http::get(client, pipeline, &h.url, h.timeout, h.retries, &h.headers).await?,
        ]),
        Source::Kolada(k) => kolada::fetch(client, pipeline, k).await,
        Source::Pxweb(x) => pxweb::fetch(client, pipeline, x).await,
    }
}
