//! The limits that keep one client's query from taking the server down, their
//! validation, and the words a client is told when a query passes one: the same over the
//! HTTP API and the PostgreSQL endpoint, which differ only in how they carry the message
//! (a status code, a SQLSTATE).

use std::fmt;
use std::time::Duration;

use crate::error::Problems;

/// Limits that keep one query from taking the server down.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryLimits {
    /// Memory pool shared by all running queries, in bytes (default 256 MiB). Queries
    /// never spill to disk, so a query that needs more fails instead.
    pub memory_bytes: usize,
    /// Longest a request may run, planning, execution and encoding (default 30 s).
    pub timeout: Duration,
    /// Most rows one response may carry: larger `limit` values and SQL results are
    /// refused (default 100 000).
    pub max_rows: usize,
}

impl Default for QueryLimits {
    fn default() -> Self {
        QueryLimits {
            memory_bytes: 256 * 1024 * 1024,
            timeout: Duration::from_secs(30),
            max_rows: 100_000,
        }
    }
}

impl QueryLimits {
    /// Adds a problem for every zero limit: a zero would refuse every query, which is
    /// never what a configuration means.
    pub fn validate(&self, p: &mut Problems) {
        if self.memory_bytes == 0 {
            p.push("serve", "limits.memory_bytes", "must be greater than 0");
        }
        if self.timeout.is_zero() {
            p.push("serve", "limits.timeout", "must be greater than 0");
        }
        if self.max_rows == 0 {
            p.push("serve", "limits.max_rows", "must be greater than 0");
        }
    }

    /// What a client is told when a query needs more than the memory pool; `detail` is
    /// DataFusion's own message (which operator asked for how much).
    pub(crate) fn memory_exceeded(&self, detail: &str) -> String {
        format!(
            "query needs more memory than the limit of {} bytes; narrow it with filters, fewer columns or aggregation ({detail})",
            self.memory_bytes
        )
    }
}

/// Why a query was stopped by a row or time limit. The PostgreSQL endpoint carries it
/// as `DataFusionError::External` out of the plan; the HTTP API answers it directly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum LimitExceeded {
    /// The result has more rows than allowed.
    Rows(usize),
    /// The query ran longer than allowed.
    Time(Duration),
}

impl fmt::Display for LimitExceeded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LimitExceeded::Rows(n) => write!(
                f,
                "the result has more than {n} rows, the limit; aggregate, filter or add a LIMIT"
            ),
            LimitExceeded::Time(t) => write!(
                f,
                "query cancelled: it ran longer than the limit of {} ms; narrow it with filters or aggregation",
                t.as_millis()
            ),
        }
    }
}

impl std::error::Error for LimitExceeded {}
