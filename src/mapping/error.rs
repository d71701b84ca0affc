//! Mapping's two kinds of failure: [`MappingError`], a problem of the whole extract (the
//! pipeline wraps it into [`crate::Error::Data`] with the pipeline and file), and
//! [`Invalid`], why one field of one row is not a value (it becomes the row's quarantine
//! reason). The texts are the messages operators and the quarantine table have always
//! shown.

use chrono::NaiveDate;

use crate::normalize::value::ValueError;

/// A problem of the whole extract: every row would fail the same way, so the file fails.
#[derive(Debug, thiserror::Error)]
pub enum MappingError {
    /// A field's (or `unpivot`'s) column is not in the header.
    #[error("{at}: column '{name}' is not in the header (found: {found})")]
    NoColumn {
        /// The key of the pipeline file (`fields.<name>`, `unpivot.columns`).
        at: String,
        /// The column named.
        name: String,
        /// The header's columns, quoted.
        found: String,
    },

    /// A field's column is in the header twice, so which one is meant is unknown.
    #[error(
        "{at}: column '{name}' appears more than once in the header; name the one meant as '{first}' or '{twin}'"
    )]
    TwinColumn {
        /// `fields.<name>`.
        at: String,
        /// The column named.
        name: String,
        /// The first column of that name, as the header has it.
        first: String,
        /// The second, as it is addressable.
        twin: String,
    },

    /// The file name does not match a field's `file_name` pattern.
    #[error("{at}: the file name does not match the pattern {pattern}")]
    FileName {
        /// `fields.<name>`.
        at: String,
        /// The pattern.
        pattern: String,
    },

    /// A field's `cell` is empty or not above the data.
    #[error("{at}: cell {cell} is empty or below the header")]
    Cell {
        /// `fields.<name>`.
        at: String,
        /// The cell, as Excel names it (`B2`).
        cell: String,
    },

    /// A value fixed for the whole file (constant, file name, cell) is not valid.
    #[error("{at}: {reason}")]
    Fixed {
        /// `fields.<name>`.
        at: String,
        /// Why not.
        reason: String,
    },

    /// Mapped rows could not be built into a batch (a bug).
    #[error("{0}")]
    Batch(crate::Error),

    /// A mapping thread panicked (a bug).
    #[error("internal: a mapping thread panicked")]
    Panicked,
}

/// Why a field's text is not a value of its canonical type: the row's quarantine reason
/// (prefixed with the field).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Invalid {
    /// The shared value parsers refused it.
    #[error(transparent)]
    Value(#[from] ValueError),

    /// Not one of a category's codes.
    #[error("expected one of {allowed} (add a value map)")]
    Category {
        /// The codes, comma-separated.
        allowed: String,
    },

    /// A date too far in the future to be meant.
    #[error(
        "the date is after {latest}, more than max_days_ahead = {max_days_ahead} days from today (a wrong column or date format?)"
    )]
    Ahead {
        /// The latest date taken.
        latest: NaiveDate,
        /// The field's `max_days_ahead`.
        max_days_ahead: u32,
    },

    /// A person key that is a personnummer.
    #[error("fields.personnyckel: the value is a personnummer; map the column as personnummer")]
    KeyIsPersonnummer,

    /// A person key too long to be an id.
    #[error("fields.personnyckel: longer than {max} characters (a wrong column?)")]
    KeyTooLong {
        /// The longest key taken.
        max: usize,
    },

    /// A birth year after the record's reference date.
    #[error("fields.fodelsear: {year} lies after the record's reference date {reference}")]
    BornAfter {
        /// The birth year.
        year: i32,
        /// The record's reference date.
        reference: NaiveDate,
    },

    /// A type the row mapping handles itself reached the typed parser (a bug).
    #[error("internal: handled by the caller")]
    HandledByCaller,
}
