//! SQL that clients' catalog queries use and DataFusion does not plan, rewritten into an
//! equivalent it does, on the parsed statement before planning (`hooks::Reads`).
//!
//! - `ARRAY(subquery)`, PostgreSQL's array constructor (psql's `\d+` builds the table's
//!   options with it): `(SELECT array_agg(e) FROM (subquery) AS a(e))`.
//! - `to_regtype(name)`, `to_regclass`, `to_regnamespace`, `to_regproc` (psycopg looks up
//!   types with `to_regtype` when SQLAlchemy connects): the cast `name::regtype`, which
//!   datafusion-pg-catalog's `RewriteRegCastToSubquery` then turns into a lookup in the
//!   emulated catalog — NULL when there is no such object, as `to_reg*` answers.
//! - A scalar subquery that looks up one row of the emulated catalog by its key
//!   (SQLAlchemy reads a column's default as `(SELECT pg_get_expr(…) FROM pg_attrdef
//!   WHERE adrelid = attrelid AND adnum = attnum)`): DataFusion plans a correlated
//!   scalar subquery only when it aggregates, so its one value becomes
//!   `first_value(…)`. Only subqueries over `pg_catalog` and `information_schema`
//!   tables are touched: on a published view the rewrite could hide that a subquery
//!   has more than one row, where the catalog's keys make that impossible.
//! - A scalar subquery reading one of the [`EMPTY_CATALOG_TABLES`] is NULL: the
//!   published views have no sequences, column defaults, triggers, policies or
//!   inheritance, so those tables are empty by construction (a test holds the emulation
//!   to it). SQLAlchemy's identity and default lookups are such subqueries, in shapes
//!   DataFusion cannot decorrelate (the outer row inside the value, or inside a CASE).
//! - `reloptions` (psql's `\d+` shows a relation's storage options from
//!   `pg_class.reloptions`, which the emulated catalog lacks): a NULL `text[]`, as
//!   PostgreSQL has it for a relation without options — no relation here has any. No
//!   published view has a column of that name.
//! - `FROM unnest(a) AS x`: in PostgreSQL the alias of a one-column function names its
//!   column too (psql's `\d+` selects `x`); DataFusion calls the column `UNNEST(…)`, so
//!   the alias gets the column list `x(x)`.
//!
//! A rewrite only ever turns a read into a read; the plan check comes after it.

use std::ops::ControlFlow;
use std::sync::LazyLock;

use datafusion::sql::sqlparser::ast::{
    Expr, FunctionArg, FunctionArgExpr, FunctionArguments, GroupByExpr, ObjectNamePart, SelectItem,
    SetExpr, Statement, TableAliasColumnDef, TableFactor, TableWithJoins, Value, VisitMut,
    VisitorMut, visit_expressions, visit_expressions_mut,
};
use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use datafusion::sql::sqlparser::parser::{Parser, ParserError};
use datafusion_postgres::datafusion_pg_catalog::sql::rules::{
    RewriteRegCastToSubquery, SqlStatementRewriteRule,
};

/// The `to_reg*` functions and the cast each stands for.
const TO_REG: [(&str, &str); 4] = [
    ("to_regtype", "regtype"),
    ("to_regclass", "regclass"),
    ("to_regnamespace", "regnamespace"),
    ("to_regproc", "regproc"),
];

/// datafusion-pg-catalog's name→oid cast rewrite (its templates parsed once).
static REG_CASTS: LazyLock<RewriteRegCastToSubquery> = LazyLock::new(RewriteRegCastToSubquery::new);

/// `statement` with the forms above rewritten.
pub(crate) fn rewrite_statement(mut statement: Statement) -> Result<Statement, ParserError> {
    let mut failed = None;
    let mut casts = false;
    let _ = visit_expressions_mut(&mut statement, |expr| {
        let replacement = if is_reloptions(expr) {
            parse_expr("CAST(NULL AS TEXT[])")
        } else if let Some(subquery) = array_constructor(expr) {
            parse_expr(&format!(
                "(SELECT array_agg(array_element) FROM ({subquery}) AS array_constructor(array_element))"
            ))
        } else if reads_empty_catalog_table(expr) {
            parse_expr(&null_keeping_parameters(expr))
        } else if let Some(value) = catalog_lookup(expr) {
            parse_expr(&format!("first_value({value})")).map(|first| {
                let mut lookup = expr.clone();
                set_single_value(&mut lookup, first);
                lookup
            })
        } else if let Some((name, kind)) = to_reg(expr) {
            casts = true;
            parse_expr(&format!("CAST({name} AS {kind})"))
        } else {
            return ControlFlow::Continue(());
        };
        match replacement {
            Ok(e) => {
                *expr = e;
                ControlFlow::Continue(())
            }
            Err(e) => {
                failed = Some(e);
                ControlFlow::Break(())
            }
        }
    });
    if let Some(e) = failed {
        return Err(e);
    }
    let _ = statement.visit(&mut UnnestColumnAlias);
    Ok(if casts {
        REG_CASTS.rewrite(statement)
    } else {
        statement
    })
}

/// Aggregates a catalog subquery may already use (then it needs no rewrite).
const AGGREGATES: [&str; 12] = [
    "count",
    "max",
    "min",
    "sum",
    "avg",
    "array_agg",
    "string_agg",
    "bool_and",
    "bool_or",
    "every",
    "first_value",
    "last_value",
];

/// The one selected value of a scalar subquery over catalog tables that does not
/// aggregate (see the module documentation).
fn catalog_lookup(expr: &Expr) -> Option<String> {
    let Expr::Subquery(query) = expr else {
        return None;
    };
    let SetExpr::Select(select) = query.body.as_ref() else {
        return None;
    };
    let plain = select.distinct.is_none()
        && select.having.is_none()
        && matches!(&select.group_by, GroupByExpr::Expressions(e, _) if e.is_empty())
        && query.limit_clause.is_none()
        && !select.from.is_empty();
    if !plain || !select.from.iter().all(only_catalog_tables) {
        return None;
    }
    let [item] = select.projection.as_slice() else {
        return None;
    };
    let value = match item {
        SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } => e,
        _ => return None,
    };
    let text = value.to_string().to_ascii_lowercase();
    let aggregated = AGGREGATES.iter().any(|a| text.contains(&format!("{a}(")));
    (!aggregated).then(|| value.to_string())
}

/// The lowercase name parts of the tables of a FROM item; None for anything else
/// (a derived table, a function).
fn table_names(from: &TableWithJoins) -> Option<Vec<Vec<String>>> {
    std::iter::once(&from.relation)
        .chain(from.joins.iter().map(|j| &j.relation))
        .map(|t| match t {
            TableFactor::Table { name, .. } => Some(
                name.0
                    .iter()
                    .filter_map(|p| p.as_ident().map(|i| i.value.to_ascii_lowercase()))
                    .collect(),
            ),
            _ => None,
        })
        .collect()
}

/// Whether every table of a FROM item is in `pg_catalog` or `information_schema`.
fn only_catalog_tables(from: &TableWithJoins) -> bool {
    table_names(from).is_some_and(|names| {
        names.iter().all(|parts| match parts.as_slice() {
            [schema, _] | [_, schema, _] => {
                schema == "pg_catalog" || schema == "information_schema"
            }
            [table] => table.starts_with("pg_"),
            _ => false,
        })
    })
}

/// NULL, mentioning the parameters of `expr` (with their casts) where they never run:
/// a driver binds every parameter it sent, by position and by the type the plan infers
/// for it, so none may vanish with the subquery.
fn null_keeping_parameters(expr: &Expr) -> String {
    let mut parameters = Vec::new();
    let _ = visit_expressions(expr, |e| {
        match e {
            Expr::Cast { expr: inner, .. } if is_placeholder(inner) => {
                parameters.push(e.to_string())
            }
            Expr::Value(_) if is_placeholder(e) => parameters.push(e.to_string()),
            _ => {}
        }
        ControlFlow::<()>::Continue(())
    });
    // A cast placeholder was also seen bare, inside its cast: once is enough.
    let seen = parameters.clone();
    parameters.retain(|p| {
        !seen
            .iter()
            .any(|q| q != p && q.starts_with(&format!("{p}::")))
    });
    if parameters.is_empty() {
        return "NULL".to_string();
    }
    let unused: Vec<String> = parameters
        .iter()
        .map(|p| format!("({p}) IS NULL"))
        .collect();
    format!("CASE WHEN false AND {} THEN NULL END", unused.join(" AND "))
}

fn is_placeholder(e: &Expr) -> bool {
    matches!(e, Expr::Value(v) if matches!(v.value, Value::Placeholder(_)))
}

/// Catalog tables without a row for anything the endpoint serves.
pub(crate) const EMPTY_CATALOG_TABLES: [&str; 5] = [
    "pg_sequence",
    "pg_attrdef",
    "pg_trigger",
    "pg_policy",
    "pg_inherits",
];

/// Whether `expr` is a scalar subquery reading one of the [`EMPTY_CATALOG_TABLES`].
fn reads_empty_catalog_table(expr: &Expr) -> bool {
    let Expr::Subquery(query) = expr else {
        return false;
    };
    let SetExpr::Select(select) = query.body.as_ref() else {
        return false;
    };
    select.from.iter().any(|from| {
        table_names(from).is_some_and(|names| {
            names.iter().any(|parts| match parts.as_slice() {
                [table] | [_, table] => EMPTY_CATALOG_TABLES.contains(&table.as_str()),
                _ => false,
            })
        })
    })
}

/// Replaces the selected value of the scalar subquery `expr`, keeping its alias.
fn set_single_value(expr: &mut Expr, value: Expr) {
    if let Expr::Subquery(query) = expr
        && let SetExpr::Select(select) = query.body.as_mut()
        && let Some(item) = select.projection.first_mut()
    {
        match item {
            SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } => *e = value,
            _ => {}
        }
    }
}

/// The name argument and cast type of a `to_reg*(name)` call.
fn to_reg(expr: &Expr) -> Option<(String, &'static str)> {
    let Expr::Function(f) = expr else {
        return None;
    };
    let name = f.name.0.last()?.as_ident()?;
    let (_, kind) = TO_REG
        .iter()
        .find(|(n, _)| name.quote_style.is_none() && name.value.eq_ignore_ascii_case(n))?;
    let FunctionArguments::List(list) = &f.args else {
        return None;
    };
    match list.args.as_slice() {
        [FunctionArg::Unnamed(FunctionArgExpr::Expr(arg))] => Some((arg.to_string(), kind)),
        _ => None,
    }
}

/// Names the column of `unnest(a) AS x` after its alias (see the module documentation).
struct UnnestColumnAlias;

impl VisitorMut for UnnestColumnAlias {
    type Break = ();

    fn pre_visit_table_factor(&mut self, table: &mut TableFactor) -> ControlFlow<()> {
        let (alias, one_array) = match table {
            TableFactor::UNNEST {
                alias,
                array_exprs,
                with_offset: false,
                with_ordinality: false,
                ..
            } => (alias, array_exprs.len() == 1),
            TableFactor::Table {
                name,
                args: Some(args),
                alias,
                with_ordinality: false,
                ..
            } => {
                let unnest = name
                    .0
                    .last()
                    .and_then(|p| p.as_ident())
                    .is_some_and(|i| i.value.eq_ignore_ascii_case("unnest"));
                (alias, unnest && args.args.len() == 1)
            }
            _ => return ControlFlow::Continue(()),
        };
        if let Some(alias) = alias
            && one_array
            && alias.columns.is_empty()
        {
            alias.columns = vec![TableAliasColumnDef::from_name(alias.name.value.clone())];
        }
        ControlFlow::Continue(())
    }
}

/// Whether `expr` names the column `reloptions` (of any table).
fn is_reloptions(expr: &Expr) -> bool {
    let name = match expr {
        Expr::Identifier(i) => i,
        Expr::CompoundIdentifier(parts) => match parts.last() {
            Some(i) => i,
            None => return false,
        },
        _ => return false,
    };
    name.quote_style.is_none() && name.value.eq_ignore_ascii_case("reloptions")
}

/// The subquery of `ARRAY(subquery)` (parsed as a call of a function named `array`).
fn array_constructor(expr: &Expr) -> Option<String> {
    let Expr::Function(f) = expr else {
        return None;
    };
    let [ObjectNamePart::Identifier(name)] = f.name.0.as_slice() else {
        return None;
    };
    match &f.args {
        FunctionArguments::Subquery(query)
            if name.value.eq_ignore_ascii_case("array") && name.quote_style.is_none() =>
        {
            Some(query.to_string())
        }
        _ => None,
    }
}

fn parse_expr(sql: &str) -> Result<Expr, ParserError> {
    Parser::new(&PostgreSqlDialect {})
        .try_with_sql(sql)?
        .parse_expr()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rewritten(sql: &str) -> String {
        let mut statements = Parser::parse_sql(&PostgreSqlDialect {}, sql).expect("parses");
        rewrite_statement(statements.remove(0))
            .expect("rewrites")
            .to_string()
    }

    #[test]
    fn array_constructors_become_aggregates() {
        let r = rewritten("select array(select x from t order by 1) as a, array[1, 2] as b");
        assert_eq!(
            r,
            "SELECT (SELECT array_agg(array_element) FROM (SELECT x FROM t ORDER BY 1) AS \
             array_constructor (array_element)) AS a, ARRAY[1, 2] AS b"
        );
        // Nested, and a function merely called `array_to_string` is left alone.
        let r = rewritten("select array_to_string(array(select array(select 1)), ',') from t");
        assert_eq!(r.matches("array_agg(array_element)").count(), 2, "{r}");
        assert!(r.starts_with("SELECT array_to_string("), "{r}");
    }

    #[test]
    fn catalog_lookups_take_their_one_value_and_views_are_left_alone() {
        let r = rewritten(
            "select case when a.attcollation <> 0 then (select t.typcollation as x \
             from pg_catalog.pg_type t where t.oid = a.atttypid) else null end from pg_attribute a",
        );
        assert!(
            r.contains("(SELECT first_value(t.typcollation) AS x FROM"),
            "{r}"
        );
        // A table without rows for anything served here: NULL, its parameters kept.
        let r = rewritten(
            "select (select json_build_object($1::VARCHAR, s.seqstart) from pg_catalog.pg_sequence s \
             where s.seqrelid = a.attrelid) from pg_attribute a",
        );
        assert_eq!(
            r,
            "SELECT CASE WHEN false AND ($1::VARCHAR) IS NULL THEN NULL END FROM pg_attribute a"
        );
        for sql in [
            "select (select count(*) from pg_catalog.pg_class c where c.oid = a.attrelid) from pg_attribute a",
            "select (select antal from kartlaggning k where k.kommun = a.kommun) from kartlaggning a",
        ] {
            assert!(!rewritten(sql).contains("first_value"), "{sql}");
        }
    }

    #[tokio::test]
    async fn the_empty_catalog_tables_are_empty_in_the_emulation() {
        use datafusion::prelude::{SessionConfig, SessionContext};
        use datafusion_postgres::datafusion_pg_catalog::pg_catalog::context::EmptyContextProvider;
        use datafusion_postgres::datafusion_pg_catalog::setup_pg_catalog;
        let config = SessionConfig::new().with_default_catalog_and_schema("malgrupp", "public");
        let ctx = SessionContext::new_with_config(config);
        setup_pg_catalog(&ctx, "malgrupp", EmptyContextProvider).expect("catalog");
        for table in EMPTY_CATALOG_TABLES {
            let rows = ctx
                .sql(&format!("select * from pg_catalog.{table}"))
                .await
                .expect("plans")
                .count()
                .await
                .expect("counts");
            assert_eq!(
                rows, 0,
                "{table} has rows: the NULL rewrite would hide them"
            );
        }
    }

    #[test]
    fn to_regtype_looks_the_name_up_in_the_catalog() {
        let r = rewritten("select oid from pg_type t where t.oid = to_regtype($1)");
        assert!(
            r.contains("(SELECT oid FROM pg_catalog.pg_type WHERE typname = $1)"),
            "{r}"
        );
        let r = rewritten("select pg_catalog.to_regclass('kartlaggning')");
        assert!(r.contains("pg_catalog.pg_class"), "{r}");
        assert!(!r.contains("to_regclass"), "{r}");
    }
}
