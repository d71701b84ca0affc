//! The version the endpoint reports and the settings a client can read: `version()`,
//! `current_setting(name [, missing_ok])` and `SHOW name`.
//!
//! Drivers decide what SQL to send from the server version: SQLAlchemy refuses to connect
//! unless `version()` starts with `PostgreSQL <major>.<minor>`, JDBC and Npgsql read
//! `server_version` at startup, psql picks its catalog queries by `server_version_num`.
//! The endpoint reports PostgreSQL 16 — the catalog datafusion-postgres emulates — and
//! says in the same string that it is malgrupp on DataFusion. Every setting here is
//! true of every session (the server is read-only, UTF-8, …); the session parameters a
//! client may SET (`search_path`, `DateStyle`, …) stay with datafusion-postgres' hook.

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::array::{Array, AsArray, StringBuilder};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::common::{DFSchema, ParamValues, Result, exec_err};
use datafusion::logical_expr::{
    ColumnarValue, EmptyRelation, LogicalPlan, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl,
    Signature, TypeSignature, Volatility,
};
use datafusion::prelude::SessionContext;
use datafusion::sql::sqlparser::ast::Statement;
use datafusion_postgres::QueryHook;
use datafusion_postgres::hooks::HookClient;
use datafusion_postgres::pgwire::api::ClientInfo;
use datafusion_postgres::pgwire::api::Type;
use datafusion_postgres::pgwire::api::results::{
    DataRowEncoder, FieldFormat, FieldInfo, QueryResponse, Response,
};
use datafusion_postgres::pgwire::error::{PgWireError, PgWireResult};

/// The PostgreSQL release whose catalog and behaviour the endpoint follows.
pub(crate) const SERVER_VERSION: &str = "16.6";
/// [`SERVER_VERSION`] as `server_version_num` spells it.
const SERVER_VERSION_NUM: &str = "160006";

/// `version()`: what PostgreSQL prints, naming what really answers.
pub(crate) fn version_string() -> String {
    format!(
        "PostgreSQL {SERVER_VERSION} (malgrupp {}, DataFusion {}) on {}-{}, 64-bit",
        env!("CARGO_PKG_VERSION"),
        datafusion::DATAFUSION_VERSION,
        std::env::consts::ARCH,
        std::env::consts::OS,
    )
}

/// The settings every session has, as PostgreSQL names them (looked up ignoring case).
const SETTINGS: [(&str, &str); 11] = [
    ("server_version", SERVER_VERSION),
    ("server_version_num", SERVER_VERSION_NUM),
    ("server_encoding", "UTF8"),
    ("client_encoding", "UTF8"),
    ("standard_conforming_strings", "on"),
    ("integer_datetimes", "on"),
    ("max_identifier_length", "63"),
    // Read-only, whatever a client SETs: the plan check refuses every change.
    ("default_transaction_read_only", "on"),
    ("transaction_read_only", "on"),
    ("is_superuser", "off"),
    ("max_index_keys", "32"),
];

/// The value of setting `name`, if every session has it.
pub(crate) fn setting(name: &str) -> Option<&'static str> {
    SETTINGS
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| *v)
}

pub(super) fn register(ctx: &SessionContext) {
    ctx.register_udf(ScalarUDF::new_from_impl(Version::default()));
    ctx.register_udf(ScalarUDF::new_from_impl(CurrentSetting::default()));
}

/// `version()`, replacing DataFusion's (`Apache DataFusion …`, which drivers reject).
#[derive(Debug, PartialEq, Eq, Hash)]
struct Version {
    signature: Signature,
}

impl Default for Version {
    fn default() -> Self {
        Version {
            signature: Signature::nullary(Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for Version {
    fn name(&self) -> &str {
        "version"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, _: ScalarFunctionArgs) -> Result<ColumnarValue> {
        Ok(ColumnarValue::Scalar(Some(version_string()).into()))
    }
}

/// `current_setting(name [, missing_ok])`: an unknown name is an error, as in
/// PostgreSQL, or NULL when `missing_ok` is true.
#[derive(Debug, PartialEq, Eq, Hash)]
struct CurrentSetting {
    signature: Signature,
}

impl Default for CurrentSetting {
    fn default() -> Self {
        CurrentSetting {
            signature: Signature::one_of(
                vec![
                    TypeSignature::String(1),
                    TypeSignature::Exact(vec![DataType::Utf8, DataType::Boolean]),
                ],
                Volatility::Stable,
            ),
        }
    }
}

impl ScalarUDFImpl for CurrentSetting {
    fn name(&self) -> &str {
        "current_setting"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let names = cast(&arrays[0], &DataType::Utf8)?;
        let names = names.as_string::<i32>();
        let missing_ok = arrays.get(1).map(|a| a.as_boolean());
        let mut out = StringBuilder::new();
        for row in 0..names.len() {
            if names.is_null(row) {
                out.append_null();
                continue;
            }
            let name = names.value(row);
            match setting(name) {
                Some(value) => out.append_value(value),
                None if missing_ok.is_some_and(|m| m.is_valid(row) && m.value(row)) => {
                    out.append_null()
                }
                None => return exec_err!("unrecognized configuration parameter \"{name}\""),
            }
        }
        Ok(ColumnarValue::Array(Arc::new(out.finish())))
    }
}

/// Answers `SHOW <setting>` for the settings above, in both protocols, before
/// datafusion-postgres' own SHOW (which reports `datafusion … on datafusion-postgres`).
#[derive(Debug)]
pub(crate) struct Show;

/// The setting a `SHOW` statement asks for, when it is one of [`SETTINGS`].
fn shown(statement: &Statement) -> Option<(String, &'static str)> {
    let Statement::ShowVariable { variable } = statement else {
        return None;
    };
    let [name] = variable.as_slice() else {
        return None;
    };
    let name = name.value.to_ascii_lowercase();
    setting(&name).map(|v| (name, v))
}

/// The one-row, one-text-column answer of `SHOW name`.
pub(crate) fn show_response(name: &str, value: &str) -> PgWireResult<Response> {
    let fields = Arc::new(vec![FieldInfo::new(
        name.to_string(),
        None,
        None,
        Type::TEXT,
        FieldFormat::Text,
    )]);
    let mut encoder = DataRowEncoder::new(fields.clone());
    encoder.encode_field(&Some(value))?;
    let row = encoder.take_row();
    Ok(Response::Query(QueryResponse::new(
        fields,
        futures::stream::once(async move { Ok(row) }),
    )))
}

/// The plan of `SHOW name` in the extended protocol: it only describes the one text
/// column; the row comes at execution ([`show_response`]).
pub(crate) fn show_plan(name: &str) -> PgWireResult<LogicalPlan> {
    let schema = Schema::new(vec![Field::new(name, DataType::Utf8, false)]);
    DFSchema::try_from(schema)
        .map(|schema| {
            LogicalPlan::EmptyRelation(EmptyRelation {
                produce_one_row: true,
                schema: Arc::new(schema),
            })
        })
        .map_err(|e| PgWireError::ApiError(Box::new(e)))
}

#[async_trait]
impl QueryHook for Show {
    async fn handle_simple_query(
        &self,
        statement: &Statement,
        _session_context: &SessionContext,
        _client: &mut dyn HookClient,
    ) -> Option<PgWireResult<Response>> {
        shown(statement).map(|(name, value)| show_response(&name, value))
    }

    async fn handle_extended_parse_query(
        &self,
        statement: &Statement,
        _session_context: &SessionContext,
        _client: &(dyn ClientInfo + Send + Sync),
    ) -> Option<PgWireResult<LogicalPlan>> {
        let (name, _) = shown(statement)?;
        Some(show_plan(&name))
    }

    async fn handle_extended_query(
        &self,
        statement: &Statement,
        _logical_plan: &LogicalPlan,
        _params: &ParamValues,
        _session_context: &SessionContext,
        _client: &mut dyn HookClient,
    ) -> Option<PgWireResult<Response>> {
        shown(statement).map(|(name, value)| show_response(&name, value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_version_reads_as_postgresql_and_names_malgrupp() {
        let v = version_string();
        assert!(
            v.starts_with(&format!("PostgreSQL {SERVER_VERSION} (malgrupp ")),
            "{v}"
        );
        assert!(v.contains(datafusion::DATAFUSION_VERSION), "{v}");
        let (major, minor) = SERVER_VERSION.split_once('.').expect("major.minor");
        let num: u32 = SERVER_VERSION_NUM.parse().expect("a number");
        assert_eq!(
            num,
            major.parse::<u32>().expect("major") * 10000 + minor.parse::<u32>().expect("minor")
        );
    }

    #[tokio::test]
    async fn current_setting_knows_its_settings_and_refuses_others() {
        let ctx = SessionContext::new();
        register(&ctx);
        let batches = ctx
            .sql(
                "select current_setting('server_version_num'), current_setting('Server_Version'), \
                 current_setting('no_such', true) is null, version()",
            )
            .await
            .expect("plans")
            .collect()
            .await
            .expect("runs");
        let row = datafusion::arrow::util::pretty::pretty_format_batches(&batches)
            .expect("format")
            .to_string();
        assert!(row.contains(SERVER_VERSION_NUM), "{row}");
        assert!(row.contains("| true"), "{row}");
        assert!(row.contains("PostgreSQL 16."), "{row}");
        let err = ctx
            .sql("select current_setting('no_such')")
            .await
            .expect("plans")
            .collect()
            .await
            .expect_err("unknown");
        assert!(
            err.to_string()
                .contains("unrecognized configuration parameter"),
            "{err}"
        );
    }
}
