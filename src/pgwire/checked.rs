//! datafusion-postgres' query handlers with the statement checks of `published::guard` in
//! front: in both protocols the text a client sends is checked before datafusion-postgres
//! parses and rewrites it, because its rewriting already walks the tree recursively —
//! too late for a hook.

use std::fmt::Debug;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use datafusion_postgres::pgwire::api::portal::{Format, Portal};
use datafusion_postgres::pgwire::api::query::{ExtendedQueryHandler, SimpleQueryHandler};
use datafusion_postgres::pgwire::api::results::{FieldInfo, Response};
use datafusion_postgres::pgwire::api::stmt::QueryParser;
use datafusion_postgres::pgwire::api::store::PortalStore;
use datafusion_postgres::pgwire::api::{ClientInfo, ClientPortalStore, Type};
use datafusion_postgres::pgwire::error::{ErrorInfo, PgWireError, PgWireResult};
use datafusion_postgres::pgwire::messages::PgWireBackendMessage;
use datafusion_postgres::{DfSessionService, Parser};
use futures::Sink;

use crate::published::guard::{self, Refused};

/// SQLSTATE `statement_too_complex`.
const TOO_COMPLEX: &str = "54001";
/// SQLSTATE `syntax_error`.
const SYNTAX_ERROR: &str = "42601";
/// SQLSTATE `feature_not_supported`.
const FEATURE_NOT_SUPPORTED: &str = "0A000";

/// The statement checks as a PostgreSQL error.
fn check(sql: &str) -> PgWireResult<()> {
    // `||` passes: every read's plan evaluates it with a bounded function (`compat`).
    guard::check_operators(sql, &PostgreSqlDialect {}).map_err(|refused| {
        let code = match refused {
            Refused::TooComplex => TOO_COMPLEX,
            Refused::Unreadable(_) => SYNTAX_ERROR,
            Refused::Concatenation => FEATURE_NOT_SUPPORTED,
        };
        PgWireError::UserError(Box::new(ErrorInfo::new(
            "ERROR".to_string(),
            code.to_string(),
            refused.to_string(),
        )))
    })
}

/// The session service of a connection behind the checks.
pub(crate) struct Checked {
    service: Arc<DfSessionService>,
    parser: Arc<CheckedParser>,
}

impl Checked {
    pub(crate) fn new(service: Arc<DfSessionService>) -> Self {
        let parser = Arc::new(CheckedParser {
            inner: service.query_parser(),
        });
        Checked { service, parser }
    }
}

#[async_trait]
impl SimpleQueryHandler for Checked {
    async fn do_query<C>(&self, client: &mut C, query: &str) -> PgWireResult<Vec<Response>>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        check(query)?;
        SimpleQueryHandler::do_query(&*self.service, client, query).await
    }
}

#[async_trait]
impl ExtendedQueryHandler for Checked {
    type Statement = <DfSessionService as ExtendedQueryHandler>::Statement;
    type QueryParser = CheckedParser;

    fn query_parser(&self) -> Arc<Self::QueryParser> {
        self.parser.clone()
    }

    async fn do_query<C>(
        &self,
        client: &mut C,
        portal: &Portal<Self::Statement>,
        max_rows: usize,
    ) -> PgWireResult<Response>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        // Only statements the checked parser let through reach a portal.
        ExtendedQueryHandler::do_query(&*self.service, client, portal, max_rows).await
    }
}

/// datafusion-postgres' parser behind the checks (the extended protocol's Parse).
pub(crate) struct CheckedParser {
    inner: Arc<Parser>,
}

#[async_trait]
impl QueryParser for CheckedParser {
    type Statement = <Parser as QueryParser>::Statement;

    async fn parse_sql<C>(
        &self,
        client: &C,
        sql: &str,
        types: &[Option<Type>],
    ) -> PgWireResult<Option<Self::Statement>>
    where
        C: ClientInfo + Unpin + Send + Sync,
    {
        check(sql)?;
        self.inner.parse_sql(client, sql, types).await
    }

    fn get_parameter_types(&self, stmt: &Self::Statement) -> PgWireResult<Vec<Type>> {
        self.inner.get_parameter_types(stmt)
    }

    fn get_result_schema(
        &self,
        stmt: &Self::Statement,
        column_format: Option<&Format>,
    ) -> PgWireResult<Vec<FieldInfo>> {
        self.inner.get_result_schema(stmt, column_format)
    }
}
