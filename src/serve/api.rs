//! The handlers: health, the view list, rows of one view, read-only SQL, the OpenAPI
//! document.
//!
//! Filters are built as DataFusion expressions on typed literals, never as SQL text, so
//! a parameter value can only ever be a value.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{FromRequest, Path, Query, Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use datafusion::common::{ScalarValue, TableReference};
use datafusion::error::DataFusionError;
use datafusion::logical_expr::{Expr, LogicalPlan};
use datafusion::prelude::{DataFrame, ident, lit};
use datafusion::sql::sqlparser::dialect::GenericDialect;
use serde::Deserialize;

use super::encode::{ApiError, parse_format, rows_response};
use super::listener::BODY_READ_TIMEOUT;
use super::safety::{api_error, published_session, published_set, run_limited, stamp};
use super::{App, QueryLimits};
use crate::error::Error;
use crate::published::{self, LimitExceeded, guard};
use crate::query::output::Encoding;

/// Page size when the request names none (or the row limit, if that is smaller).
const DEFAULT_PAGE: usize = 1000;

/// Query parameters of the view endpoint that are not column filters.
const RESERVED: [&str; 4] = ["format", "limit", "offset", "as_of"];

/// `GET /healthz`: the process is up.
pub(crate) async fn healthz() -> &'static str {
    "ok"
}

/// `GET /readyz`: the published folder can be listed, and the service (if any) has
/// finished its start-up catch-up.
pub(crate) async fn readyz(State(app): State<Arc<App>>) -> Response {
    if app.operations.as_ref().is_some_and(|o| !o.ready()) {
        return ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "starting: catching up on missed runs",
        )
        .into_response();
    }
    match published::open(&app.published_dir).await {
        Ok(_) => "ready".into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "not ready");
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "the published views are not readable",
            )
            .into_response()
        }
    }
}

/// Any other path (behind auth).
pub(crate) async fn not_found() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "no such endpoint; GET /api/v1/openapi.json lists them",
    )
}

/// `GET /api/v1/openapi.json`.
pub(crate) async fn openapi(State(app): State<Arc<App>>) -> Json<serde_json::Value> {
    Json(super::openapi::document(&app.limits))
}

/// Query parameters of the view list.
#[derive(Debug, Deserialize)]
pub(crate) struct ListRequest {
    as_of: Option<String>,
}

/// `GET /api/v1/views[?as_of=]`: name, columns and row count of every published view.
pub(crate) async fn list_views(
    State(app): State<Arc<App>>,
    query: Result<Query<ListRequest>, QueryRejection>,
) -> Response {
    let dir = match query
        .map_err(|e| ApiError::bad_request(e.body_text()))
        .and_then(|Query(q)| published_set(&app, q.as_of.as_deref()))
    {
        Ok(dir) => dir,
        Err(e) => return e.into_response(),
    };
    let a = app.clone();
    run_limited(&app, async move {
        let fail = |e: Error| api_error(e, &a.limits);
        let (ctx, names) = published_session(&a, 1, &dir).await.map_err(fail)?;
        let mut views = Vec::with_capacity(names.len());
        for name in names {
            let df = ctx
                .table(TableReference::bare(name.clone()))
                .await
                .map_err(|e| fail(e.into()))?;
            let columns: Vec<_> = df
                .schema()
                .fields()
                .iter()
                .map(|f| serde_json::json!({ "name": f.name(), "type": f.data_type().to_string() }))
                .collect();
            let rows = df.count().await.map_err(|e| fail(e.into()))?;
            views.push(serde_json::json!({ "name": name, "columns": columns, "rows": rows }));
        }
        Ok(stamp(Json(views).into_response(), &dir))
    })
    .await
}

/// What `GET /api/v1/views/{name}` was asked for.
struct ViewRequest {
    format: Encoding,
    limit: usize,
    offset: usize,
    /// The moment whose published set is read (`as_of`), as the client wrote it.
    as_of: Option<String>,
    /// Column → accepted values (one: equality, several: IN).
    filters: BTreeMap<String, Vec<String>>,
}

impl ViewRequest {
    fn parse(params: Vec<(String, String)>, max_rows: usize) -> Result<Self, ApiError> {
        let mut reserved: BTreeMap<&str, String> = BTreeMap::new();
        let mut filters: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (k, v) in params {
            if let Some(r) = RESERVED.iter().find(|r| **r == k) {
                if reserved.insert(r, v).is_some() {
                    return Err(ApiError::bad_request(format!(
                        "parameter {k:?} given more than once"
                    )));
                }
            } else {
                filters.entry(k).or_default().push(v);
            }
        }
        let number = |key: &str, default: usize, max: usize| -> Result<usize, ApiError> {
            match reserved.get(key) {
                None => Ok(default),
                Some(v) => v
                    .parse::<usize>()
                    .ok()
                    .filter(|n| *n <= max)
                    .ok_or_else(|| {
                        ApiError::bad_request(format!(
                            "{key} must be a whole number from 0 to {max}, not {v:?}"
                        ))
                    }),
            }
        };
        Ok(ViewRequest {
            format: parse_format(reserved.get("format").map(String::as_str))?,
            limit: number("limit", DEFAULT_PAGE.min(max_rows), max_rows)?,
            offset: number("offset", 0, usize::MAX)?,
            as_of: reserved.remove("as_of"),
            filters,
        })
    }
}

/// `GET /api/v1/views/{name}`: rows of one view, filtered and paged.
pub(crate) async fn view_rows(
    State(app): State<Arc<App>>,
    name: Result<Path<String>, PathRejection>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
    uri: Uri,
) -> Response {
    let name = match name {
        Ok(Path(n)) => n,
        Err(e) => return ApiError::bad_request(e.body_text()).into_response(),
    };
    let request = match query
        .map_err(|e| ApiError::bad_request(e.body_text()))
        .and_then(|Query(p)| ViewRequest::parse(p, app.limits.max_rows))
    {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    let dir = match published_set(&app, request.as_of.as_deref()) {
        Ok(dir) => dir,
        Err(e) => return e.into_response(),
    };
    let a = app.clone();
    run_limited(&app, async move {
        let limits = &a.limits;
        let fail = |e: DataFusionError| api_error(Error::Query(e), limits);
        let (ctx, names) = published_session(&a, 1, &dir)
            .await
            .map_err(|e| api_error(e, limits))?;
        if !names.contains(&name) {
            return Err(ApiError::new(
                StatusCode::NOT_FOUND,
                format!("no published view named {name:?}; GET /api/v1/views lists them"),
            ));
        }
        let mut df = ctx
            .table(TableReference::bare(name.clone()))
            .await
            .map_err(fail)?;
        for (column, values) in &request.filters {
            let predicate = filter(&df, &name, column, values)?;
            df = df.filter(predicate).map_err(fail)?;
        }
        let total = df.clone().count().await.map_err(fail)?;
        let schema = df.schema().inner().clone();
        let batches = df
            .limit(request.offset, Some(request.limit))
            .map_err(fail)?
            .collect()
            .await
            .map_err(fail)?;
        let mut resp = stamp(
            rows_response(request.format, schema, &batches).map_err(|e| api_error(e, limits))?,
            &dir,
        );
        let h = resp.headers_mut();
        h.insert(HeaderName::from_static("x-total-count"), total.into());
        let next = request.offset.saturating_add(request.limit);
        if request.limit > 0 && next < total {
            // Built from the request's own raw query, so every filter is kept exactly as
            // the client encoded it.
            let link = format!("<{}>; rel=\"next\"", next_page(&uri, next));
            if let Ok(v) = HeaderValue::from_str(&link) {
                h.insert(header::LINK, v);
            }
        }
        Ok(resp)
    })
    .await
}

/// `column IN values` with each value cast to the column's type (a value that is not
/// one is a 400, not a silently empty result).
fn filter(df: &DataFrame, view: &str, column: &str, values: &[String]) -> Result<Expr, ApiError> {
    let field = df
        .schema()
        .field_with_unqualified_name(column)
        .map_err(|_| {
            let columns: Vec<&str> = df.schema().fields().iter().map(|f| f.name().as_str()).collect();
            ApiError::bad_request(format!(
                "unknown column {column:?} in view {view:?}; filter on one of: {}; other parameters: format, limit, offset, as_of",
                columns.join(", ")
            ))
        })?;
    let mut literals = Vec::with_capacity(values.len());
    for v in values {
        let value = ScalarValue::Utf8(Some(v.clone()))
            .cast_to(field.data_type())
            .ok()
            .filter(|s| !s.is_null())
            .ok_or_else(|| {
                ApiError::bad_request(format!(
                    "{v:?} is not a valid value for column {column:?} of type {}",
                    field.data_type()
                ))
            })?;
        literals.push(lit(value));
    }
    let c = ident(column);
    Ok(match literals.len() {
        1 => c.eq(literals.remove(0)),
        _ => c.in_list(literals, false),
    })
}

/// The request's path and query with `offset` replaced by `offset`.
fn next_page(uri: &Uri, offset: usize) -> String {
    let mut parts: Vec<String> = uri
        .query()
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty() && p.split('=').next() != Some("offset"))
        .map(str::to_string)
        .collect();
    parts.push(format!("offset={offset}"));
    format!("{}?{}", uri.path(), parts.join("&"))
}

/// Body of `POST /api/v1/sql`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SqlRequest {
    sql: String,
    #[serde(default)]
    format: Option<String>,
    /// Read the set published at this time or date instead of the current one.
    #[serde(default)]
    as_of: Option<String>,
}

/// `POST /api/v1/sql`: one read-only statement over the published views.
pub(crate) async fn sql(State(app): State<Arc<App>>, request: Request) -> Response {
    // Read here rather than by an extractor, so a body that is late is cut off.
    let Ok(body) = tokio::time::timeout(BODY_READ_TIMEOUT, Bytes::from_request(request, &())).await
    else {
        return ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            format!(
                "the request body did not arrive within {} s of its head",
                BODY_READ_TIMEOUT.as_secs()
            ),
        )
        .into_response();
    };
    let parsed = body
        .map_err(|e| ApiError::new(e.status(), e.body_text()))
        .and_then(|b| {
            serde_json::from_slice::<SqlRequest>(&b).map_err(|e| {
                ApiError::bad_request(format!(
                    "the body must be JSON {{\"sql\": \"select …\", \"format\": \"json|csv|arrow|parquet\", \"as_of\": \"2026-06-10\" (optional)}}: {e}"
                ))
            })
        })
        .and_then(|r| {
            let dir = published_set(&app, r.as_of.as_deref())?;
            Ok((parse_format(r.format.as_deref())?, r.sql, dir))
        });
    let (format, text, dir) = match parsed {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    let a = app.clone();
    run_limited(&app, async move { run_sql(&a, &text, format, &dir).await }).await
}

async fn run_sql(
    app: &App,
    text: &str,
    format: Encoding,
    dir: &std::path::Path,
) -> Result<Response, ApiError> {
    let limits: &QueryLimits = &app.limits;
    let fail = |e: DataFusionError| api_error(Error::Query(e), limits);
    // Before the parser: DataFusion's dialect here is the generic one.
    guard::check_text(text, &GenericDialect {})
        .map_err(|refused| ApiError::bad_request(refused.to_string()))?;
    let (ctx, _) = published_session(app, 2, dir)
        .await
        .map_err(|e| api_error(e, limits))?;
    // Refuses every statement that would change something at planning time.
    let df = ctx
        .sql_with_options(text, guard::read_only())
        .await
        .map_err(fail)?;
    if matches!(
        df.logical_plan(),
        LogicalPlan::Explain(_) | LogicalPlan::Analyze(_)
    ) {
        return Err(ApiError::bad_request(guard::EXPLAIN_REFUSED));
    }
    let schema = df.schema().inner().clone();
    // One row more than allowed tells "too many" apart from "exactly the limit" without
    // producing the whole result.
    let batches = df
        .limit(0, Some(limits.max_rows.saturating_add(1)))
        .map_err(fail)?
        .collect()
        .await
        .map_err(fail)?;
    let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
    if rows > limits.max_rows {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            LimitExceeded::Rows(limits.max_rows).to_string(),
        ));
    }
    let resp = rows_response(format, schema, &batches).map_err(|e| api_error(e, limits))?;
    Ok(stamp(resp, dir))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_page_replaces_only_offset() {
        let uri: Uri = "/api/v1/views/k?kommun=0880&offset=2&limit=2&kon=K%C3%B6n"
            .parse()
            .expect("uri");
        assert_eq!(
            next_page(&uri, 4),
            "/api/v1/views/k?kommun=0880&limit=2&kon=K%C3%B6n&offset=4"
        );
    }

    #[test]
    fn repeated_reserved_parameter_is_refused() {
        let p = vec![("limit".to_string(), "1".to_string()); 2];
        assert!(ViewRequest::parse(p, 10).is_err());
        let p = vec![("limit".to_string(), "11".to_string())];
        assert!(ViewRequest::parse(p, 10).is_err());
    }
}
