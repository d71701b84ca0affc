//! `SAVEPOINT`, `RELEASE` and `ROLLBACK TO`: drivers nest transactions with them
//! (psycopg's `conn.transaction()` inside a transaction, which SQLAlchemy uses at connect
//! to look up the hstore type). A session here changes nothing, so a savepoint has
//! nothing to keep: they are acknowledged. `ROLLBACK TO` after a failed statement ends
//! the failed transaction as `ROLLBACK` does (pgwire cannot return a transaction from
//! the failed state to the open one), which the client sees in the status it gets back.

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::common::{DFSchema, ParamValues};
use datafusion::logical_expr::{EmptyRelation, LogicalPlan};
use datafusion::prelude::SessionContext;
use datafusion::sql::sqlparser::ast::Statement;
use datafusion_postgres::QueryHook;
use datafusion_postgres::hooks::HookClient;
use datafusion_postgres::pgwire::api::ClientInfo;
use datafusion_postgres::pgwire::api::results::{Response, Tag};
use datafusion_postgres::pgwire::error::{ErrorInfo, PgWireError, PgWireResult};
use datafusion_postgres::pgwire::messages::response::TransactionStatus;

/// Whether `statement` is one of the savepoint commands.
pub(crate) fn is_savepoint_command(statement: &Statement) -> bool {
    matches!(
        statement,
        Statement::Savepoint { .. }
            | Statement::ReleaseSavepoint { .. }
            | Statement::Rollback {
                savepoint: Some(_),
                ..
            }
    )
}

/// The hook answering the savepoint commands.
#[derive(Debug)]
pub(crate) struct Savepoints;

fn respond(statement: &Statement, status: TransactionStatus) -> Option<PgWireResult<Response>> {
    if !is_savepoint_command(statement) {
        return None;
    }
    let failed = status == TransactionStatus::Error;
    Some(match statement {
        Statement::Rollback { .. } if failed => Ok(Response::TransactionEnd(Tag::new("ROLLBACK"))),
        Statement::Rollback { .. } => Ok(Response::Execution(Tag::new("ROLLBACK"))),
        _ if failed => Err(PgWireError::UserError(Box::new(ErrorInfo::new(
            "ERROR".to_string(),
            "25P01".to_string(),
            "current transaction is aborted, commands ignored until end of transaction block"
                .to_string(),
        )))),
        Statement::Savepoint { .. } => Ok(Response::Execution(Tag::new("SAVEPOINT"))),
        _ => Ok(Response::Execution(Tag::new("RELEASE"))),
    })
}

#[async_trait]
impl QueryHook for Savepoints {
    async fn handle_simple_query(
        &self,
        statement: &Statement,
        _session_context: &SessionContext,
        client: &mut dyn HookClient,
    ) -> Option<PgWireResult<Response>> {
        respond(statement, client.transaction_status())
    }

    async fn handle_extended_parse_query(
        &self,
        statement: &Statement,
        _session_context: &SessionContext,
        _client: &(dyn ClientInfo + Send + Sync),
    ) -> Option<PgWireResult<LogicalPlan>> {
        is_savepoint_command(statement).then(|| {
            Ok(LogicalPlan::EmptyRelation(EmptyRelation {
                produce_one_row: false,
                schema: Arc::new(DFSchema::empty()),
            }))
        })
    }

    async fn handle_extended_query(
        &self,
        statement: &Statement,
        _logical_plan: &LogicalPlan,
        _params: &ParamValues,
        _session_context: &SessionContext,
        client: &mut dyn HookClient,
    ) -> Option<PgWireResult<Response>> {
        respond(statement, client.transaction_status())
    }
}
