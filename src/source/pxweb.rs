//! SCB PxWeb tables (legacy API v1 and PxWebApi 2.0), fetched as JSON-stat 2.0 extracts.
//!
//! This module owns the `type = "pxweb"` source's keys and their validation, and turning
//! one PxWeb selection into requests: it reads the server's limits (cells per request,
//! calls per time window; `pxweb_limits.rs`), splits a selection that is too
//! large into requests under the cell limit, paces them under the rate limit (one budget
//! per server, shared by every pipeline of the process) and returns
//! each response body as one [`Extract`]. It does not parse the data (the `jsonstat`
//! format does) and has no retry loop of its own: every request goes through
//! [`http::send`], which owns retries, backoff, `Retry-After` and problem+json messages.

use std::cmp::Reverse;
use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;
use serde_json::{Value, json};

use super::{Extract, http};
use crate::error::{Error, Problems, Result};

// Limits and pacing are a file of their own to keep this one readable; a child module,
// so that they see the private `Endpoint` without widening it.
#[path = "pxweb_limits.rs"]
mod limits;
#[cfg(test)]
use limits::parse_limits;
use limits::{V1_FALLBACK, V2_FALLBACK, pacer_for, read_limits};

/// `[source]` with `type = "pxweb"`: SCB's PxWeb API returning JSON-stat 2.0 (use with
/// `format.type = "jsonstat"`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPxweb {
    /// `v1` (POST a query to the table URL) or `v2` (PxWebApi 2.0).
    pub api: String,
    /// v1: the table URL (`…/OV0104/v1/doris/sv/ssd/BE/BE0101/BE0101A/BefolkningNy`);
    /// v2: the API base (`https://statistikdatabasen.scb.se/api/v2`).
    pub url: String,
    /// v2: the table id, e.g. `TAB638`.
    pub table: Option<String>,
    /// v2: language, default `sv`.
    pub lang: Option<String>,
    /// Variable code → value codes, e.g. `Region = ["0880"]`. Large selections are split
    /// into requests under the server's cell limit (read from its config endpoint).
    pub selection: BTreeMap<String, Vec<String>>,
    /// Overrides the server's cell limit per request.
    pub max_cells: Option<usize>,
    /// Per-request timeout in seconds (default 60).
    pub timeout_secs: Option<u64>,
    /// Retries after transient failures (default 3).
    pub retries: Option<u32>,
}

/// PxWeb API generation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PxApi {
    /// Legacy API (`…/OV0104/v1/doris/<lang>/ssd/…`): a JSON query POSTed to the table URL.
    V1,
    /// PxWebApi 2.0 (`…/api/v2`): `GET tables/<id>/data` with `valuecodes[…]` parameters.
    V2,
}

/// A validated PxWeb source (built by [`validate`]).
#[derive(Debug, Clone)]
pub struct PxwebSource {
    /// API generation.
    pub api: PxApi,
    /// v1: the table URL, e.g. https://api.scb.se/OV0104/v1/doris/sv/ssd/BE/BE0101/BE0101A/BefolkningNy
    /// v2: the API base, e.g. https://statistikdatabasen.scb.se/api/v2
    pub url: String,
    /// v2: table id, e.g. TAB638 (None for v1).
    pub table: Option<String>,
    /// v2: language, default "sv".
    pub lang: String,
    /// Variable code → value codes, in the order written by the user (e.g. Region, Alder, Kon, ContentsCode, Tid).
    pub selection: Vec<(String, Vec<String>)>,
    /// Timeout of one attempt of one request.
    pub timeout: Duration,
    /// Retries of a transient failure, per request.
    pub retries: u32,
    /// Override of the server's cell limit per request.
    pub max_cells: Option<usize>,
}

/// Checks the API generation, the URL, the table (v2 names it, v1 has it in the URL) and
/// the selection, every problem reported.
pub fn validate(raw: RawPxweb, file: &str, p: &mut Problems) -> PxwebSource {
    let RawPxweb {
        api,
        url,
        table,
        lang,
        selection,
        max_cells,
        timeout_secs,
        retries,
    } = raw;
    let api = match api.as_str() {
        "v1" => PxApi::V1,
        "v2" => PxApi::V2,
        other => {
            p.push(file, "source.api", format!("'{other}' is not v1 or v2"));
            PxApi::V2
        }
    };
    if !matches!(reqwest::Url::parse(&url), Ok(u) if matches!(u.scheme(), "http" | "https")) {
        p.push(file, "source.url", format!("'{url}' is not an http(s) URL"));
    }
    match (api, &table) {
        (PxApi::V2, None) => p.push(file, "source.table", "v2 needs the table id, e.g. TAB638"),
        (PxApi::V1, Some(_)) => p.push(
            file,
            "source.table",
            "v1 names the table in the URL; leave table out",
        ),
        _ => {}
    }
    if selection.is_empty() {
        p.push(
            file,
            "source.selection",
            "select at least one variable, e.g. Region = [\"0880\"]",
        );
    }
    for (var, values) in &selection {
        if values.is_empty() {
            p.push(
                file,
                format!("source.selection.{var}"),
                "list at least one value code",
            );
        }
    }
    if max_cells == Some(0) {
        p.push(file, "source.max_cells", "must be positive");
    }
    PxwebSource {
        api,
        url,
        table,
        lang: lang.unwrap_or_else(|| "sv".into()),
        selection: selection.into_iter().collect(),
        timeout: Duration::from_secs(timeout_secs.unwrap_or(60)),
        retries: retries.unwrap_or(3),
        max_cells,
    }
}

/// Fetches the selection, split into requests under the cell limit and paced under the rate limit.
///
/// Returns one extract per request, named `<table>-001.json`, `<table>-002.json`, … in
/// request order (v1: the table is the last segment of the URL).
pub async fn fetch(
    client: &reqwest::Client,
    pipeline: &str,
    source: &PxwebSource,
) -> Result<Vec<Extract>> {
    let fail = |message: String| Error::Source {
        pipeline: pipeline.into(),
        location: http::shown(&source.url),
        message,
        transient: false,
    };
    // Before any request: a selection mistake is the user's and never gets better by asking.
    check_selection(&source.selection).map_err(fail)?;
    let endpoint = Endpoint::new(source).map_err(fail)?;

    let fallback = match source.api {
        PxApi::V1 => V1_FALLBACK,
        PxApi::V2 => V2_FALLBACK,
    };
    // The /config call is paced and counted like the data calls: the server counts it too.
    let pacer = pacer_for(&endpoint.data, fallback);
    let limits = read_limits(client, pipeline, source, &endpoint, &pacer, fallback).await?;
    pacer.set_limits(limits);
    let max_cells = source.max_cells.unwrap_or(limits.max_cells);
    if max_cells > limits.max_cells {
        tracing::warn!(
            pipeline,
            max_cells,
            server_max_cells = limits.max_cells,
            "max_cells is above the server's limit: requests may be refused"
        );
    }
    let parts = plan(&source.selection, max_cells).map_err(fail)?;
    let location = http::shown(&endpoint.data);
    tracing::info!(
        pipeline,
        url = %location,
        requests = parts.len(),
        cells = %cells(source.selection.iter().map(|(_, v)| v.len())),
        max_cells,
        max_calls = limits.max_calls,
        window_s = limits.window.as_secs(),
        "fetching a PxWeb table"
    );

    let total = parts.len();
    let mut extracts = Vec::with_capacity(total);
    for (i, part) in parts.iter().enumerate() {
        let (url, body) = match source.api {
            PxApi::V1 => (endpoint.data.clone(), Some(v1_body(part)?)),
            PxApi::V2 => (v2_url(&endpoint.data, &source.lang, part), None),
        };
        pacer.ready().await;
        let count = pacer.retries_counter();
        let bytes = http::send(pipeline, &url, source.timeout, source.retries, || {
            count();
            match &body {
                Some(body) => client
                    .post(&url)
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .body(body.clone()),
                None => client.get(&url),
            }
        })
        .await
        .map_err(|e| in_request(e, i + 1, total))?;
        tracing::debug!(pipeline, url = %location, request = i + 1, of = total, bytes = bytes.len(), "PxWeb response");
        extracts.push(Extract::in_memory(
            format!("{}-{:03}.json", endpoint.stem, i + 1),
            location.clone(),
            bytes,
        ));
    }
    Ok(extracts)
}

/// Variable codes taken for time (SCB writes `Tid`): on a tie, another variable is
/// split first, so that extracts keep whole time series where that costs no request.
const TIME_CODES: [&str; 4] = ["tid", "time", "year", "år"];

/// Where the requests of one source go.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Endpoint {
    /// Data URL without query (v1: the table; v2: `<base>/tables/<id>/data`).
    data: String,
    /// Limits URL (v1: `<…/v1/doris/<lang>/>?config`; v2: `<base>/config`); `None`
    /// when it cannot be derived from a v1 URL.
    config: Option<String>,
    /// Stem of the extract names: the table id, or the last segment of a v1 URL.
    stem: String,
}

impl Endpoint {
    fn new(source: &PxwebSource) -> Result<Self, String> {
        // Parsed here so that a bad URL fails at once instead of being retried as a
        // connection error by `http::send`.
        let url = reqwest::Url::parse(&source.url)
            .map_err(|e| format!("invalid PxWeb URL {:?}: {e}", http::shown(&source.url)))?;
        match source.api {
            PxApi::V1 => {
                let segments: Vec<&str> = url
                    .path_segments()
                    .map(|s| s.filter(|s| !s.is_empty()).collect())
                    .unwrap_or_default();
                let stem = segments
                    .last()
                    .ok_or("a v1 PxWeb URL must end in the table, e.g. …/BE0101A/BefolkningNy")?
                    .to_string();
                Ok(Self {
                    data: source.url.clone(),
                    config: v1_config_url(&url, &segments),
                    stem,
                })
            }
            PxApi::V2 => {
                let table = source
                    .table
                    .as_deref()
                    .map(str::trim)
                    .filter(|t| !t.is_empty())
                    .ok_or("a v2 PxWeb source needs a table id, e.g. TAB638")?;
                let base = source.url.trim_end_matches('/');
                Ok(Self {
                    data: format!("{base}/tables/{}/data", encode(table)),
                    config: Some(format!("{base}/config")),
                    stem: table.to_string(),
                })
            }
        }
    }
}

/// `<scheme://host>/…/v1/doris/<lang>/?config` from a v1 table URL (servers without the
/// `doris` segment: `…/v1/<lang>/?config`), where the R client reads the limits.
fn v1_config_url(url: &reqwest::Url, segments: &[&str]) -> Option<String> {
    let v1 = segments.iter().position(|s| s.eq_ignore_ascii_case("v1"))?;
    let doris = segments
        .get(v1 + 1)
        .is_some_and(|s| s.eq_ignore_ascii_case("doris"));
    let lang = v1 + 1 + usize::from(doris);
    // The language must be followed by the table's path, or this is no table URL.
    if lang + 1 >= segments.len() {
        return None;
    }
    let mut config = url.clone();
    config.set_path(&format!("/{}/", segments[..=lang].join("/")));
    config.set_query(Some("config"));
    config.set_fragment(None);
    Some(config.into())
}

/// One request's selection: per variable, in the user's order, the values it asks for.
type Part<'a> = Vec<(&'a str, &'a [String])>;

/// A selection must name at least one variable, and every variable at least one value.
fn check_selection(selection: &[(String, Vec<String>)]) -> Result<(), String> {
    if selection.is_empty() {
        return Err(
            "the PxWeb selection is empty: name at least one variable and its values".into(),
        );
    }
    if let Some((code, _)) = selection.iter().find(|(_, values)| values.is_empty()) {
        return Err(format!("the PxWeb selection of {code} has no values"));
    }
    Ok(())
}

/// The number of cells of a selection with these numbers of values.
fn cells(counts: impl Iterator<Item = usize>) -> u128 {
    counts.fold(1u128, |p, n| p.saturating_mul(n as u128))
}

/// Splits a selection into requests of at most `limit` cells each: the variable whose
/// chunks are largest is halved until the product fits (never one with a single value;
/// on a tie, a non-time variable, then the first), and the requests are the cartesian
/// combination of the chunks, the first variable varying slowest.
fn plan(selection: &[(String, Vec<String>)], limit: usize) -> Result<Vec<Part<'_>>, String> {
    check_selection(selection)?;
    let mut size: Vec<usize> = selection.iter().map(|(_, v)| v.len()).collect();
    while cells(size.iter().copied()) > limit as u128 {
        let widest = size
            .iter()
            .enumerate()
            .filter(|(_, s)| **s > 1)
            .max_by_key(|&(i, s)| (*s, !is_time(&selection[i].0), Reverse(i)));
        let Some((i, _)) = widest else {
            return Err(format!(
                "one combination of the selection is {} cells, over the limit of {limit} per request",
                cells(size.iter().copied())
            ));
        };
        size[i] = size[i].div_ceil(2);
    }
    let chunks: Vec<Vec<&[String]>> = selection
        .iter()
        .zip(&size)
        .map(|((_, values), s)| values.chunks(*s).collect())
        .collect();
    let total: usize = chunks.iter().map(Vec::len).product();
    let mut parts = Vec::with_capacity(total);
    let mut at = vec![0usize; chunks.len()];
    for _ in 0..total {
        parts.push(
            selection
                .iter()
                .zip(&chunks)
                .zip(&at)
                .map(|(((code, _), c), &k)| (code.as_str(), c[k]))
                .collect(),
        );
        // Odometer: the last variable turns fastest.
        for d in (0..at.len()).rev() {
            at[d] += 1;
            if at[d] < chunks[d].len() {
                break;
            }
            at[d] = 0;
        }
    }
    Ok(parts)
}

fn is_time(code: &str) -> bool {
    let code = code.to_lowercase();
    TIME_CODES.contains(&code.as_str())
}

/// The v1 query: one `item` filter per variable, in the user's order, answered as JSON-stat 2.0.
fn v1_body(part: &Part<'_>) -> Result<Vec<u8>> {
    let query: Vec<Value> = part
        .iter()
        .map(|(code, values)| json!({"code": code, "selection": {"filter": "item", "values": values}}))
        .collect();
    serde_json::to_vec(&json!({"query": query, "response": {"format": "json-stat2"}}))
        .map_err(|e| Error::Internal(format!("cannot write a PxWeb v1 query: {e}")))
}

/// The v2 data URL of one request: `lang`, `outputFormat` and one `valuecodes[VAR]=a,b`
/// per variable, in the user's order.
fn v2_url(data: &str, lang: &str, part: &Part<'_>) -> String {
    // An empty language leaves the choice to the server (its default language).
    let mut url = format!("{data}?");
    if !lang.is_empty() {
        url.push_str("lang=");
        url.push_str(&encode(lang));
        url.push('&');
    }
    url.push_str("outputFormat=json-stat2");
    for (code, values) in part {
        url.push_str("&valuecodes");
        url.push_str(&encode(&format!("[{code}]")));
        url.push('=');
        let values: Vec<String> = values.iter().map(|v| encode(v)).collect();
        // The separating commas stay literal (allowed in a query), which keeps the long
        // region lists short.
        url.push_str(&values.join(","));
    }
    url
}

/// Percent-encodes all but RFC 3986's unreserved characters, so that codes such as `ÄNKL`
/// or ones with `+`, `&` or spaces reach the server as written.
fn encode(s: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0xF)]));
        }
    }
    out
}

/// Says which request of a split selection failed (the URL in the error has no query).
fn in_request(error: Error, n: usize, total: usize) -> Error {
    match error {
        Error::Source {
            pipeline,
            location,
            message,
            transient,
        } if total > 1 => Error::Source {
            pipeline,
            location,
            message: format!("{message} (request {n} of {total})"),
            transient,
        },
        other => other,
    }
}

#[cfg(test)]
#[path = "pxweb_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "pxweb_unit_tests.rs"]
mod unit_tests;
