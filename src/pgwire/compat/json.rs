//! `json_build_object(key, value, …)`, which SQLAlchemy's column inspection uses for
//! identity and collation details: a JSON object as text, values typed as PostgreSQL
//! writes them (numbers and booleans bare, NULL as `null`, everything else a string).
//!
//! Its result grows with its arguments (escaping can make a byte six), so
//! `published::bounded` wraps it like the string functions.

use std::sync::Arc;

use datafusion::arrow::array::StringBuilder;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{Result, ScalarValue, plan_err};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use datafusion::prelude::SessionContext;

pub(super) fn register(ctx: &SessionContext) {
    ctx.register_udf(ScalarUDF::new_from_impl(JsonBuildObject {
        signature: Signature::variadic_any(Volatility::Immutable),
    }));
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct JsonBuildObject {
    signature: Signature,
}

/// A value as `json_build_object` writes it.
fn json_value(value: &ScalarValue) -> serde_json::Value {
    use serde_json::Value;
    if value.is_null() {
        return Value::Null;
    }
    match value {
        ScalarValue::Boolean(Some(b)) => Value::Bool(*b),
        ScalarValue::Int8(Some(n)) => Value::from(*n),
        ScalarValue::Int16(Some(n)) => Value::from(*n),
        ScalarValue::Int32(Some(n)) => Value::from(*n),
        ScalarValue::Int64(Some(n)) => Value::from(*n),
        ScalarValue::UInt8(Some(n)) => Value::from(*n),
        ScalarValue::UInt16(Some(n)) => Value::from(*n),
        ScalarValue::UInt32(Some(n)) => Value::from(*n),
        ScalarValue::UInt64(Some(n)) => Value::from(*n),
        ScalarValue::Float32(Some(f)) => Value::from(f64::from(*f)),
        ScalarValue::Float64(Some(f)) => Value::from(*f),
        ScalarValue::Utf8(Some(s))
        | ScalarValue::LargeUtf8(Some(s))
        | ScalarValue::Utf8View(Some(s)) => Value::String(s.clone()),
        other => Value::String(other.to_string()),
    }
}

impl ScalarUDFImpl for JsonBuildObject {
    fn name(&self) -> &str {
        "json_build_object"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        if !arg_types.len().is_multiple_of(2) {
            return plan_err!("json_build_object needs pairs of keys and values");
        }
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let mut out = StringBuilder::new();
        for row in 0..args.number_rows {
            // Written by hand: PostgreSQL keeps the keys in the order given.
            let mut object = Vec::with_capacity(arrays.len() / 2);
            for pair in arrays.chunks(2) {
                let key = ScalarValue::try_from_array(&pair[0], row)?;
                if key.is_null() {
                    return datafusion::common::exec_err!(
                        "json_build_object: a key cannot be NULL"
                    );
                }
                let key = match json_value(&key) {
                    serde_json::Value::String(s) => s,
                    other => other.to_string(),
                };
                let value = ScalarValue::try_from_array(&pair[1], row)?;
                object.push(format!(
                    "{}:{}",
                    serde_json::Value::String(key),
                    json_value(&value)
                ));
            }
            out.append_value(format!("{{{}}}", object.join(",")));
        }
        Ok(ColumnarValue::Array(Arc::new(out.finish())))
    }
}

#[cfg(test)]
mod tests {
    use datafusion::arrow::util::pretty::pretty_format_batches;

    use super::*;

    #[tokio::test]
    async fn objects_are_built_with_typed_values() {
        let ctx = SessionContext::new();
        register(&ctx);
        let batches = ctx
            .sql("select json_build_object('name', 'a\"b', 'n', 3, 'ok', true, 'x', null) as j")
            .await
            .expect("plans")
            .collect()
            .await
            .expect("runs");
        let out = pretty_format_batches(&batches).expect("format").to_string();
        assert!(
            out.contains(r#"{"name":"a\"b","n":3,"ok":true,"x":null}"#),
            "{out}"
        );
    }
}
