//! The KPI title check of a Kolada fetch: Kolada redefines KPIs now and then while
//! keeping their ids, so each KPI's title is compared with the one the pipeline was
//! written for before any data is fetched, and every mismatch is reported at once.

use std::collections::HashMap;

use reqwest::Url;
use serde_json::Value;

use super::pages::{page_object, with_path};
use super::{Ctx, KoladaKpi};
use crate::error::Result;

/// Title as compared: trimmed, runs of whitespace as one space.
pub(super) fn normalized(title: &str) -> String {
    title.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Compares every KPI's title with Kolada's metadata; all mismatches and unknown KPIs are
/// reported together so that one run shows everything to fix.
pub(super) async fn verify_titles(ctx: &Ctx<'_>, base: &Url, kpis: &[KoladaKpi]) -> Result<()> {
    let mut actual: HashMap<String, Option<String>> = HashMap::new();
    let mut problems = Vec::new();
    let mut failing: Vec<&str> = Vec::new();
    for kpi in kpis {
        let id = kpi.id.trim();
        if !actual.contains_key(id) {
            let url = with_path(base, &["kpi", id])?;
            let body = ctx.get(&url).await?;
            let title = kpi_title(&body, id).map_err(|m| ctx.fail(url.as_str(), m))?;
            actual.insert(id.to_string(), title);
        }
        let problem = match actual.get(id).and_then(Option::as_deref) {
            None => format!("KPI {id} is unknown to Kolada (expected '{}')", kpi.title),
            Some(title) if normalized(title) != normalized(&kpi.title) => format!(
                "KPI {id}: Kolada's title is '{title}' but the pipeline expects '{}'",
                kpi.title
            ),
            Some(_) => continue,
        };
        problems.push(problem);
        if !failing.contains(&id) {
            failing.push(id);
        }
    }
    if problems.is_empty() {
        return Ok(());
    }
    let location = with_path(base, &["kpi", &failing.join(",")])?;
    Err(ctx.fail(
        location.as_str(),
        format!(
            "KPI title check failed: {}. Kolada may have redefined the KPI: check its definition, then update the pipeline's title (or its KPI id)",
            problems.join("; ")
        ),
    ))
}

/// The title of KPI `id` from a metadata response; `None` when Kolada does not know it.
pub(super) fn kpi_title(bytes: &[u8], id: &str) -> Result<Option<String>, String> {
    let top = page_object(bytes)?;
    let Some(Value::Array(values)) = top.get("values") else {
        return Err("not a Kolada KPI response: no 'values' array".into());
    };
    let Some(entry) = values
        .iter()
        .find(|v| v.get("id").and_then(Value::as_str) == Some(id))
    else {
        return Ok(None);
    };
    match entry.get("title") {
        Some(Value::String(t)) => Ok(Some(t.clone())),
        _ => Err(format!(
            "Kolada's metadata for KPI {id} has no title string"
        )),
    }
}
