//! The query hooks of a connection: what a client may send, and how a read is planned.
//!
//! Every statement, in the simple and in the extended protocol, passes [`ReadOnly`]
//! first: reads (SELECT, WITH, VALUES, DESCRIBE, SHOW) go on, EXPLAIN is refused (a
//! plan shows the server's file paths),
//! transaction control (savepoints to `compat`) and the SET of client session parameters
//! go to datafusion-postgres' own hooks, other SETs are acknowledged and ignored, and
//! everything else (CREATE, INSERT, DROP, COPY, cursors, …) is refused. The last hook,
//! [`Reads`], refreshes the published tables, rewrites what DataFusion does not plan
//! (`compat`), plans the read, makes `||` bounded and checks the plan with
//! DataFusion's `SQLOptions` (no DDL, DML or state-changing statement, which also catches
//! `SELECT … INTO`), so no plan that changes anything ever reaches execution.

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::common::{DFSchema, ParamValues};
use datafusion::logical_expr::{EmptyRelation, LogicalPlan};
use datafusion::prelude::SessionContext;
use datafusion::sql::parser::Statement as DfStatement;
use datafusion::sql::sqlparser::ast::{Set, Statement};
use datafusion_postgres::QueryHook;
use datafusion_postgres::arrow_pg::datatypes::df::encode_dataframe;
use datafusion_postgres::hooks::HookClient;
use datafusion_postgres::pgwire::api::ClientInfo;
use datafusion_postgres::pgwire::api::portal::Format;
use datafusion_postgres::pgwire::api::results::{Response, Tag};
use datafusion_postgres::pgwire::error::{ErrorInfo, PgWireError, PgWireResult};
use datafusion_postgres::pgwire::types::format::FormatOptions;
use tokio::sync::Mutex;

use super::compat::{bounded_concat_operator, rewrite_statement};
use super::session::Published;
use crate::normalize::personnummer::scrub;
use crate::published::guard::{self, EXPLAIN_REFUSED};

/// SQLSTATE `read_only_sql_transaction`.
pub(crate) const READ_ONLY: &str = "25006";

/// Session parameters of the client that datafusion-postgres' `SetShowHook` keeps in the
/// connection (not in DataFusion's configuration).
const SESSION_PARAMETERS: [&str; 7] = [
    "statement_timeout",
    "datestyle",
    "bytea_output",
    "intervalstyle",
    "application_name",
    "extra_float_digits",
    "search_path",
];

/// What [`ReadOnly`] does with a statement.
#[derive(Debug, PartialEq, Eq)]
enum Verdict {
    /// A read: planned and checked by [`Reads`].
    Read,
    /// Handled by datafusion-postgres' SET/SHOW or transaction hook, or `SET
    /// malgrupp.as_of` by [`super::as_of::SessionAsOf`].
    Pass,
    /// A SET that changes nothing here: acknowledged, ignored.
    Ignore,
    /// Refused with this message: it would change something.
    Refuse(String),
    /// Refused with this message: not offered here (SQLSTATE 0A000).
    Unsupported(String),
}

fn verdict(statement: &Statement) -> Verdict {
    match statement {
        Statement::Query(_)
        | Statement::ExplainTable { .. }
        | Statement::ShowTables { .. }
        | Statement::ShowColumns { .. } => Verdict::Read,
        // A plan names the server's files (absolute paths) and settings.
        Statement::Explain { .. } => Verdict::Unsupported(EXPLAIN_REFUSED.to_string()),
        Statement::ShowVariable { .. }
        | Statement::ShowStatus { .. }
        | Statement::ShowCatalogs { .. }
        | Statement::StartTransaction { .. }
        | Statement::Commit { .. }
        | Statement::Rollback { .. }
        // Answered by `compat::Savepoints`: there is nothing to roll back to.
        | Statement::Savepoint { .. }
        | Statement::ReleaseSavepoint { .. } => Verdict::Pass,
        Statement::Set(set) => set_verdict(set),
        other => Verdict::Refuse(refusal(&command(other))),
    }
}

fn set_verdict(set: &Set) -> Verdict {
    match set {
        Set::SingleAssignment {
            scope: None,
            hivevar: false,
            variable,
            ..
        } => {
            let name = variable.to_string().to_ascii_lowercase();
            if name == super::as_of::PARAMETER {
                Verdict::Pass
            } else if name.starts_with("datafusion.") {
                // The engine's settings (memory, spilling, …) belong to the server.
                Verdict::Refuse(format!(
                    "SET {name} is not allowed: the server's settings cannot be changed by a client"
                ))
            } else if SESSION_PARAMETERS.contains(&name.as_str()) {
                Verdict::Pass
            } else {
                Verdict::Ignore
            }
        }
        Set::SetTimeZone { local: false, .. } => Verdict::Pass,
        // SET SESSION CHARACTERISTICS, SET ROLE, SET NAMES, SET TRANSACTION …: drivers
        // send these; nothing here depends on them.
        _ => Verdict::Ignore,
    }
}

/// `CREATE TABLE`, `INSERT`, `DROP VIEW`, … : the command of a statement as a client wrote it.
fn command(statement: &Statement) -> String {
    let text = statement.to_string();
    let mut words = text.split_whitespace();
    let first = words.next().unwrap_or("").to_ascii_uppercase();
    if matches!(first.as_str(), "CREATE" | "DROP" | "ALTER") {
        const MODIFIERS: [&str; 10] = [
            "OR",
            "REPLACE",
            "TEMPORARY",
            "TEMP",
            "EXTERNAL",
            "UNLOGGED",
            "GLOBAL",
            "LOCAL",
            "MATERIALIZED",
            "UNIQUE",
        ];
        if let Some(object) = words
            .map(str::to_ascii_uppercase)
            .find(|w| !MODIFIERS.contains(&w.as_str()))
        {
            return format!("{first} {object}");
        }
    }
    first
}

fn refusal(command: &str) -> String {
    format!(
        "cannot execute {command}: the published views are read-only; only SELECT, WITH, VALUES, SHOW and SET of session parameters are allowed"
    )
}

fn unsupported_error(message: impl Into<String>) -> PgWireError {
    PgWireError::UserError(Box::new(ErrorInfo::new(
        "ERROR".to_string(),
        "0A000".to_string(),
        message.into(),
    )))
}

pub(crate) fn read_only_error(message: impl Into<String>) -> PgWireError {
    PgWireError::UserError(Box::new(ErrorInfo::new(
        "ERROR".to_string(),
        READ_ONLY.to_string(),
        message.into(),
    )))
}

fn api(e: impl std::error::Error + Send + Sync + 'static) -> PgWireError {
    PgWireError::ApiError(Box::new(e))
}

/// A plan for statements answered by a hook at execution (an ignored SET).
pub(crate) fn no_rows() -> LogicalPlan {
    LogicalPlan::EmptyRelation(EmptyRelation {
        produce_one_row: false,
        schema: Arc::new(DFSchema::empty()),
    })
}

/// The first hook: refuses everything that is not a read, a transaction command or a
/// SET of a session parameter.
#[derive(Debug)]
pub(crate) struct ReadOnly;

impl ReadOnly {
    fn check(statement: &Statement) -> Option<PgWireResult<Response>> {
        match verdict(statement) {
            Verdict::Read | Verdict::Pass => None,
            Verdict::Ignore => {
                tracing::debug!(statement = %scrub(&statement.to_string()), "SET ignored");
                Some(Ok(Response::Execution(Tag::new("SET"))))
            }
            Verdict::Refuse(message) => {
                tracing::info!(statement = %scrub(&statement.to_string()), "statement refused");
                Some(Err(read_only_error(message)))
            }
            Verdict::Unsupported(message) => Some(Err(unsupported_error(message))),
        }
    }
}

#[async_trait]
impl QueryHook for ReadOnly {
    async fn handle_simple_query(
        &self,
        statement: &Statement,
        _session_context: &SessionContext,
        _client: &mut dyn HookClient,
    ) -> Option<PgWireResult<Response>> {
        Self::check(statement)
    }

    async fn handle_extended_parse_query(
        &self,
        statement: &Statement,
        _session_context: &SessionContext,
        _client: &(dyn ClientInfo + Send + Sync),
    ) -> Option<PgWireResult<LogicalPlan>> {
        match verdict(statement) {
            Verdict::Read | Verdict::Pass => None,
            Verdict::Ignore => Some(Ok(no_rows())),
            Verdict::Refuse(message) => {
                tracing::info!(statement = %scrub(&statement.to_string()), "statement refused");
                Some(Err(read_only_error(message)))
            }
            Verdict::Unsupported(message) => Some(Err(unsupported_error(message))),
        }
    }

    async fn handle_extended_query(
        &self,
        statement: &Statement,
        _logical_plan: &LogicalPlan,
        _params: &ParamValues,
        _session_context: &SessionContext,
        _client: &mut dyn HookClient,
    ) -> Option<PgWireResult<Response>> {
        Self::check(statement)
    }
}

/// The last hook: plans every read over the published views as they are on disk now,
/// refusing any plan that would change something.
#[derive(Debug)]
pub(crate) struct Reads {
    published: Arc<Mutex<Published>>,
}

impl Reads {
    /// Reads over `published`, shared with the connection's [`super::as_of::SessionAsOf`].
    pub(crate) fn new(published: Arc<Mutex<Published>>) -> Self {
        Reads { published }
    }

    async fn plan(&self, statement: &Statement, ctx: &SessionContext) -> PgWireResult<LogicalPlan> {
        self.published
            .lock()
            .await
            .refresh(ctx)
            .await
            .map_err(|e| match e {
                // `SET malgrupp.as_of` names a moment whose set is not kept.
                crate::error::Error::NotFound(message) => {
                    PgWireError::UserError(Box::new(ErrorInfo::new(
                        "ERROR".to_string(),
                        super::as_of::INVALID_VALUE.to_string(),
                        message,
                    )))
                }
                e => {
                    tracing::warn!(error = %e, "published views not readable");
                    PgWireError::UserError(Box::new(ErrorInfo::new(
                        "ERROR".to_string(),
                        "58030".to_string(),
                        "the published views are not readable right now".to_string(),
                    )))
                }
            })?;
        let statement = rewrite_statement(statement.clone()).map_err(api)?;
        let plan = ctx
            .state()
            .statement_to_plan(DfStatement::Statement(Box::new(statement)))
            .await
            .map_err(api)?;
        // Before anything runs: `||` evaluated within the memory limit.
        let plan = bounded_concat_operator(plan, ctx).map_err(api)?;
        guard::read_only().verify_plan(&plan).map_err(api)?;
        Ok(plan)
    }
}

#[async_trait]
impl QueryHook for Reads {
    async fn handle_simple_query(
        &self,
        statement: &Statement,
        session_context: &SessionContext,
        client: &mut dyn HookClient,
    ) -> Option<PgWireResult<Response>> {
        if verdict(statement) != Verdict::Read {
            return None;
        }
        let result = async {
            let plan = self.plan(statement, session_context).await?;
            let df = session_context
                .execute_logical_plan(plan)
                .await
                .map_err(api)?;
            let options = Arc::new(FormatOptions::from_client_metadata(client.metadata()));
            // The simple protocol always answers in text. The rows are produced while
            // pgwire sends them, under the limits in the plan.
            let response = encode_dataframe(df, &Format::UnifiedText, Some(options)).await?;
            Ok(Response::Query(response))
        }
        .await;
        Some(result)
    }

    async fn handle_extended_parse_query(
        &self,
        statement: &Statement,
        session_context: &SessionContext,
        _client: &(dyn ClientInfo + Send + Sync),
    ) -> Option<PgWireResult<LogicalPlan>> {
        if verdict(statement) != Verdict::Read {
            return None;
        }
        // The checked plan is what datafusion-postgres binds the parameters into and
        // executes, encoding in the formats the client asked for.
        Some(self.plan(statement, session_context).await)
    }

    async fn handle_extended_query(
        &self,
        _statement: &Statement,
        _logical_plan: &LogicalPlan,
        _params: &ParamValues,
        _session_context: &SessionContext,
        _client: &mut dyn HookClient,
    ) -> Option<PgWireResult<Response>> {
        None
    }
}

#[cfg(test)]
mod tests {
    use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
    use datafusion::sql::sqlparser::parser::Parser;

    use super::*;

    fn v(sql: &str) -> Verdict {
        let mut statements = Parser::parse_sql(&PostgreSqlDialect {}, sql).expect("parses");
        verdict(&statements.remove(0))
    }

    #[test]
    fn reads_pass_and_changes_are_refused_by_name() {
        for sql in [
            "select 1",
            "with a as (select 1) select * from a",
            "values (1)",
            "show tables",
        ] {
            assert_eq!(v(sql), Verdict::Read, "{sql}");
        }
        for (sql, cmd) in [
            ("create table x(a int)", "CREATE TABLE"),
            ("create or replace view v as select 1", "CREATE VIEW"),
            ("insert into kartlaggning values (1)", "INSERT"),
            ("drop table kartlaggning", "DROP TABLE"),
            ("copy kartlaggning to '/tmp/x'", "COPY"),
            ("declare c cursor for select 1", "DECLARE"),
            ("update kartlaggning set antal = 1", "UPDATE"),
            ("delete from kartlaggning", "DELETE"),
        ] {
            match v(sql) {
                Verdict::Refuse(msg) => {
                    assert!(msg.starts_with(&format!("cannot execute {cmd}:")), "{msg}");
                    assert!(msg.contains("read-only"), "{msg}");
                }
                other => panic!("{sql}: {other:?}"),
            }
        }
    }

    #[test]
    fn explain_is_not_offered() {
        for sql in [
            "explain select 1",
            "explain analyze select 1",
            "explain insert into t values (1)",
        ] {
            assert_eq!(
                v(sql),
                Verdict::Unsupported(EXPLAIN_REFUSED.to_string()),
                "{sql}"
            );
        }
    }

    #[test]
    fn only_session_parameters_are_set() {
        assert_eq!(v("set extra_float_digits = 3"), Verdict::Pass);
        assert_eq!(v("set malgrupp.as_of = '2026-06-10'"), Verdict::Pass);
        assert_eq!(v("set time zone 'UTC'"), Verdict::Pass);
        assert_eq!(v("set client_min_messages = warning"), Verdict::Ignore);
        assert_eq!(
            v("set session characteristics as transaction read only"),
            Verdict::Ignore
        );
        assert!(matches!(
            v("set datafusion.runtime.memory_limit = '100G'"),
            Verdict::Refuse(_)
        ));
        assert_eq!(v("begin"), Verdict::Pass);
        assert_eq!(v("savepoint \"_pg3_1\""), Verdict::Pass);
        assert_eq!(v("release \"_pg3_1\""), Verdict::Pass);
        assert_eq!(v("rollback to \"_pg3_1\""), Verdict::Pass);
    }
}
