//! The library's error type and `Result` alias.
//!
//! Errors are split the way an operator needs them: problems in the configuration the
//! user wrote (fix the file), a wrong request (fix the command line or the API call),
//! nothing to show for what was asked, problems with a source or its data (fix or wait
//! for the extract), problems in a query, plain I/O, and writing the lake's files. Every message that could carry a raw
//! value from an extract goes through [`crate::normalize::personnummer::scrub`] first,
//! so no identity number can leak into a log line or an error.

use std::fmt;
use std::path::PathBuf;

/// Result with the library's [`Error`] as the default error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// One configuration problem: which file, which field, what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The file the problem is in (pipeline file, settings file or SQL view).
    pub file: String,
    /// The field or key path inside the file, e.g. `fields.kon.values`; empty for the file as a whole.
    pub field: String,
    /// What is wrong and what was expected.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field.is_empty() {
            write!(f, "{}: {}", self.file, self.message)
        } else {
            write!(f, "{}: {}: {}", self.file, self.field, self.message)
        }
    }
}

/// All problems found in one validation pass (validation never stops at the first one).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Problems(pub Vec<Problem>);

impl Problems {
    /// Records a problem.
    pub fn push(
        &mut self,
        file: impl Into<String>,
        field: impl Into<String>,
        message: impl Into<String>,
    ) {
        self.0.push(Problem {
            file: file.into(),
            field: field.into(),
            message: message.into(),
        });
    }

    /// True when nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `Ok(value)` when nothing was recorded, otherwise the collected problems as an error.
    pub fn into_result<T>(self, value: T) -> Result<T> {
        if self.0.is_empty() {
            Ok(value)
        } else {
            Err(Error::Config(self))
        }
    }

    /// Like [`into_result`](Self::into_result) for problems of a request (command-line
    /// arguments, API parameters): [`Error::Usage`].
    pub fn into_usage<T>(self, value: T) -> Result<T> {
        if self.0.is_empty() {
            Ok(value)
        } else {
            Err(Error::Usage(self))
        }
    }
}

impl fmt::Display for Problems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "  - {p}")?;
        }
        Ok(())
    }
}

/// The library's error.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The user's configuration is wrong; every problem found is listed.
    #[error("configuration problems:\n{0}")]
    Config(Problems),

    /// The request is wrong: a command-line argument or an API parameter (HTTP 400).
    #[error("invalid request:\n{0}")]
    Usage(Problems),

    /// Nothing to show for what was asked: nothing published yet, or no data for the
    /// kommun and period (HTTP 404).
    #[error("{0}")]
    NotFound(String),

    /// A source could not be read (missing file, HTTP error, timeout).
    #[error("pipeline {pipeline}: source {location}: {message}")]
    Source {
        /// Pipeline name.
        pipeline: String,
        /// Path or URL (URL without query string).
        location: String,
        /// What went wrong.
        message: String,
        /// Whether trying again later may succeed (timeouts, 5xx, 429).
        transient: bool,
    },

    /// An extract could be read but its content does not fit the pipeline (a whole-file
    /// problem such as a missing column, or too many rejected rows).
    #[error("pipeline {pipeline}: file {file}: {message}")]
    Data {
        /// Pipeline name.
        pipeline: String,
        /// File name of the extract.
        file: String,
        /// What was expected and what was found.
        message: String,
    },

    /// A quality gate of the pipeline failed, so nothing was published: the previous
    /// version stays (stale beats wrong).
    #[error("pipeline {pipeline}: quality gate failed, nothing published: {}", failures.join("; "))]
    Gate {
        /// Pipeline name.
        pipeline: String,
        /// Each failed check, with the partition and the figures.
        failures: Vec<String>,
    },

    /// A SQL query or view failed.
    #[error("query: {0}")]
    Query(#[from] datafusion::error::DataFusionError),

    /// Reading or writing a local file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },

    /// A request to an object store (S3, Azure Blob) failed: a problem of the store, its
    /// credentials or the network.
    #[error("object store {object}: {source}")]
    Store {
        /// The object, as `<scheme>://<bucket>/<path>`.
        object: String,
        /// The store client's error.
        source: object_store::Error,
    },

    /// A table's commit log refused a commit (another writer changed the same files) or
    /// cannot be read: a problem of concurrent writers or of the storage, not a bug.
    #[error("table {table}: {message}")]
    Table {
        /// The table, as its location.
        table: String,
        /// What happened.
        message: String,
    },

    /// A lease a lake's hosts take turns by was lost during work (another host took it
    /// over, or the store did not answer before it expired): the work stopped before it
    /// committed anything.
    #[error("lease {lease}: {message}")]
    Lease {
        /// The lease object, as `<scheme>://<bucket>/<prefix>/_meta/locks/<name>.lease`.
        lease: String,
        /// What happened and what was left as it was.
        message: String,
    },

    /// Encoding or writing a file of the lake or of the published views (Parquet, CSV)
    /// failed: a problem of the storage or the runtime, not of a query or of the data.
    #[error("writing {}: {source}", path.display())]
    Write {
        /// The file being written.
        path: PathBuf,
        /// The writer's error (Parquet or Arrow).
        source: Box<dyn std::error::Error + Send + Sync>,
    },

    /// A bug: an invariant of the program did not hold.
    #[error("internal error (please report): {0}")]
    Internal(String),
}

impl Error {
    /// One invalid request: `field` of `place` (e.g. `--kommun` of `command line`).
    pub fn usage(
        place: impl Into<String>,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        let mut p = Problems::default();
        p.push(place, field, message);
        Error::Usage(p)
    }

    /// Wraps an I/O error with the path it concerns.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    /// Wraps a writer's error with the file it was writing.
    pub fn write(
        path: impl Into<PathBuf>,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        Error::Write {
            path: path.into(),
            source: source.into(),
        }
    }

    /// True for errors a retry may cure (used by the HTTP source and the scheduler).
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Error::Source {
                transient: true,
                ..
            }
        )
    }
}

// Arrow and Parquet errors met while planning or running a query (reading the lake
// included) are the query's. Writing a file is not: writers wrap their errors with
// [`Error::write`] and the file's path instead of using these.
impl From<datafusion::arrow::error::ArrowError> for Error {
    fn from(e: datafusion::arrow::error::ArrowError) -> Self {
        Error::Query(e.into())
    }
}

impl From<datafusion::parquet::errors::ParquetError> for Error {
    fn from(e: datafusion::parquet::errors::ParquetError) -> Self {
        Error::Query(e.into())
    }
}

impl From<crate::schedule::ScheduleError> for Error {
    fn from(e: crate::schedule::ScheduleError) -> Self {
        // Expressions are validated with the pipeline file; what is left is the runner.
        Error::Internal(format!("scheduler: {e}"))
    }
}
