//! malgrupp: nightly pipelines that turn municipal and agency extracts into one shared
//! Parquet schema and DataFusion views for the *kartläggning* of young people (16–24)
//! who neither work nor study, per kommun and month.
//!
//! Data flow of one pipeline run:
//!
//! ```text
//! source (file | http) ──bytes──▶ format (csv | xlsx) ──RawTable──▶ mapping
//!        │                                                          │  personnummer → HMAC pseudonym
//!        └─▶ lake/raw (content-addressed)                           ▼
//!                            lake: stage + fsync + rename ◀── Arrow batches ── quarantine
//!                                        │
//!                            query: SessionContext (tables + sql/*.sql views)
//!                                        │
//!                            publish: suppressed views ─▶ <lake>/published/
//!                                        │
//!                            published: the one reader ─▶ serve (HTTP), pgwire, export, report
//! ```

pub mod audit;
pub mod checks;
pub mod cli;
pub mod config;
pub mod error;
pub mod format;
pub mod lake;
pub mod mapping;
pub mod normalize;
pub mod pgwire;
pub mod pipeline;
pub mod progress;
pub mod publish;
pub mod published;
pub mod query;
pub mod report;
pub mod runtime;
pub mod schedule;
pub mod serve;
pub mod service;
pub mod source;

pub use error::{Error, Result};
