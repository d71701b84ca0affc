//! Catalog functions that drivers call while introspecting, answered for what this
//! endpoint is, where datafusion-pg-catalog answers constants: its `pg_get_userbyid` and
//! `session_user` say `postgres` for everyone, its `has_*_privilege` grant everything.
//!
//! - `pg_get_userbyid(oid)`, `session_user()`: the user the connection authenticated
//!   as. The emulated catalog gives every relation, schema and database the same owner
//!   oid, and no other role exists, so the owner shown is the one user a session sees.
//! - `has_table_privilege`, `has_schema_privilege`, `has_database_privilege`,
//!   `has_any_column_privilege`, `has_column_privilege`: true for reading (`SELECT`,
//!   `USAGE`, `CONNECT`) and false for anything that writes or creates, which the
//!   endpoint refuses — so tools do not offer an edit they would then fail.
//! - `obj_description`, `col_description`, `shobj_description`: NULL; the published
//!   views carry no comments (docs/schema.md describes them).
//! - `pg_get_serial_sequence(table, column)`: NULL; there are no sequences.
//! - `pg_collation_is_visible(oid)`: true; the only collations are pg_catalog's, which
//!   is always on the search path.

use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray, BooleanArray, BooleanBuilder};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{Result, ScalarValue};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, TypeSignature,
    Volatility,
};
use datafusion::prelude::SessionContext;

use super::SessionUser;

/// Privileges a session has on what it can see: it may read, nothing more.
const READ_PRIVILEGES: [&str; 3] = ["SELECT", "USAGE", "CONNECT"];

/// The privilege functions and how many arguments each takes (the last is the privilege).
const PRIVILEGE_FUNCTIONS: [(&str, &[usize]); 5] = [
    ("has_table_privilege", &[2, 3]),
    ("has_schema_privilege", &[2, 3]),
    ("has_database_privilege", &[2, 3]),
    ("has_any_column_privilege", &[2, 3]),
    ("has_column_privilege", &[3, 4]),
];

/// The functions answering NULL (text) and how many arguments each takes.
const NULL_FUNCTIONS: [(&str, &[usize]); 4] = [
    ("obj_description", &[1, 2]),
    ("col_description", &[2]),
    ("shobj_description", &[2]),
    ("pg_get_serial_sequence", &[2]),
];

pub(super) fn register(ctx: &SessionContext, user: &SessionUser) {
    for name in ["pg_get_userbyid", "session_user"] {
        let arity = usize::from(name == "pg_get_userbyid");
        ctx.register_udf(ScalarUDF::new_from_impl(UserName {
            name,
            user: user.clone(),
            signature: Signature::any(arity, Volatility::Stable),
        }));
    }
    for (name, arities) in PRIVILEGE_FUNCTIONS {
        ctx.register_udf(ScalarUDF::new_from_impl(Privilege {
            name,
            signature: any_of(arities),
        }));
    }
    for (name, arities) in NULL_FUNCTIONS {
        ctx.register_udf(ScalarUDF::new_from_impl(Nothing {
            name,
            signature: any_of(arities),
        }));
    }
    ctx.register_udf(ScalarUDF::new_from_impl(Visible {
        signature: Signature::any(1, Volatility::Stable),
    }));
}

fn any_of(arities: &[usize]) -> Signature {
    Signature::one_of(
        arities.iter().map(|n| TypeSignature::Any(*n)).collect(),
        Volatility::Stable,
    )
}

/// `pg_get_userbyid(oid)` and `session_user()`: the authenticated user.
#[derive(Debug)]
struct UserName {
    name: &'static str,
    user: SessionUser,
    signature: Signature,
}

// A session's functions are compared by name: there is one user per session.
impl PartialEq for UserName {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

impl Eq for UserName {}

impl std::hash::Hash for UserName {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.name.hash(state);
    }
}

impl ScalarUDFImpl for UserName {
    fn name(&self) -> &str {
        self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let name = ScalarValue::Utf8(Some(self.user.name().to_string()));
        match args.args.first() {
            // NULL in, NULL out, as PostgreSQL's strict functions do.
            Some(ColumnarValue::Array(oids)) => {
                let names = name.to_array_of_size(oids.len())?;
                let nulls = datafusion::arrow::compute::is_null(oids)?;
                let names = datafusion::arrow::compute::nullif(&names, &nulls)?;
                Ok(ColumnarValue::Array(names))
            }
            Some(ColumnarValue::Scalar(oid)) if oid.is_null() => {
                Ok(ColumnarValue::Scalar(ScalarValue::Utf8(None)))
            }
            _ => Ok(ColumnarValue::Scalar(name)),
        }
    }
}

/// `has_*_privilege(…, privilege)`: see the module documentation.
#[derive(Debug, PartialEq, Eq, Hash)]
struct Privilege {
    name: &'static str,
    signature: Signature,
}

/// Whether `privileges` (PostgreSQL's comma-separated list, any case) are all reading.
fn only_reading(privileges: &str) -> bool {
    privileges.split(',').all(|p| {
        let p = p.trim();
        READ_PRIVILEGES.iter().any(|r| p.eq_ignore_ascii_case(r))
    })
}

impl ScalarUDFImpl for Privilege {
    fn name(&self) -> &str {
        self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(DataType::Boolean)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let Some(last) = arrays.last() else {
            return Ok(ColumnarValue::Scalar(ScalarValue::Boolean(None)));
        };
        let privileges = cast(last, &DataType::Utf8)?;
        let privileges = privileges.as_string::<i32>();
        let mut out = BooleanBuilder::with_capacity(privileges.len());
        for row in 0..privileges.len() {
            if arrays.iter().any(|a| a.is_null(row)) {
                out.append_null();
            } else {
                out.append_value(only_reading(privileges.value(row)));
            }
        }
        Ok(ColumnarValue::Array(Arc::new(out.finish())))
    }
}

/// `obj_description` and friends: no comments, no sequences.
#[derive(Debug, PartialEq, Eq, Hash)]
struct Nothing {
    name: &'static str,
    signature: Signature,
}

/// `pg_collation_is_visible(oid)`: see the module documentation.
#[derive(Debug, PartialEq, Eq, Hash)]
struct Visible {
    signature: Signature,
}

impl ScalarUDFImpl for Visible {
    fn name(&self) -> &str {
        "pg_collation_is_visible"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(DataType::Boolean)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let oids = ColumnarValue::values_to_arrays(&args.args)?;
        let visible: BooleanArray = (0..args.number_rows)
            .map(|row| oids[0].is_valid(row).then_some(true))
            .collect();
        Ok(ColumnarValue::Array(Arc::new(visible)))
    }
}

impl ScalarUDFImpl for Nothing {
    fn name(&self) -> &str {
        self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, _: ScalarFunctionArgs) -> Result<ColumnarValue> {
        Ok(ColumnarValue::Scalar(ScalarValue::Utf8(None)))
    }
}

#[cfg(test)]
mod tests {
    use datafusion::arrow::util::pretty::pretty_format_batches;

    use super::*;

    async fn row(ctx: &SessionContext, sql: &str) -> String {
        let batches = ctx
            .sql(sql)
            .await
            .expect("plans")
            .collect()
            .await
            .expect("runs");
        pretty_format_batches(&batches).expect("format").to_string()
    }

    #[tokio::test]
    async fn the_session_user_owns_what_it_sees_and_may_only_read() {
        let ctx = SessionContext::new();
        let user = SessionUser::default();
        user.set("grafana");
        user.set("someone else");
        register(&ctx, &user);
        let r = row(
            &ctx,
            "select pg_get_userbyid(10) as a, pg_get_userbyid(null) is null as c",
        )
        .await;
        assert!(r.contains("| grafana | true |"), "{r}");
        let r = row(
            &ctx,
            "select has_table_privilege(16384, 'SELECT') as a, \
             has_table_privilege('grafana', 'kartlaggning', 'select') as b, \
             has_table_privilege('kartlaggning', 'INSERT') as c, \
             has_table_privilege('kartlaggning', 'SELECT, UPDATE') as d, \
             has_schema_privilege('public', 'CREATE') as e, \
             has_database_privilege('malgrupp', 'CONNECT') as f, \
             has_column_privilege('kartlaggning', 'antal', 'SELECT') as g",
        )
        .await;
        assert!(
            r.contains("| true | true | false | false | false | true | true |"),
            "{r}"
        );
        let r = row(&ctx, "select obj_description(1, 'pg_class') is null as a").await;
        assert!(r.contains("| true |"), "{r}");
    }
}
