//! Normalization: raw cells → the shared schema.
//!
//! `schema` is THE schema; `mapping` applies a pipeline's field mappings row by row;
//! `personnummer` and `pseudonym` are the only code that sees identity numbers;
//! `value` parses Swedish numbers, periods and suppression tokens; `kommun` knows the
//! 290 kommun codes; `batch` builds Arrow batches; `keys` finds an aggregate key given
//! twice; `unpivot` turns value columns into rows.

pub mod batch;
pub mod keys;
pub mod kommun;
pub mod mapping;
pub mod personnummer;
pub mod pseudonym;
pub mod schema;
pub mod unpivot;
pub mod value;
