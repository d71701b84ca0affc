//! What SQL a client may run over the published views, for the HTTP API and the
//! PostgreSQL endpoint alike: the checks on a statement's text before anything recursive
//! touches it, the planning options that refuse every statement that would change
//! something ([`read_only`]), and how such a refusal is recognized in an error.
//!
//! The SQL parser guards its own recursion (nested parentheses, subqueries, prefix
//! operators), but it builds a chain of infix operators (`1+1+…`, `a = 1 OR a = 2 OR …`)
//! in a loop, so such a chain becomes an expression tree as deep as it is long. Every
//! later step walks that tree recursively — rewriting, planning, optimizing, displaying,
//! evaluating, dropping — and a few thousand levels overflow a worker thread's stack,
//! which aborts the whole process. Counting the operators on the token stream bounds the
//! depth of any tree the parser can build, and costs one pass without recursion.
//!
//! The same pass refuses `||` on the HTTP API: string concatenation by operator is not a
//! function call, so it escapes the output bounds of `published::bounded`; `concat(…)` does
//! the same within them. The PostgreSQL endpoint accepts it (psql's catalog queries use
//! it) and turns it into a bounded function call in every plan (`pgwire::compat`).

use std::fmt;

use datafusion::execution::context::SQLOptions;
use datafusion::sql::sqlparser::dialect::Dialect;
use datafusion::sql::sqlparser::keywords::Keyword;
use datafusion::sql::sqlparser::tokenizer::{Token, Tokenizer};

/// Most operators one request may contain. Generous for hand-written and BI queries
/// (long lists belong in `IN (…)`, which is flat), far below the depth at which the
/// engine's recursion needs more than a 2 MiB thread stack.
pub(crate) const MAX_OPERATORS: usize = 1000;

/// Why EXPLAIN is refused, over HTTP and PostgreSQL alike: a plan names the server's
/// files (absolute paths) and settings.
pub(crate) const EXPLAIN_REFUSED: &str = "EXPLAIN is not offered: query plans show the server's internals (file paths, settings); run the query itself";

/// Planning options that refuse DDL (CREATE/DROP), DML (INSERT/COPY) and statements
/// (SET, transactions) before anything runs: a client only reads.
pub(crate) fn read_only() -> SQLOptions {
    SQLOptions::new()
        .with_allow_ddl(false)
        .with_allow_dml(false)
        .with_allow_statements(false)
}

/// Whether `msg`, a planning error, is [`read_only`] refusing a statement (the messages
/// of [`SQLOptions::verify_plan`]).
pub(crate) fn is_refused_statement(msg: &str) -> bool {
    [
        "DDL not supported",
        "DML not supported",
        "Statement not supported",
    ]
    .iter()
    .any(|p| msg.starts_with(p))
}

/// Why a statement is refused before it is parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Refused {
    /// More operators than [`MAX_OPERATORS`].
    TooComplex,
    /// The text cannot be split into tokens (the parser would fail the same way).
    Unreadable(String),
    /// The `||` operator, which is not offered.
    Concatenation,
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refused::TooComplex => write!(
                f,
                "the statement is too complex: it has more than {MAX_OPERATORS} operators \
                 (+, =, AND, OR, …); write long OR chains as `column IN (…)`"
            ),
            Refused::Unreadable(e) => write!(f, "the statement cannot be read: {e}"),
            Refused::Concatenation => write!(
                f,
                "the || operator is not offered: write concat(a, b), whose result counts against the memory limit"
            ),
        }
    }
}

impl std::error::Error for Refused {}

/// Refuses `sql` when it has more than [`MAX_OPERATORS`] operators in the tokens of
/// `dialect` (the one the statement will be parsed with).
pub(crate) fn check_text(sql: &str, dialect: &dyn Dialect) -> Result<(), Refused> {
    let tokens = operators_checked(sql, dialect)?;
    // `s || s || …` is evaluated outside the function layer that bounds what a call
    // may produce (`published::bounded`), and chained through CTEs it multiplies.
    if tokens.contains(&Token::StringConcat) {
        return Err(Refused::Concatenation);
    }
    Ok(())
}

/// [`check_text`] without refusing `||`: for a caller that replaces the operator by a
/// bounded function in every plan (the PostgreSQL endpoint, `pgwire::compat`).
pub(crate) fn check_operators(sql: &str, dialect: &dyn Dialect) -> Result<(), Refused> {
    operators_checked(sql, dialect).map(drop)
}

/// The tokens of `sql`, after checking there are at most [`MAX_OPERATORS`] operators.
fn operators_checked(sql: &str, dialect: &dyn Dialect) -> Result<Vec<Token>, Refused> {
    let tokens = Tokenizer::new(dialect, sql)
        .tokenize()
        .map_err(|e| Refused::Unreadable(e.to_string()))?;
    if tokens.iter().filter(|t| is_operator(t)).count() > MAX_OPERATORS {
        return Err(Refused::TooComplex);
    }
    Ok(tokens)
}

/// Keywords the parser treats as infix operators.
const OPERATOR_KEYWORDS: [Keyword; 17] = [
    Keyword::AND,
    Keyword::OR,
    Keyword::XOR,
    Keyword::NOT,
    Keyword::IS,
    Keyword::IN,
    Keyword::LIKE,
    Keyword::ILIKE,
    Keyword::SIMILAR,
    Keyword::BETWEEN,
    Keyword::COLLATE,
    Keyword::AT,
    Keyword::DIV,
    Keyword::OVERLAPS,
    Keyword::REGEXP,
    Keyword::RLIKE,
    Keyword::OPERATOR,
];

/// Every token that can join two expressions. Counting a few that cannot (`*` of
/// `count(*)`) errs on the safe side; names, literals, commas and parentheses are not
/// counted, so long select lists and `IN` lists cost nothing.
fn is_operator(token: &Token) -> bool {
    match token {
        Token::Word(w) => w.quote_style.is_none() && OPERATOR_KEYWORDS.contains(&w.keyword),
        Token::EOF
        | Token::Number(..)
        | Token::Comma
        | Token::Whitespace(_)
        | Token::LParen
        | Token::RParen
        | Token::Period
        | Token::SemiColon
        | Token::Placeholder(_)
        | Token::SingleQuotedString(_)
        | Token::DoubleQuotedString(_)
        | Token::DollarQuotedString(_)
        | Token::EscapedStringLiteral(_)
        | Token::NationalStringLiteral(_)
        | Token::UnicodeStringLiteral(_)
        | Token::HexStringLiteral(_)
        | Token::SingleQuotedByteStringLiteral(_) => false,
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use datafusion::sql::sqlparser::dialect::{GenericDialect, PostgreSqlDialect};

    use super::*;

    fn chain(term: &str, op: &str, n: usize) -> String {
        vec![term; n].join(op)
    }

    #[test]
    fn long_infix_chains_are_refused_flat_lists_are_not() {
        for dialect in [&GenericDialect {} as &dyn Dialect, &PostgreSqlDialect {}] {
            let deep = format!("select {}", chain("1", "+", 5000));
            assert_eq!(check_text(&deep, dialect), Err(Refused::TooComplex));
            let ors = format!(
                "select * from kartlaggning where {}",
                chain("antal = 5", " OR ", 3000)
            );
            assert_eq!(check_text(&ors, dialect), Err(Refused::TooComplex));
            let casts = format!("select 1{}", "::int".repeat(MAX_OPERATORS + 1));
            assert_eq!(check_text(&casts, dialect), Err(Refused::TooComplex));

            let list = format!(
                "select \"public\".\"kartlaggning\".antal from kartlaggning where antal in ({})",
                (0..5000)
                    .map(|i| i.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            assert_eq!(check_text(&list, dialect), Ok(()));
            let at_limit = format!("select {}", chain("1", "+", MAX_OPERATORS + 1));
            assert_eq!(check_text(&at_limit, dialect), Ok(()));
            // Operators inside strings and quoted names are not operators.
            let quoted = format!("select '{}' as \"and\"", chain("1", "+", 5000));
            assert_eq!(check_text(&quoted, dialect), Ok(()));
        }
        assert!(matches!(
            check_text("select 'unterminated", &PostgreSqlDialect {}),
            Err(Refused::Unreadable(_))
        ));
        for dialect in [&GenericDialect {} as &dyn Dialect, &PostgreSqlDialect {}] {
            assert_eq!(
                check_text("select kommun || '-' || period from kartlaggning", dialect),
                Err(Refused::Concatenation)
            );
            assert_eq!(check_text("select '||' as bars", dialect), Ok(()));
        }
    }
}
