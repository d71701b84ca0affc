//! `SET malgrupp.as_of = '2026-06-10'`: a session reading the views as they were
//! published at an earlier moment ("what did we publish on 10 June?"), as the HTTP API's
//! `as_of` and `malgrupp export --as-of` do. The value is a time (RFC 3339) or a date,
//! meaning the end of that day in Swedish time; `DEFAULT` or `''` goes back to the
//! current set; `SHOW malgrupp.as_of` answers the moment (RFC 3339, `''` for the current
//! set). A moment whose set is no longer kept (`[publish] keep_days`) fails the reads
//! after it, saying so.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use datafusion::common::ParamValues;
use datafusion::logical_expr::LogicalPlan;
use datafusion::prelude::SessionContext;
use datafusion::sql::sqlparser::ast::{Expr, Set, Statement, Value};
use datafusion_postgres::QueryHook;
use datafusion_postgres::hooks::HookClient;
use datafusion_postgres::pgwire::api::ClientInfo;
use datafusion_postgres::pgwire::api::results::{Response, Tag};
use datafusion_postgres::pgwire::error::{ErrorInfo, PgWireError, PgWireResult};
use tokio::sync::Mutex;

use super::compat::{show_plan, show_response};
use super::hooks::no_rows;
use super::session::Published;

/// The session parameter.
pub(crate) const PARAMETER: &str = "malgrupp.as_of";

/// SQLSTATE `invalid_parameter_value`.
pub(crate) const INVALID_VALUE: &str = "22023";

/// Whether `statement` is `SHOW malgrupp.as_of`.
fn shows_it(statement: &Statement) -> bool {
    let Statement::ShowVariable { variable } = statement else {
        return false;
    };
    let name: Vec<&str> = variable.iter().map(|i| i.value.as_str()).collect();
    name.join(".").eq_ignore_ascii_case(PARAMETER)
}

/// Whether `statement` sets [`PARAMETER`].
pub(crate) fn sets_it(set: &Set) -> bool {
    matches!(set, Set::SingleAssignment { variable, .. } if variable.to_string().eq_ignore_ascii_case(PARAMETER))
}

/// The moment a `SET` of [`PARAMETER`] asks for (`None`: the current set); `None` for
/// any other statement, `Some(Err)` for a value that is no moment.
fn requested(statement: &Statement) -> Option<Result<Option<DateTime<Utc>>, String>> {
    let Statement::Set(set @ Set::SingleAssignment { values, .. }) = statement else {
        return None;
    };
    if !sets_it(set) {
        return None;
    }
    let text = match values.as_slice() {
        [Expr::Value(v)] => match &v.value {
            Value::SingleQuotedString(s) => Some(s.as_str()),
            _ => return Some(Err(format!("{PARAMETER}: expected a quoted time or date"))),
        },
        [Expr::Identifier(i)] if i.value.eq_ignore_ascii_case("default") => None,
        _ => return Some(Err(format!("{PARAMETER}: expected a quoted time or date"))),
    };
    Some(match text.map(str::trim).filter(|t| !t.is_empty()) {
        None => Ok(None),
        Some(t) => crate::lake::as_of::time(t)
            .map(Some)
            .map_err(|e| format!("{PARAMETER}: {e}")),
    })
}

/// The hook answering `SET malgrupp.as_of` for the connection whose published views
/// `published` registers (shared with [`super::hooks::Reads`]).
#[derive(Debug)]
pub(crate) struct SessionAsOf {
    published: Arc<Mutex<Published>>,
}

impl SessionAsOf {
    pub(crate) fn new(published: Arc<Mutex<Published>>) -> Self {
        SessionAsOf { published }
    }

    /// Sets the session's moment, or shows it; `None` for any other statement.
    async fn answer(&self, statement: &Statement) -> Option<PgWireResult<Response>> {
        if shows_it(statement) {
            let at = self.published.lock().await.as_of();
            let text = at.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true));
            return Some(show_response(PARAMETER, text.as_deref().unwrap_or("")));
        }
        Some(match requested(statement)? {
            Ok(at) => {
                self.published.lock().await.set_as_of(at);
                Ok(Response::Execution(Tag::new("SET")))
            }
            Err(message) => Err(invalid(message)),
        })
    }
}

fn invalid(message: String) -> PgWireError {
    PgWireError::UserError(Box::new(ErrorInfo::new(
        "ERROR".to_string(),
        INVALID_VALUE.to_string(),
        message,
    )))
}

#[async_trait]
impl QueryHook for SessionAsOf {
    async fn handle_simple_query(
        &self,
        statement: &Statement,
        _session_context: &SessionContext,
        _client: &mut dyn HookClient,
    ) -> Option<PgWireResult<Response>> {
        self.answer(statement).await
    }

    async fn handle_extended_parse_query(
        &self,
        statement: &Statement,
        _session_context: &SessionContext,
        _client: &(dyn ClientInfo + Send + Sync),
    ) -> Option<PgWireResult<LogicalPlan>> {
        if shows_it(statement) {
            return Some(show_plan(PARAMETER));
        }
        // Checked here, applied when executed.
        Some(requested(statement)?.map(|_| no_rows()).map_err(invalid))
    }

    async fn handle_extended_query(
        &self,
        statement: &Statement,
        _logical_plan: &LogicalPlan,
        _params: &ParamValues,
        _session_context: &SessionContext,
        _client: &mut dyn HookClient,
    ) -> Option<PgWireResult<Response>> {
        self.answer(statement).await
    }
}

#[cfg(test)]
mod tests {
    use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
    use datafusion::sql::sqlparser::parser::Parser;

    use super::*;

    fn r(sql: &str) -> Option<Result<Option<DateTime<Utc>>, String>> {
        let mut statements = Parser::parse_sql(&PostgreSqlDialect {}, sql).expect("parses");
        requested(&statements.remove(0))
    }

    #[test]
    fn values_are_moments_or_the_current_set() {
        let june = r("set malgrupp.as_of = '2026-06-10T18:00:00+02:00'");
        assert_eq!(
            june.map(|r| r.map(|t| t.map(|t| t.to_rfc3339()))),
            Some(Ok(Some("2026-06-10T16:00:00+00:00".into())))
        );
        assert_eq!(
            r("SET MALGRUPP.AS_OF TO '2026-06-10'").map(|r| r.is_ok()),
            Some(true)
        );
        assert_eq!(r("set malgrupp.as_of = default"), Some(Ok(None)));
        assert_eq!(r("set malgrupp.as_of = ''"), Some(Ok(None)));
        for wrong in [
            "set malgrupp.as_of = '10 juni'",
            "set malgrupp.as_of = 12",
            "set malgrupp.as_of = '12'",
        ] {
            let e = r(wrong).expect("ours").expect_err(wrong);
            assert!(e.starts_with("malgrupp.as_of: "), "{e}");
        }
        assert_eq!(r("set extra_float_digits = 3"), None);
        assert_eq!(r("select 1"), None);
    }
}
