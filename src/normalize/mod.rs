//! The shared schema and the parsers every stage relies on; it imports no stage.
//!
//! `schema` is THE schema; `personnummer` and `pseudonym` are the only code that sees
//! identity numbers (`crate::mapping` applies them row by row); `value` parses Swedish
//! numbers, periods and suppression tokens; `kommun` knows the 290 kommun codes; `codes`
//! the canonical code lists.

pub mod codes;
pub mod kommun;
pub mod personnummer;
pub mod pseudonym;
pub mod schema;
pub mod value;
