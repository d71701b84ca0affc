//! Response bodies: query results in the encodings the API offers (written by
//! `query::output`) with their content types, and errors as JSON.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;

use crate::error::Result;
use crate::query::output::{self, Encoding, Rows};

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

/// The encodings the API answers rows in, in the order its errors list them.
const OFFERED: &[Encoding] = &[
    Encoding::Json,
    Encoding::Csv,
    Encoding::Arrow,
    Encoding::Parquet,
];

/// Parses a `format` value among the API's encodings; `None` means JSON.
pub(crate) fn parse_format(value: Option<&str>) -> Result<Encoding, ApiError> {
    let name = value.unwrap_or("json");
    Encoding::parse(name, OFFERED).ok_or_else(|| {
        ApiError::bad_request(format!(
            "unknown format {name:?}; use {}",
            Encoding::list(OFFERED)
        ))
    })
}

/// `batches` in `encoding` as a 200 response. `schema` is used when there are no
/// batches, so an empty result still carries its columns (CSV header, Arrow and Parquet
/// schema).
pub(crate) fn rows_response(
    encoding: Encoding,
    schema: SchemaRef,
    batches: &[RecordBatch],
) -> Result<Response> {
    let rows = Rows {
        name: "result",
        schema: &schema,
        batches,
    };
    let mut resp = (StatusCode::OK, output::encode(rows, encoding)?).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(encoding.content_type()),
    );
    Ok(resp)
}
