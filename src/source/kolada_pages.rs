//! The data requests of a Kolada fetch and their pages: one URL per combination of id
//! chunks (at most [`MAX_IDS`] ids per path parameter), each followed through its
//! `next_url` (v3) or `next_page` (v2) links, every page one extract. A link that loops
//! or a request that pages without end stops the run instead of running forever.

use std::collections::HashSet;

use reqwest::Url;
use serde_json::Value;

use super::{Ctx, MAX_IDS, PER_PAGE};
use crate::error::{Error, Result};
use crate::source::Extract;
use crate::source::http::shown;

/// `base` with `segments` appended to its path (a trailing slash of the base is dropped).
pub(super) fn with_path(base: &Url, segments: &[&str]) -> Result<Url> {
    let mut url = base.clone();
    url.path_segments_mut()
        .map_err(|()| Error::Internal(format!("Kolada base URL {base} cannot take a path")))?
        .pop_if_empty()
        .extend(segments);
    Ok(url)
}

/// One data URL per combination of id chunks, KPI chunks outermost.
pub(super) fn data_urls(
    base: &Url,
    kpis: &[String],
    municipalities: &[String],
    years: &[String],
) -> Result<Vec<Url>> {
    // An empty list is one "chunk" that leaves its parameter out of the path.
    let chunks = |list: &[String]| -> Vec<String> {
        if list.is_empty() {
            vec![String::new()]
        } else {
            list.chunks(MAX_IDS).map(|c| c.join(",")).collect()
        }
    };
    let (municipality_chunks, year_chunks) = (chunks(municipalities), chunks(years));
    let mut urls = Vec::new();
    for k in chunks(kpis) {
        for m in &municipality_chunks {
            for y in &year_chunks {
                let mut segments = vec!["data", "kpi", k.as_str()];
                if !m.is_empty() {
                    segments.extend(["municipality", m.as_str()]);
                }
                if !y.is_empty() {
                    segments.extend(["year", y.as_str()]);
                }
                let mut url = with_path(base, &segments)?;
                url.query_pairs_mut().append_pair("per_page", PER_PAGE);
                urls.push(url);
            }
        }
    }
    Ok(urls)
}

/// Fetches every page of every request. A next link to a page already fetched, or more
/// than `max_pages` pages for one request, is an error: such a server would otherwise
/// keep the nightly run busy forever or duplicate rows.
pub(super) async fn fetch_pages(
    ctx: &Ctx<'_>,
    requests: &[Url],
    max_pages: usize,
) -> Result<Vec<Extract>> {
    let mut extracts: Vec<Extract> = Vec::new();
    let mut seen: HashSet<Url> = HashSet::new();
    for first in requests {
        let mut next = Some(first.clone());
        let mut pages = 0;
        while let Some(url) = next.take() {
            let bytes = ctx.get(&url).await?;
            pages += 1;
            seen.insert(url.clone());
            next = next_link(&bytes, &url).map_err(|m| ctx.fail(url.as_str(), m))?;
            if let Some(link) = &next {
                if seen.contains(link) {
                    return Err(ctx.fail(
                        url.as_str(),
                        format!(
                            "the next page link points back to {}, a page already fetched; stopping instead of looping",
                            // Without the query, as every URL in a message (it may carry tokens).
                            shown(link.as_str())
                        ),
                    ));
                }
                if pages >= max_pages {
                    return Err(ctx.fail(
                        first.as_str(),
                        format!(
                            "the server is still paging after {max_pages} pages for one request; stopping"
                        ),
                    ));
                }
            }
            tracing::debug!(pipeline = ctx.pipeline, url = %shown(url.as_str()), page = pages, "kolada: page");
            extracts.push(Extract::in_memory(
                format!("kolada-{:03}.json", extracts.len() + 1),
                shown(url.as_str()),
                bytes,
            ));
        }
    }
    Ok(extracts)
}

/// The next page of a page: `next_url` (v3) or `next_page` (v2), absent or `""` at the end.
/// A relative link is resolved against the page's URL.
pub(super) fn next_link(bytes: &[u8], current: &Url) -> Result<Option<Url>, String> {
    let top = page_object(bytes)?;
    for key in ["next_url", "next_page"] {
        let link = match top.get(key) {
            None | Some(Value::Null) => continue,
            Some(Value::String(s)) if s.trim().is_empty() => continue,
            Some(Value::String(s)) => s.trim(),
            Some(other) => return Err(format!("'{key}' is {other}, expected a URL string")),
        };
        let mut url = current
            .join(link)
            .map_err(|e| format!("'{key}' is '{link}', which is not a URL: {e}"))?;
        match (current.scheme(), url.scheme()) {
            // A server behind a TLS proxy may write its own links as http; never downgrade.
            ("https", "http") if url.host_str() == current.host_str() => {
                // Switching between the two special schemes cannot fail.
                let _ = url.set_scheme("https");
            }
            (_, "http" | "https") => {}
            (_, other) => return Err(format!("'{key}' has scheme '{other}', expected https")),
        }
        return Ok(Some(url));
    }
    Ok(None)
}

/// The top-level object of a Kolada response (a UTF-8 BOM is allowed).
pub(super) fn page_object(bytes: &[u8]) -> Result<serde_json::Map<String, Value>, String> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    match serde_json::from_slice(bytes) {
        Ok(Value::Object(top)) => Ok(top),
        Ok(_) => Err("not a Kolada response: the top level is not a JSON object".into()),
        Err(e) => Err(format!("not a Kolada response: not JSON: {e}")),
    }
}
