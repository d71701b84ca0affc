//! Normalization: raw cells → the shared schema.
//!
//! `schema` is THE schema; `mapping` applies a pipeline's field mappings row by row;
//! `personnummer` and `pseudonym` are the only code that sees identity numbers, and
//! `person` turns a row's person fields (a personnummer or another key) into its columns;
//! `value` parses Swedish numbers, periods and suppression tokens; `kommun` knows the
//! 290 kommun codes; `batch` builds Arrow batches; `keys` finds an aggregate key given
//! twice; `unpivot` turns value columns into rows.

pub mod batch;
pub mod codes;
pub mod keys;
pub mod kommun;
pub mod mapping;
mod person;
pub mod personnummer;
pub mod pseudonym;
pub mod schema;
pub mod unpivot;
pub mod value;
