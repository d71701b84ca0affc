//! The `||` operator over the PostgreSQL endpoint, evaluated by a bounded function.
//!
//! psql's `\d+` (and other clients' catalog queries) use `||`, which `published::guard`
//! refuses on the HTTP API: DataFusion evaluates it as an operator, outside the function
//! layer where `published::bounded` caps and reserves what a call produces, so a chain of
//! `s || s` through CTEs doubled a string per step without limit. Here it is accepted
//! and every string `||` of a planned read becomes `textcat(a, b)` — PostgreSQL's own
//! name for the function behind the operator: NULL when either side is NULL (unlike
//! `concat`), and wrapped by `published::bounded` like `concat`, so its result counts
//! against the memory limit. Arrays joined with `||` are planned by DataFusion as
//! `array_concat`/`array_append`/`array_prepend`, bounded the same way.
//!
//! The rewrite runs on every logical plan of a read (`hooks::Reads`), including
//! subqueries. Before it, only literal text can meet an unbounded `||` (table-function
//! arguments are folded while planning), and that is no longer than the statement.

use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::compute::kernels::concat_elements::concat_elements_utf8;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::Result;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::logical_expr::expr::ScalarFunction;
use datafusion::logical_expr::expr_rewriter::NamePreserver;
use datafusion::logical_expr::{
    BinaryExpr, ColumnarValue, Expr, LogicalPlan, Operator, ScalarFunctionArgs, ScalarUDF,
    ScalarUDFImpl, Signature, Volatility,
};
use datafusion::prelude::SessionContext;

/// The function `||` becomes.
const TEXTCAT: &str = "textcat";

pub(super) fn register(ctx: &SessionContext) {
    ctx.register_udf(ScalarUDF::new_from_impl(TextCat {
        signature: Signature::user_defined(Volatility::Immutable),
    }));
}

/// Replaces every string `||` in `plan` (and its subqueries) by the session's
/// `textcat`, which `published::bounded` has wrapped by then.
pub(crate) fn bounded_concat_operator(
    plan: LogicalPlan,
    ctx: &SessionContext,
) -> Result<LogicalPlan> {
    let Some(textcat) = ctx.state().scalar_functions().get(TEXTCAT).cloned() else {
        return datafusion::common::internal_err!("{TEXTCAT} is not registered");
    };
    plan.transform_up_with_subqueries(|node| {
        // The plan above refers to this node's columns by name: a rewritten expression
        // keeps the name of the one it replaces.
        let names = NamePreserver::new(&node);
        let node = node.map_expressions(|e| {
            let saved = names.save(&e);
            Ok(e.transform_up(|e| Ok(textcat_for(e, &textcat)))?
                .update_data(|e| saved.restore(e)))
        })?;
        if node.transformed {
            // textcat answers Utf8 where the operator may have answered another string type.
            node.map_data(|p| p.recompute_schema())
        } else {
            Ok(node)
        }
    })
    .map(|t| t.data)
}

fn textcat_for(e: Expr, textcat: &Arc<ScalarUDF>) -> Transformed<Expr> {
    match e {
        Expr::BinaryExpr(BinaryExpr {
            left,
            op: Operator::StringConcat,
            right,
        }) => Transformed::yes(Expr::ScalarFunction(ScalarFunction::new_udf(
            textcat.clone(),
            vec![*left, *right],
        ))),
        other => Transformed::no(other),
    }
}

/// `textcat(a, b)`: `a || b` for text, NULL if either is NULL; any other type is cast
/// to text first, as the operator does.
#[derive(Debug, PartialEq, Eq, Hash)]
struct TextCat {
    signature: Signature,
}

impl ScalarUDFImpl for TextCat {
    fn name(&self) -> &str {
        TEXTCAT
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        if arg_types.len() != 2 {
            return datafusion::common::plan_err!(
                "{TEXTCAT} takes two arguments, not {}",
                arg_types.len()
            );
        }
        Ok(vec![DataType::Utf8, DataType::Utf8])
    }

    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let scalars = args
            .args
            .iter()
            .all(|a| matches!(a, ColumnarValue::Scalar(_)));
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let joined: Arc<dyn Array> = Arc::new(concat_elements_utf8(
            arrays[0].as_string::<i32>(),
            arrays[1].as_string::<i32>(),
        )?);
        if scalars {
            Ok(ColumnarValue::Scalar(
                datafusion::common::ScalarValue::try_from_array(&joined, 0)?,
            ))
        } else {
            Ok(ColumnarValue::Array(joined))
        }
    }
}

#[cfg(test)]
mod tests {
    use datafusion::arrow::util::pretty::pretty_format_batches;
    use datafusion::execution::memory_pool::{GreedyMemoryPool, MemoryPool};

    use super::*;

    async fn run(ctx: &SessionContext, sql: &str) -> Result<String> {
        let plan = ctx.state().create_logical_plan(sql).await?;
        let plan = bounded_concat_operator(plan, ctx)?;
        let batches = ctx.execute_logical_plan(plan).await?.collect().await?;
        Ok(pretty_format_batches(&batches)?.to_string())
    }

    fn session(pool_bytes: usize) -> SessionContext {
        let ctx = SessionContext::new();
        register(&ctx);
        let pool: Arc<dyn MemoryPool> = Arc::new(GreedyMemoryPool::new(pool_bytes));
        crate::published::bounded::bound_functions(&ctx, &pool);
        ctx
    }

    #[tokio::test]
    async fn concatenation_is_null_strict_and_counts_against_the_pool() {
        let ctx = session(1024 * 1024);
        let r = run(
            &ctx,
            "select 'toast.' || x as a, ('a' || null) is null as b, 1 || 'x' as c \
             from (values ('fillfactor')) t(x)",
        )
        .await
        .expect("runs");
        assert!(r.contains("| toast.fillfactor | true | 1x |"), "{r}");
        // Inside a subquery too.
        let r = run(
            &ctx,
            "select (select max(x || '!') from (values ('a')) v(x)) as s",
        )
        .await
        .expect("runs");
        assert!(r.contains("| a! |"), "{r}");
        // Doubling through CTEs hits the pool, not the process.
        let mut sql = "with s0 as (select repeat('x', 1000) as s)".to_string();
        for i in 1..=12 {
            sql.push_str(&format!(", s{i} as (select s || s as s from s{})", i - 1));
        }
        sql.push_str(" select length(s) from s12");
        let err = run(&ctx, &sql).await.expect_err("4 MB > 1 MiB pool");
        assert!(err.to_string().contains("esources exhausted"), "{err}");
    }
}
