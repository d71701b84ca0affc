//! Reading query results into plain Rust values: a column of any type cast to text,
//! integers or floats. The one place callers outside the SQL layer (quality gates, the
//! report loader, the demo) turn Arrow arrays into values.

use datafusion::arrow::array::{ArrayRef, Float64Array, Int64Array, StringArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;

use crate::error::{Error, Result};

/// The column as text (any type cast to Utf8).
pub fn texts(a: &ArrayRef) -> Result<Vec<Option<String>>> {
    let a = cast(a, &DataType::Utf8)?;
    let s = a
        .as_any()
        .downcast_ref::<StringArray>()
        .ok_or_else(|| Error::Internal("a column cast to text is not text".into()))?;
    Ok(s.iter().map(|v| v.map(str::to_string)).collect())
}

/// The column as 64-bit integers.
pub fn ints(a: &ArrayRef) -> Result<Vec<Option<i64>>> {
    let a = cast(a, &DataType::Int64)?;
    let s = a
        .as_any()
        .downcast_ref::<Int64Array>()
        .ok_or_else(|| Error::Internal("a column cast to BIGINT is not BIGINT".into()))?;
    Ok(s.iter().collect())
}

/// The column as 64-bit floats.
pub fn floats(a: &ArrayRef) -> Result<Vec<Option<f64>>> {
    let a = cast(a, &DataType::Float64)?;
    let s = a
        .as_any()
        .downcast_ref::<Float64Array>()
        .ok_or_else(|| Error::Internal("a column cast to DOUBLE is not DOUBLE".into()))?;
    Ok(s.iter().collect())
}
