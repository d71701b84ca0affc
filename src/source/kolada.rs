//! Kolada transport (`type = "kolada"`): its `[source]` keys and their validation, the
//! KPI title check and every page of every data request, as extracts (decoding a page is
//! `format::kolada`'s business).
//!
//! Kolada's data route is `{base}/data/kpi/{ids}/municipality/{ids}/year/{years}`, the same
//! in v2 and v3, with at most [`MAX_IDS`] ids per parameter; longer lists are chunked and
//! every combination of chunks is one request. A request's result comes in pages linked by
//! `next_url` (v3) or `next_page` (v2); each page is kept as one extract, so a run's raw
//! files are exactly what Kolada served.
//!
//! Kolada redefines KPIs now and then while keeping their ids, so before any data is
//! fetched each KPI's title is compared with the one the pipeline was written for: a
//! silently changed measure must stop the run, not flow into the figures.
//!
//! Every request goes through [`http::send`](super::http::send), which owns timeouts,
//! retries, backoff and `Retry-After`; nothing here retries.
//!
//! This file owns the `[source]` keys and the order of a fetch; `kolada_pages.rs` builds
//! the data requests and follows their pages, `kolada_titles.rs` checks the KPI titles.

use std::time::Duration;

use reqwest::Url;
use serde::Deserialize;

use super::Extract;
use super::http::{send, shown};
use crate::error::{Error, Problems, Result};
#[cfg(test)]
use pages::next_link;
use pages::{data_urls, fetch_pages};
use titles::verify_titles;
#[cfg(test)]
use titles::{kpi_title, normalized};

#[path = "kolada_pages.rs"]
mod pages;
#[path = "kolada_titles.rs"]
mod titles;

/// Most ids Kolada accepts in one path parameter of one request.
pub const MAX_IDS: usize = 25;

/// Largest page Kolada serves; fewer, larger pages mean fewer requests against its rate limit.
const PER_PAGE: &str = "5000";

/// Pages followed for one request before the server is taken to page forever. One request
/// asks for at most 25 × 25 × 25 KPI/municipality/year combinations, about four pages of
/// 5000, so this is far above anything real.
const MAX_PAGES: usize = 1000;

/// A KPI the pipeline asks for, with the title it expects (checked against Kolada at run time).
#[derive(Debug, Clone)]
pub struct KoladaKpi {
    /// Kolada's KPI id, e.g. `N15428`.
    pub id: String,
    /// The title the pipeline was written for.
    pub title: String,
}

/// `[source]` with `type = "kolada"`: Kolada's KPI API (v3, or v2 by its base URL),
/// paged, ids chunked by 25.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawKolada {
    /// API base (default `https://api.kolada.se/v3`).
    pub url: Option<String>,
    /// KPIs with their expected titles.
    pub kpis: Vec<RawKpi>,
    /// Kommun codes.
    pub municipalities: Vec<String>,
    /// Years.
    pub years: Vec<String>,
    /// Check every KPI's title against Kolada before fetching (default true).
    pub verify_titles: Option<bool>,
    /// Per-request timeout in seconds (default 60).
    pub timeout_secs: Option<u64>,
    /// Retries after transient failures (default 3).
    pub retries: Option<u32>,
}

/// `kpis = [{ id = "N15428", title = "…" }]` of a Kolada source.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawKpi {
    /// Kolada's KPI id.
    pub id: String,
    /// The KPI's title as Kolada states it; checked at run time so that a reused or
    /// mistyped id fails instead of loading another KPI.
    pub title: String,
}

/// A validated Kolada source (built by [`validate`]).
#[derive(Debug, Clone)]
pub struct KoladaSource {
    /// API base, e.g. https://api.kolada.se/v3 (v2 bases work too).
    pub url: String,
    /// KPIs to fetch.
    pub kpis: Vec<KoladaKpi>,
    /// Municipality ids (`0880`); empty means every municipality (then `years` is required).
    pub municipalities: Vec<String>,
    /// Years (`2015`); empty means every year (then `municipalities` is required).
    pub years: Vec<String>,
    /// Check each KPI's title against the metadata endpoint before fetching data (default true).
    pub verify_titles: bool,
    /// Timeout of one HTTP request.
    pub timeout: Duration,
    /// Retries of a transient failure, per request.
    pub retries: u32,
}

/// Checks the URL, the KPI ids and titles, the kommun codes and the years, every problem
/// reported; Kolada has no route for a KPI alone, so municipalities or years are required.
pub fn validate(raw: RawKolada, file: &str, p: &mut Problems) -> KoladaSource {
    let RawKolada {
        url,
        kpis,
        municipalities,
        years,
        verify_titles,
        timeout_secs,
        retries,
    } = raw;
    let url = url.unwrap_or_else(|| "https://api.kolada.se/v3".to_string());
    if !matches!(Url::parse(&url), Ok(u) if matches!(u.scheme(), "http" | "https")) {
        p.push(file, "source.url", format!("'{url}' is not an http(s) URL"));
    }
    if kpis.is_empty() {
        p.push(
            file,
            "source.kpis",
            "list at least one KPI with its id and title",
        );
    }
    for (i, k) in kpis.iter().enumerate() {
        if k.id.trim().is_empty()
            || !k
                .id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            p.push(
                file,
                format!("source.kpis[{i}].id"),
                format!("'{}' is not a Kolada KPI id such as N15428", k.id),
            );
        }
        if k.title.trim().is_empty() {
            p.push(
                file,
                format!("source.kpis[{i}].title"),
                "give the KPI's title (it is checked against Kolada)",
            );
        }
    }
    if municipalities.is_empty() && years.is_empty() {
        p.push(
            file,
            "source",
            "name municipalities or years (Kolada has no route for a KPI alone)",
        );
    }
    for (i, m) in municipalities.iter().enumerate() {
        if crate::normalize::kommun::normalize(m).is_none() {
            p.push(
                file,
                format!("source.municipalities[{i}]"),
                format!("'{m}' is not one of the 290 kommun codes"),
            );
        }
    }
    for (i, y) in years.iter().enumerate() {
        if y.len() != 4 || !y.chars().all(|c| c.is_ascii_digit()) {
            p.push(
                file,
                format!("source.years[{i}]"),
                format!("'{y}' is not a year such as 2015"),
            );
        }
    }
    KoladaSource {
        url,
        kpis: kpis
            .into_iter()
            .map(|k| KoladaKpi {
                id: k.id,
                title: k.title,
            })
            .collect(),
        municipalities,
        years,
        verify_titles: verify_titles.unwrap_or(true),
        timeout: Duration::from_secs(timeout_secs.unwrap_or(60)),
        retries: retries.unwrap_or(3),
    }
}

/// Verifies titles, then fetches every page of every request (ids chunked by 25) as one Extract per page.
///
/// Extracts are named `kolada-001.json`, `kolada-002.json` … in request and page order;
/// their location is the page's URL without its query string.
pub async fn fetch(
    client: &reqwest::Client,
    pipeline: &str,
    source: &KoladaSource,
) -> Result<Vec<Extract>> {
    let ctx = Ctx {
        client,
        pipeline,
        timeout: source.timeout,
        retries: source.retries,
    };
    let base = base_url(&ctx, &source.url)?;
    let kpis = ids(
        &ctx,
        &source.url,
        "KPI",
        source.kpis.iter().map(|k| k.id.as_str()),
    )?;
    let municipalities = ids(
        &ctx,
        &source.url,
        "municipality",
        source.municipalities.iter().map(String::as_str),
    )?;
    let years = ids(
        &ctx,
        &source.url,
        "year",
        source.years.iter().map(String::as_str),
    )?;
    if kpis.is_empty() {
        return Err(ctx.fail(&source.url, "no KPIs to fetch".into()));
    }
    if municipalities.is_empty() && years.is_empty() {
        // Kolada has no route for a KPI alone: it wants municipalities, years or both.
        return Err(ctx.fail(
            &source.url,
            "neither municipalities nor years are given; Kolada needs at least one of them".into(),
        ));
    }
    if source.verify_titles {
        verify_titles(&ctx, &base, &source.kpis).await?;
    }
    let requests = data_urls(&base, &kpis, &municipalities, &years)?;
    let extracts = fetch_pages(&ctx, &requests, MAX_PAGES).await?;
    tracing::info!(
        pipeline,
        url = %shown(&source.url),
        requests = requests.len(),
        pages = extracts.len(),
        "kolada: fetched"
    );
    Ok(extracts)
}

/// What every request of one fetch shares.
struct Ctx<'a> {
    client: &'a reqwest::Client,
    pipeline: &'a str,
    timeout: Duration,
    retries: u32,
}

impl Ctx<'_> {
    /// GETs `url` through the shared retry loop.
    async fn get(&self, url: &Url) -> Result<Vec<u8>> {
        send(
            self.pipeline,
            url.as_str(),
            self.timeout,
            self.retries,
            || {
                self.client
                    .get(url.clone())
                    .header(reqwest::header::ACCEPT, "application/json")
            },
        )
        .await
    }

    /// A problem that waiting will not cure (wrong configuration or a misbehaving server).
    fn fail(&self, location: &str, message: String) -> Error {
        Error::Source {
            pipeline: self.pipeline.into(),
            location: shown(location),
            message,
            transient: false,
        }
    }
}

/// Parses the configured base. It must be an http(s) URL that paths can be appended to.
fn base_url(ctx: &Ctx<'_>, url: &str) -> Result<Url> {
    let parsed = Url::parse(url.trim())
        .map_err(|e| ctx.fail(url, format!("the Kolada base URL is not a URL: {e}")))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.cannot_be_a_base() {
        return Err(ctx.fail(
            url,
            "the Kolada base URL must be an http(s) URL such as https://api.kolada.se/v3".into(),
        ));
    }
    Ok(parsed)
}

/// Trims, checks and de-duplicates (keeping order) one kind of id. Ids go into the URL
/// path comma-joined, so a comma, slash or space in one would silently change the request.
fn ids<'a>(
    ctx: &Ctx<'_>,
    url: &str,
    what: &str,
    list: impl IntoIterator<Item = &'a str>,
) -> Result<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    for id in list {
        let id = id.trim();
        let plain = !id.is_empty()
            && id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !plain {
            return Err(ctx.fail(
                url,
                format!("{what} id '{id}' is not a Kolada id (letters, digits, '-' and '_' only)"),
            ));
        }
        if !out.iter().any(|o| o == id) {
            out.push(id.to_string());
        }
    }
    Ok(out)
}

#[cfg(test)]
#[path = "kolada_tests.rs"]
mod tests;
