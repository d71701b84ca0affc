//! Response bodies: query results in the four wire formats, and errors as JSON.

use std::sync::Arc;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::json::writer::JsonArray;
use datafusion::arrow::record_batch::RecordBatch;

use crate::error::Result;

/// An error answer: a status and `{"error": message}`.
#[derive(Debug)]
pub(crate) struct ApiError {
    pub(crate) status: StatusCode,
    pub(crate) message: String,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            // Error texts can echo values; no identity number may leave in one.
            message: crate::normalize::personnummer::scrub(&message.into()),
        }
    }

    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({ "error": self.message });
        (self.status, axum::Json(body)).into_response()
    }
}

/// Wire format of a result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    Json,
    Csv,
    Arrow,
    Parquet,
}

impl Format {
    /// Parses a `format` value; `None` means JSON.
    pub(crate) fn parse(value: Option<&str>) -> Result<Self, ApiError> {
        match value.unwrap_or("json") {
            "json" => Ok(Format::Json),
            "csv" => Ok(Format::Csv),
            "arrow" => Ok(Format::Arrow),
            "parquet" => Ok(Format::Parquet),
            other => Err(ApiError::bad_request(format!(
                "unknown format {other:?}; use json, csv, arrow or parquet"
            ))),
        }
    }

    fn content_type(self) -> &'static str {
        match self {
            Format::Json => "application/json",
            Format::Csv => "text/csv; charset=utf-8",
            Format::Arrow => "application/vnd.apache.arrow.stream",
            Format::Parquet => "application/vnd.apache.parquet",
        }
    }
}

/// `batches` in `format` as a 200 response. `schema` is used when there are no batches,
/// so an empty result still carries its columns (CSV header, Arrow and Parquet schema).
pub(crate) fn rows_response(
    format: Format,
    schema: SchemaRef,
    batches: &[RecordBatch],
) -> Result<Response> {
    // Writers compare each batch with the schema they were opened with; the batches'
    // own schema can differ from the plan's in nullability or metadata.
    let schema = batches.first().map_or(schema, RecordBatch::schema);
    let empty = [RecordBatch::new_empty(schema.clone())];
    let batches = if batches.is_empty() {
        &empty[..]
    } else {
        batches
    };
    let mut buf = Vec::new();
    match format {
        Format::Json => {
            // Explicit nulls: a suppressed `antal` must read as null, not as a missing key.
            let mut w = datafusion::arrow::json::WriterBuilder::new()
                .with_explicit_nulls(true)
                .build::<_, JsonArray>(&mut buf);
            for b in batches {
                w.write(b)?;
            }
            w.finish()?;
        }
        Format::Csv => {
            let mut w = datafusion::arrow::csv::WriterBuilder::new()
                .with_header(true)
                .build(&mut buf);
            for b in batches {
                w.write(b)?;
            }
        }
        Format::Arrow => {
            let mut w = datafusion::arrow::ipc::writer::StreamWriter::try_new(&mut buf, &schema)?;
            for b in batches {
                w.write(b)?;
            }
            w.finish()?;
        }
        Format::Parquet => {
            let mut w = datafusion::parquet::arrow::ArrowWriter::try_new(
                &mut buf,
                Arc::clone(&schema),
                None,
            )?;
            for b in batches {
                w.write(b)?;
            }
            w.close()?;
        }
    }
    let mut resp = (StatusCode::OK, buf).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    Ok(resp)
}
