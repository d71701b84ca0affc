//! What a client is told when something fails: DataFusion's message for the client's own
//! mistakes, with a fitting SQLSTATE, and nothing of the server's internals.

use datafusion::arrow::error::ArrowError;
use datafusion::error::DataFusionError;
use datafusion::sql::sqlparser::parser::ParserError;
use datafusion_postgres::pgwire::api::{ClientInfo, ErrorHandler, METADATA_USER};
use datafusion_postgres::pgwire::error::{ErrorInfo, PgWireError};

use super::hooks::READ_ONLY;
use crate::normalize::personnummer::scrub;
use crate::published::guard::is_refused_statement;
use crate::published::{LimitExceeded, QueryLimits};

/// Rewrites errors before pgwire sends them.
#[derive(Debug)]
pub(crate) struct Errors {
    pub(crate) limits: QueryLimits,
}

impl ErrorHandler for Errors {
    fn on_error<C>(&self, client: &C, error: &mut PgWireError)
    where
        C: ClientInfo,
    {
        let info = match &*error {
            PgWireError::ApiError(e) => {
                if let Some(df) = e.downcast_ref::<DataFusionError>() {
                    Some(self.query_error(df))
                } else {
                    e.downcast_ref::<ParserError>()
                        .map(|p| info("42601", p.to_string()))
                }
            }
            // SCRAM carries the user name of its own message, which clients leave empty.
            PgWireError::InvalidPassword(_) => {
                // The client chose the name: it may be anything, an identity number too.
                let user = scrub(
                    client
                        .metadata()
                        .get(METADATA_USER)
                        .map_or("", String::as_str),
                );
                tracing::info!(%user, addr = %client.socket_addr(), "password authentication failed");
                Some(ErrorInfo::new(
                    "FATAL".to_string(),
                    "28P01".to_string(),
                    format!("password authentication failed for user \"{user}\""),
                ))
            }
            _ => None,
        };
        if let Some(info) = info {
            *error = PgWireError::UserError(Box::new(info));
        }
    }
}

fn info(code: &str, message: String) -> ErrorInfo {
    ErrorInfo::new("ERROR".to_string(), code.to_string(), message)
}

impl Errors {
    fn query_error(&self, e: &DataFusionError) -> ErrorInfo {
        let root = e.find_root();
        match root {
            DataFusionError::External(inner) => match inner.downcast_ref::<LimitExceeded>() {
                Some(limit @ LimitExceeded::Rows(_)) => info("54000", limit.to_string()),
                Some(limit @ LimitExceeded::Time(_)) => info("57014", limit.to_string()),
                None => internal(e),
            },
            DataFusionError::ResourcesExhausted(_) => info(
                "53200",
                self.limits.memory_exceeded(&root.strip_backtrace()),
            ),
            DataFusionError::Plan(msg) if is_refused_statement(msg) => info(
                READ_ONLY,
                format!("the published views are read-only: {msg}"),
            ),
            DataFusionError::Plan(msg)
                if msg.starts_with("table '") && msg.contains("not found") =>
            {
                info(
                    "42P01",
                    format!("{msg}; only the published views are tables here"),
                )
            }
            DataFusionError::SQL(..) => info("42601", root.strip_backtrace()),
            DataFusionError::Plan(_) | DataFusionError::SchemaError(..) => {
                info("42000", root.strip_backtrace())
            }
            DataFusionError::NotImplemented(_) => info("0A000", root.strip_backtrace()),
            DataFusionError::Execution(_) => info("22000", root.strip_backtrace()),
            // Casts, overflow, division by zero: the query's fault. I/O is the server's.
            DataFusionError::ArrowError(a, _)
                if !matches!(**a, ArrowError::IoError(..) | ArrowError::ExternalError(_)) =>
            {
                info("22000", root.strip_backtrace())
            }
            _ => internal(e),
        }
    }
}

/// The detail only in the log: it may name server paths.
fn internal(e: &DataFusionError) -> ErrorInfo {
    // DataFusion's messages quote the client's literals.
    tracing::error!(error = %scrub(&e.to_string()), "query failed");
    info("XX000", "internal error; see the server log".to_string())
}
