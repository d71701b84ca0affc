//! PxWeb limits and pacing: the cells per request and calls per time window a server
//! announces (read from its config endpoint, SCB's documented values where it does not
//! say), and one sliding-window pacer per server shared by every pipeline of the process.
//! Kept apart from `pxweb.rs`, which owns the source's keys and the requests themselves.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use serde_json::Value;
use tokio::time::Instant;

use super::{Endpoint, PxApi, PxwebSource, http};
use crate::error::{Error, Result};

/// The limits a server announces: cells per request, and calls per time window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Limits {
    pub(super) max_cells: usize,
    pub(super) max_calls: usize,
    pub(super) window: Duration,
}

/// SCB's documented v1 limits: 110 000 cells per call (100 000 leaves a margin for
/// tables whose cell count the server reckons differently), 30 calls per 10 s.
pub(super) const V1_FALLBACK: Limits = Limits {
    max_cells: 100_000,
    max_calls: 30,
    window: Duration::from_secs(10),
};

/// SCB's PxWebApi 2.0 limits, used only when `/config` cannot be read.
pub(super) const V2_FALLBACK: Limits = Limits {
    max_cells: 150_000,
    max_calls: 30,
    window: Duration::from_secs(10),
};

/// Reads the server's limits (one call), falling back to SCB's documented ones where the
/// server does not say.
pub(super) async fn read_limits(
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
pub(super) fn parse_limits(
    api: PxApi,
    body: &[u8],
    fallback: Limits,
) -> (Limits, Vec<&'static str>) {
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
pub(super) struct Pacer {
    limits: Mutex<Limits>,
    /// Starts of the calls of the last window, oldest first. Every attempt is recorded,
    /// the retries `http::send` makes included: the server counts those too.
    starts: Mutex<VecDeque<Instant>>,
}

/// The pacer of the server of `url`, created with `fallback` limits on first use.
pub(super) fn pacer_for(url: &str, fallback: Limits) -> Arc<Pacer> {
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

    pub(super) fn limits(&self) -> Limits {
        *self.limits.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The server's announced limits replace the assumed ones.
    pub(super) fn set_limits(&self, limits: Limits) {
        *self.limits.lock().unwrap_or_else(PoisonError::into_inner) = limits;
    }

    /// The window with a 5 % margin: the server counts arrivals, and network jitter can
    /// bring two calls closer together there than they were when they left here.
    pub(super) fn span(&self) -> Duration {
        let window = self.limits().window;
        window + window / 20
    }

    /// Waits until one more call may start, and counts it as started: checking and
    /// counting under one lock keeps two pipelines from taking the same last slot.
    pub(super) async fn ready(&self) {
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
    pub(super) fn record(&self) {
        self.starts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push_back(Instant::now());
    }

    /// A request builder's hook: the first attempt was counted by `ready`, every further
    /// attempt (a retry inside `http::send`) is counted here.
    pub(super) fn retries_counter(&self) -> impl Fn() + '_ {
        let first = AtomicBool::new(true);
        move || {
            if !first.swap(false, Ordering::SeqCst) {
                self.record();
            }
        }
    }
}
