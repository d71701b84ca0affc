//! The OpenAPI 3.0 description of the API, written by hand (the API is small and a
//! generator crate would be one more dependency to build on CI).

use serde_json::{Value, json};

use super::QueryLimits;

/// The OpenAPI document; `limits` fill in the documented maxima.
pub fn document(limits: &QueryLimits) -> Value {
    let max = limits.max_rows;
    let default_page = 1000.min(max);
    let error = json!({ "$ref": "#/components/responses/Error" });
    let rows = json!({
        "description": "The rows",
        "content": {
            "application/json": { "schema": { "type": "array", "items": { "type": "object" } } },
            "text/csv": { "schema": { "type": "string" } },
            "application/vnd.apache.arrow.stream": { "schema": { "type": "string", "format": "binary" } },
            "application/vnd.apache.parquet": { "schema": { "type": "string", "format": "binary" } }
        }
    });
    let format = json!({
        "name": "format", "in": "query", "required": false,
        "schema": { "type": "string", "enum": ["json", "csv", "arrow", "parquet"], "default": "json" }
    });
    let as_of_text = "Read the set published at this moment instead of the current one: an RFC 3339 time, or a date meaning the end of that day in Swedish time (2026-06-10). Replaced sets are kept for [publish] keep_days; 404 when none published then is kept.";
    let as_of = json!({
        "name": "as_of", "in": "query", "required": false, "description": as_of_text,
        "schema": { "type": "string", "example": "2026-06-10" }
    });
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "malgrupp published views",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Read-only access to the published views of the kartläggning (small counts already suppressed; `<col>_skyddad` flags mark suppressed cells). Record-level tables are not reachable."
        },
        "security": [{ "bearer": [] }],
        "paths": {
            "/healthz": { "get": {
                "summary": "Liveness", "security": [],
                "responses": { "200": { "description": "ok", "content": { "text/plain": { "schema": { "type": "string" } } } } }
            }},
            "/readyz": { "get": {
                "summary": "Readiness: the published folder is readable", "security": [],
                "responses": {
                    "200": { "description": "ready", "content": { "text/plain": { "schema": { "type": "string" } } } },
                    "503": error
                }
            }},
            "/api/v1/views": { "get": {
                "summary": "The published views with their columns and row counts",
                "parameters": [ as_of.clone() ],
                "responses": {
                    "200": { "description": "The views", "content": { "application/json": { "schema": {
                        "type": "array", "items": { "$ref": "#/components/schemas/View" } } } } },
                    "400": error, "401": error, "404": error, "503": error
                }
            }},
            "/api/v1/views/{name}": { "get": {
                "summary": "Rows of one view",
                "description": format!("Every other query parameter is an equality filter on the column of that name; a repeated parameter means any of the values (IN). Rows come in the order of the published file. At most {max} rows per page."),
                "parameters": [
                    { "name": "name", "in": "path", "required": true, "schema": { "type": "string" } },
                    format,
                    as_of,
                    { "name": "limit", "in": "query", "required": false,
                      "schema": { "type": "integer", "minimum": 0, "maximum": max, "default": default_page } },
                    { "name": "offset", "in": "query", "required": false,
                      "schema": { "type": "integer", "minimum": 0, "default": 0 } },
                    { "name": "filters", "in": "query", "required": false, "style": "form", "explode": true,
                      "description": "column=value, e.g. kommun=0880&period=2015-05&period=2015-06",
                      "schema": { "type": "object", "additionalProperties": { "type": "string" } } }
                ],
                "responses": {
                    "200": {
                        "description": "The rows of the page",
                        "headers": {
                            "X-Total-Count": { "description": "Rows matching the filters, all pages", "schema": { "type": "integer" } },
                            "Link": { "description": "`<…&offset=n>; rel=\"next\"` when more rows exist", "schema": { "type": "string" } },
                            "X-Published-At": { "description": "When the set that answered was published (RFC 3339); also on the view list and SQL answers", "schema": { "type": "string", "format": "date-time" } }
                        },
                        "content": rows["content"].clone()
                    },
                    "400": error, "401": error, "404": error, "413": error, "503": error
                }
            }},
            "/api/v1/sql": { "post": {
                "summary": "One read-only SQL query over the published views",
                "description": format!("SELECT, WITH and VALUES only; DDL, DML, statements such as SET and EXPLAIN (plans show server internals) are refused, so are statements with more than {ops} operators (400; write long OR chains as IN (…)) and the || operator (400; write concat(…)). Results over {max} rows are refused (413), so are queries over the memory limit of {} bytes (413) or running longer than {} ms (503).", limits.memory_bytes, limits.timeout.as_millis(), ops = crate::published::guard::MAX_OPERATORS),
                "requestBody": { "required": true, "content": { "application/json": { "schema": {
                    "type": "object", "required": ["sql"], "additionalProperties": false,
                    "properties": {
                        "sql": { "type": "string", "example": "select * from kartlaggning where kommun = '0880'" },
                        "format": { "type": "string", "enum": ["json", "csv", "arrow", "parquet"], "default": "json" },
                        "as_of": { "type": "string", "example": "2026-06-10", "description": as_of_text }
                    }
                } } } },
                "responses": { "200": rows, "400": error, "401": error, "404": error, "408": error, "413": error, "503": error }
            }},
            "/api/v1/reports/{kommun}/{period}": { "get": {
                "summary": "The Bilaga 1 report of a kommun and month from the published views",
                "parameters": [
                    { "name": "kommun", "in": "path", "required": true, "schema": { "type": "string", "pattern": "^[0-9]{4}$" } },
                    { "name": "period", "in": "path", "required": true, "schema": { "type": "string" } },
                    { "name": "format", "in": "query", "schema": { "type": "string", "enum": ["html", "md", "xlsx"], "default": "html" } }
                ],
                "responses": { "200": { "description": "The report: self-contained HTML, Markdown or an xlsx workbook", "content": {
                    "text/html": { "schema": { "type": "string" } },
                    "text/markdown": { "schema": { "type": "string" } },
                    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": { "schema": { "type": "string", "format": "binary" } }
                } }, "400": error, "401": error, "404": error, "503": error }
            }},
            "/api/v1/status": { "get": {
                "summary": "Every pipeline's last run, next scheduled run and freshness (404 when this server runs no pipelines)",
                "responses": { "200": { "description": "One object per pipeline", "content": { "application/json": { "schema": { "type": "array", "items": { "type": "object" } } } } }, "401": error, "404": error }
            }},
            "/api/v1/runs/{pipeline}": { "post": {
                "summary": "Start a run of the pipeline now (in the background); needs an admin token; 409 while a run of it is queued or running",
                "parameters": [ { "name": "pipeline", "in": "path", "required": true, "schema": { "type": "string" } } ],
                "responses": { "202": { "description": "Started; see /api/v1/status and the runs table", "content": { "application/json": { "schema": { "type": "object" } } } }, "401": error, "403": error, "404": error, "409": error, "503": error }
            }},
            "/metrics": { "get": {
                "summary": "Prometheus metrics (admin bearer token unless [serve] metrics_public)",
                "responses": { "200": { "description": "Text exposition format 0.0.4", "content": { "text/plain": { "schema": { "type": "string" } } } }, "401": error, "403": error, "404": error }
            }},
            "/api/v1/openapi.json": { "get": {
                "summary": "This document",
                "responses": { "200": { "description": "OpenAPI 3.0", "content": { "application/json": { "schema": { "type": "object" } } } }, "401": error }
            }}
        },
        "components": {
            "securitySchemes": { "bearer": { "type": "http", "scheme": "bearer" } },
            "responses": { "Error": {
                "description": "An error",
                "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } }
            }},
            "schemas": {
                "Error": { "type": "object", "required": ["error"], "properties": { "error": { "type": "string" } } },
                "View": { "type": "object", "required": ["name", "columns", "rows"], "properties": {
                    "name": { "type": "string" },
                    "rows": { "type": "integer" },
                    "columns": { "type": "array", "items": { "type": "object", "properties": {
                        "name": { "type": "string" },
                        "type": { "type": "string", "description": "Arrow data type, e.g. Utf8, Int64, Boolean" }
                    } } }
                } }
            }
        }
    })
}
