//! Validated transports of a pipeline (`[source]`): local files, plain HTTP(S), SCB's
//! PxWeb and Kolada, each checked with every problem reported.

use std::time::Duration;

use super::raw::RawSource;
use crate::error::Problems;

/// Where bytes come from.
#[derive(Debug, Clone)]
pub enum Source {
    /// Local path or glob.
    File {
        /// The pattern.
        pattern: String,
    },
    /// HTTP(S).
    Http {
        /// URL.
        url: String,
        /// Timeout per request.
        timeout: Duration,
        /// Retries after transient failures.
        retries: u32,
        /// Headers.
        headers: Vec<(String, HeaderValue)>,
    },
    /// Kolada's KPI API.
    Kolada(crate::source::kolada::KoladaSource),
    /// SCB's PxWeb API (v1 or v2), JSON-stat 2.0 responses.
    Pxweb(crate::source::pxweb::PxwebSource),
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

pub(super) fn validate_source(raw: RawSource, file: &str, p: &mut Problems) -> Source {
    match raw {
        RawSource::File { path } => {
            if path.trim().is_empty() {
                p.push(file, "source.path", "must name a file or glob");
            } else if let Err(e) = glob::Pattern::new(&path) {
                p.push(file, "source.path", format!("not a valid glob: {e}"));
            }
            Source::File { pattern: path }
        }
        RawSource::Http {
            url,
            timeout_secs,
            retries,
            headers,
        } => {
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
            Source::Http {
                url,
                timeout: Duration::from_secs(timeout_secs.unwrap_or(60)),
                retries: retries.unwrap_or(3),
                headers: hs,
            }
        }
        RawSource::Pxweb {
            api,
            url,
            table,
            lang,
            selection,
            max_cells,
            timeout_secs,
            retries,
        } => {
            use crate::source::pxweb::{PxApi, PxwebSource};
            let api = match api.as_str() {
                "v1" => PxApi::V1,
                "v2" => PxApi::V2,
                other => {
                    p.push(file, "source.api", format!("'{other}' is not v1 or v2"));
                    PxApi::V2
                }
            };
            if !matches!(reqwest::Url::parse(&url), Ok(u) if matches!(u.scheme(), "http" | "https"))
            {
                p.push(file, "source.url", format!("'{url}' is not an http(s) URL"));
            }
            match (api, &table) {
                (PxApi::V2, None) => {
                    p.push(file, "source.table", "v2 needs the table id, e.g. TAB638")
                }
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
            Source::Pxweb(PxwebSource {
                api,
                url,
                table,
                lang: lang.unwrap_or_else(|| "sv".into()),
                selection: selection.into_iter().collect(),
                timeout: Duration::from_secs(timeout_secs.unwrap_or(60)),
                retries: retries.unwrap_or(3),
                max_cells,
            })
        }
        RawSource::Kolada {
            url,
            kpis,
            municipalities,
            years,
            verify_titles,
            timeout_secs,
            retries,
        } => {
            let url = url.unwrap_or_else(|| "https://api.kolada.se/v3".to_string());
            if !matches!(reqwest::Url::parse(&url), Ok(u) if matches!(u.scheme(), "http" | "https"))
            {
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
            Source::Kolada(crate::source::kolada::KoladaSource {
                url,
                kpis: kpis
                    .into_iter()
                    .map(|k| crate::source::kolada::KoladaKpi {
                        id: k.id,
                        title: k.title,
                    })
                    .collect(),
                municipalities,
                years,
                verify_titles: verify_titles.unwrap_or(true),
                timeout: Duration::from_secs(timeout_secs.unwrap_or(60)),
                retries: retries.unwrap_or(3),
            })
        }
    }
}
