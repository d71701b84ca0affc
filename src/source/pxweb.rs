//! SCB PxWeb tables (legacy API v1 and PxWebApi 2.0), fetched as JSON-stat 2.0 extracts.
//!
//! This module owns turning one PxWeb selection into requests: it reads the server's
//! limits (cells per request, calls per time window), splits a selection that is too
//! large into requests under the cell limit, paces them under the rate limit (one budget
//! per server, shared by every pipeline of the process) and returns
//! each response body as one [`Extract`]. It does not parse the data (the `jsonstat`
//! format does) and has no retry loop of its own: every request goes through
//! [`http::send`], which owns retries, backoff, `Retry-After` and problem+json messages.

use std::cmp::Reverse;
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::time::Instant;

use super::{Extract, http};
use crate::error::{Error, Result};

/// PxWeb API generation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PxApi {
    /// Legacy API (`…/OV0104/v1/doris/<lang>/ssd/…`): a JSON query POSTed to the table URL.
    V1,
    /// PxWebApi 2.0 (`…/api/v2`): `GET tables/<id>/data` with `valuecodes[…]` parameters.
    V2,
}

/// A validated PxWeb source (built by the config layer).
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
        extracts.push(Extract {
            name: format!("{}-{:03}.json", endpoint.stem, i + 1),
            location: location.clone(),
            bytes,
        });
    }
    Ok(extracts)
}

/// The limits a server announces: cells per request, and calls per time window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Limits {
    max_cells: usize,
    max_calls: usize,
    window: Duration,
}

/// SCB's documented v1 limits: 110 000 cells per call (100 000 leaves a margin for
/// tables whose cell count the server reckons differently), 30 calls per 10 s.
const V1_FALLBACK: Limits = Limits {
    max_cells: 100_000,
    max_calls: 30,
    window: Duration::from_secs(10),
};

/// SCB's PxWebApi 2.0 limits, used only when `/config` cannot be read.
const V2_FALLBACK: Limits = Limits {
    max_cells: 150_000,
    max_calls: 30,
    window: Duration::from_secs(10),
};

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

/// Reads the server's limits (one call), falling back to SCB's documented ones where the
/// server does not say.
async fn read_limits(
    client: &reqwest::Client,
    pipeline: &str,
    source: &PxwebSource,
    endpoint: &Endpoint,
    pacer: &Pacer,
    fallback: Limits,
) -> Result<Limits> {
    let Some(url) = &endpoint.config else {
        tracing::warn!(pipeline, url = %http::shown(&source.url), "no PxWeb config URL can be derived from this URL; using SCB's documented limits");
        return Ok(fallback);
    };
    pacer.ready().await;
    let count = pacer.retries_counter();
    let body = match http::send(pipeline, url, source.timeout, source.retries, || {
        count();
        client.get(url)
    })
    .await
    {
        Ok(body) => body,
        // v2 servers all have /config: a server that is down now is down for the data too.
        Err(
            e @ Error::Source {
                transient: true, ..
            },
        ) if source.api == PxApi::V2 => return Err(e),
        Err(e) => {
            tracing::warn!(pipeline, url = %http::shown(url), error = %e, "cannot read the PxWeb limits; using SCB's documented limits");
            return Ok(fallback);
        }
    };
    let (limits, missing) = parse_limits(source.api, &body, fallback);
    if !missing.is_empty() {
        tracing::warn!(pipeline, url = %http::shown(url), missing = ?missing, "the PxWeb config does not give every limit; using SCB's documented value for those");
    }
    Ok(limits)
}

/// Limits from a config body, field by field, with the names of the fields that fell
/// back. A missing, unreadable or non-positive field falls back: SSB's v2 answers 0 for
/// "announced elsewhere", which is no "unlimited".
fn parse_limits(api: PxApi, body: &[u8], fallback: Limits) -> (Limits, Vec<&'static str>) {
    // serde_json refuses a byte-order mark, which PxWeb servers may put before JSON.
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    let json: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let field = |key: &str| json.get(key).and_then(Value::as_u64).filter(|n| *n > 0);
    let cells_keys: &[&'static str] = match api {
        // v1 servers announce maxValues, some also maxCells: the smaller one is binding.
        PxApi::V1 => &["maxValues", "maxCells"],
        PxApi::V2 => &["maxDataCells"],
    };
    let calls_key = match api {
        PxApi::V1 => "maxCalls",
        PxApi::V2 => "maxCallsPerTimeWindow",
    };
    let mut missing = Vec::new();
    let mut get = |keys: &[&'static str]| {
        let value = keys.iter().filter_map(|k| field(k)).min();
        if value.is_none() {
            missing.push(keys[0]);
        }
        value
    };
    let to_usize = |n: u64| usize::try_from(n).unwrap_or(usize::MAX);
    let limits = Limits {
        max_cells: get(cells_keys).map_or(fallback.max_cells, to_usize),
        max_calls: get(&[calls_key]).map_or(fallback.max_calls, to_usize),
        window: get(&["timeWindow"]).map_or(fallback.window, Duration::from_secs),
    };
    (limits, missing)
}

/// Sliding-window pacing: at most `max_calls` calls start within any `window`.
///
/// One pacer per server (scheme, host and port), shared by every pipeline of the process:
/// the server counts calls per client, not per pipeline, so two PxWeb pipelines running
/// side by side in `serve` share one budget.
#[derive(Debug)]
struct Pacer {
    limits: Mutex<Limits>,
    /// Starts of the calls of the last window, oldest first. Every attempt is recorded,
    /// the retries `http::send` makes included: the server counts those too.
    starts: Mutex<VecDeque<Instant>>,
}

/// The pacer of the server of `url`, created with `fallback` limits on first use.
fn pacer_for(url: &str, fallback: Limits) -> Arc<Pacer> {
    static PACERS: OnceLock<Mutex<HashMap<String, Arc<Pacer>>>> = OnceLock::new();
    let key = reqwest::Url::parse(url)
        .map(|u| {
            format!(
                "{}://{}:{}",
                u.scheme(),
                u.host_str().unwrap_or(""),
                u.port_or_known_default().unwrap_or(0)
            )
        })
        .unwrap_or_else(|_| url.to_string());
    PACERS
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .entry(key)
        .or_insert_with(|| Arc::new(Pacer::new(fallback)))
        .clone()
}

impl Pacer {
    fn new(limits: Limits) -> Self {
        Self {
            limits: Mutex::new(limits),
            starts: Mutex::default(),
        }
    }

    fn limits(&self) -> Limits {
        *self.limits.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The server's announced limits replace the assumed ones.
    fn set_limits(&self, limits: Limits) {
        *self.limits.lock().unwrap_or_else(PoisonError::into_inner) = limits;
    }

    /// The window with a 5 % margin: the server counts arrivals, and network jitter can
    /// bring two calls closer together there than they were when they left here.
    fn span(&self) -> Duration {
        let window = self.limits().window;
        window + window / 20
    }

    /// Waits until one more call may start, and counts it as started: checking and
    /// counting under one lock keeps two pipelines from taking the same last slot.
    async fn ready(&self) {
        loop {
            let wake = {
                let span = self.span();
                let max = self.limits().max_calls.max(1);
                let mut starts = self.starts.lock().unwrap_or_else(PoisonError::into_inner);
                let now = Instant::now();
                while starts
                    .front()
                    .is_some_and(|t| now.duration_since(*t) >= span)
                {
                    starts.pop_front();
                }
                if starts.len() < max {
                    starts.push_back(now);
                    return;
                }
                // The call that must leave the window before one more may start.
                starts[starts.len() - max] + span
            };
            tokio::time::sleep_until(wake).await;
        }
    }

    /// Records that a call starts now without waiting (the retries of one request).
    fn record(&self) {
        self.starts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push_back(Instant::now());
    }

    /// A request builder's hook: the first attempt was counted by `ready`, every further
    /// attempt (a retry inside `http::send`) is counted here.
    fn retries_counter(&self) -> impl Fn() + '_ {
        let first = AtomicBool::new(true);
        move || {
            if !first.swap(false, Ordering::SeqCst) {
                self.record();
            }
        }
    }
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
