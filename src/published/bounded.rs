//! Functions whose result can be far larger than their arguments (`repeat('x', 600000000)`
//! is 600 MB from 20 bytes of SQL), in the sessions of the HTTP API and the PostgreSQL
//! endpoint.
//!
//! The memory pool only sees what operators reserve, and a scalar function reserves
//! nothing, so its output was outside the limit. Here each such function is replaced by
//! a wrapper that first computes an upper bound of the bytes the call will produce, from
//! its argument values, refuses more than [`MAX_CALL_BYTES`] and reserves the rest from
//! the shared pool for the call: a larger result, or one larger than what is free, fails
//! with "resources exhausted" before anything is allocated. The list functions that build arrays of any length from two numbers
//! (`range`, `generate_series` as a scalar, `array_repeat`, `array_resize`) are not
//! offered at all; the published views hold no lists.

use std::hash::{Hash, Hasher};
use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::FieldRef;
use datafusion::arrow::datatypes::{DataType, Int64Type};
use datafusion::common::{DataFusionError, Result, ScalarValue};
use datafusion::execution::memory_pool::{MemoryConsumer, MemoryPool};
use datafusion::logical_expr::{
    ColumnarValue, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
    Volatility,
};
use datafusion::prelude::SessionContext;

/// Functions that build lists of any length from a few numbers; never needed here.
const WITHDRAWN: [&str; 4] = ["range", "generate_series", "array_repeat", "array_resize"];

/// How the size of a function's result follows from its arguments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Growth {
    /// `repeat(s, n)`: `len(s) · n`.
    Repeat,
    /// `lpad(s, n [, fill])`, `rpad`: `n` characters of up to 4 bytes.
    Pad,
    /// `replace(s, from, to)`: every `from` (or, when empty, every position) becomes `to`.
    Replace,
    /// `regexp_replace(s, pattern, replacement [, flags])`: at most `len(s) + 1`
    /// matches, each replaced by the replacement, whose group references together
    /// copy each character of `s` at most `len(replacement)` times.
    RegexpReplace,
    /// `concat(…)`: the sum of the arguments.
    Concat,
    /// `concat_ws(sep, …)`: the sum of the arguments and a separator between each two.
    ConcatWs,
    /// At most this many bytes per byte of the arguments: `encode(s, 'hex')` doubles,
    /// `upper` of some letters triples (ΐ → Ϊ́), quoting doubles quotes. Nested, such
    /// functions would multiply; bounded, each level stops at [`MAX_CALL_BYTES`].
    Scaled(u8),
}

/// Most bytes one call may produce (for one batch of rows, or a constant folded while
/// planning). The pool reservation covers the call only; a folded constant then lives
/// on in the plan and is copied by the optimizer, so a call's result must also be small
/// next to the pool.
pub(crate) const MAX_CALL_BYTES: u64 = 16 * 1024 * 1024;

const BOUNDED: [(&str, Growth); 19] = [
    ("repeat", Growth::Repeat),
    ("lpad", Growth::Pad),
    ("rpad", Growth::Pad),
    ("replace", Growth::Replace),
    ("regexp_replace", Growth::RegexpReplace),
    ("concat", Growth::Concat),
    ("concat_ws", Growth::ConcatWs),
    // `||` over the PostgreSQL endpoint (`pgwire::compat`): text, and arrays as
    // DataFusion plans them (aliases such as `array_cat` are the same functions).
    ("textcat", Growth::Concat),
    ("array_concat", Growth::Concat),
    ("array_append", Growth::Concat),
    ("array_prepend", Growth::Concat),
    // JSON escaping writes a control character as `\u0000`.
    ("json_build_object", Growth::Scaled(6)),
    ("overlay", Growth::Concat),
    ("encode", Growth::Scaled(2)),
    ("upper", Growth::Scaled(3)),
    ("lower", Growth::Scaled(3)),
    ("initcap", Growth::Scaled(3)),
    ("quote_ident", Growth::Scaled(2)),
    ("quote_literal", Growth::Scaled(2)),
];

/// Replaces the growing functions of `ctx` by bounded ones reserving from `pool`, and
/// withdraws the list builders.
pub(crate) fn bound_functions(ctx: &SessionContext, pool: &Arc<dyn MemoryPool>) {
    let state = ctx.state();
    for (name, growth) in BOUNDED {
        if let Some(inner) = state.scalar_functions().get(name) {
            // Volatile, so the planner never folds a call into a constant: a folded
            // result outlives the call's reservation and is copied by the optimizer, and
            // a failing fold is retried for every enclosing call, which made nested
            // calls take time exponential in their depth.
            let signature = Signature {
                volatility: Volatility::Volatile,
                ..inner.signature().clone()
            };
            ctx.register_udf(ScalarUDF::new_from_impl(Bounded {
                inner: inner.clone(),
                growth,
                signature,
                pool: pool.clone(),
            }));
        }
    }
    for name in WITHDRAWN {
        ctx.deregister_udf(name);
    }
}

/// A growing function that reserves its result's upper bound before it runs.
#[derive(Debug)]
struct Bounded {
    inner: Arc<ScalarUDF>,
    growth: Growth,
    signature: Signature,
    pool: Arc<dyn MemoryPool>,
}

impl PartialEq for Bounded {
    fn eq(&self, other: &Self) -> bool {
        self.inner == other.inner && self.growth == other.growth
    }
}

impl Eq for Bounded {}

impl Hash for Bounded {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.inner.hash(state);
        self.growth.hash(state);
    }
}

impl ScalarUDFImpl for Bounded {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn aliases(&self) -> &[String] {
        self.inner.aliases()
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        self.inner.return_type(arg_types)
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        self.inner.return_field_from_args(args)
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        self.inner.coerce_types(arg_types)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let bytes = upper_bound(self.growth, &args.args, args.number_rows);
        if bytes > MAX_CALL_BYTES {
            return Err(DataFusionError::ResourcesExhausted(format!(
                "{}() would produce up to {bytes} bytes, more than the {MAX_CALL_BYTES} bytes one call may",
                self.inner.name()
            )));
        }
        let reservation =
            MemoryConsumer::new(format!("{}()", self.inner.name())).register(&self.pool);
        reservation.try_grow(usize::try_from(bytes).unwrap_or(usize::MAX))?;
        let result = self.inner.invoke_with_args(args);
        drop(reservation);
        result
    }
}

/// Bytes the call can produce at most, over all rows (saturating).
fn upper_bound(growth: Growth, args: &[ColumnarValue], rows: usize) -> u64 {
    let len = |i: usize| {
        args.get(i)
            .map(|a| byte_lengths(a, rows))
            .unwrap_or_default()
    };
    let num = |i: usize| args.get(i).map(|a| integers(a, rows)).unwrap_or_default();
    let per_row: Vec<u64> = match growth {
        Growth::Repeat => {
            let (s, n) = (len(0), num(1));
            (0..rows)
                .map(|r| at(&s, r).saturating_mul(at(&n, r)))
                .collect()
        }
        Growth::Pad => {
            let n = num(1);
            (0..rows).map(|r| at(&n, r).saturating_mul(4)).collect()
        }
        Growth::Replace => {
            let (s, from, to) = (len(0), len(1), len(2));
            (0..rows)
                .map(|r| {
                    let places = at(&s, r) / at(&from, r).max(1) + 1;
                    at(&s, r).saturating_add(places.saturating_mul(at(&to, r)))
                })
                .collect()
        }
        Growth::RegexpReplace => {
            let (s, repl) = (len(0), len(2));
            (0..rows)
                .map(|r| {
                    let (s, repl) = (at(&s, r), at(&repl, r));
                    let matches = s.saturating_add(1).saturating_mul(repl);
                    let copies = s.saturating_mul(repl.saturating_add(1));
                    matches.saturating_add(copies)
                })
                .collect()
        }
        Growth::Scaled(factor) => {
            let all: Vec<Vec<u64>> = (0..args.len()).map(len).collect();
            (0..rows)
                .map(|r| {
                    let sum = all.iter().map(|l| at(l, r)).fold(0u64, u64::saturating_add);
                    sum.saturating_mul(u64::from(factor)).saturating_add(2)
                })
                .collect()
        }
        Growth::Concat | Growth::ConcatWs => {
            let all: Vec<Vec<u64>> = (0..args.len()).map(len).collect();
            let separators = match growth {
                Growth::ConcatWs => args.len() as u64,
                _ => 0,
            };
            (0..rows)
                .map(|r| {
                    let sum = all.iter().map(|l| at(l, r)).fold(0u64, u64::saturating_add);
                    let sep = all.first().map_or(0, |l| at(l, r));
                    sum.saturating_add(sep.saturating_mul(separators))
                })
                .collect()
        }
    };
    per_row.into_iter().fold(0, u64::saturating_add)
}

fn at(values: &[u64], row: usize) -> u64 {
    values.get(row).copied().unwrap_or(0)
}

/// Per row, the bytes of a string or binary argument (0 for NULL); other types by their
/// text form.
fn byte_lengths(value: &ColumnarValue, rows: usize) -> Vec<u64> {
    match value {
        ColumnarValue::Scalar(s) => {
            let n = match s {
                ScalarValue::Utf8(v) | ScalarValue::LargeUtf8(v) | ScalarValue::Utf8View(v) => {
                    v.as_ref().map_or(0, String::len)
                }
                ScalarValue::Binary(v)
                | ScalarValue::LargeBinary(v)
                | ScalarValue::BinaryView(v)
                | ScalarValue::FixedSizeBinary(_, v) => v.as_ref().map_or(0, Vec::len),
                other if other.is_null() => 0,
                other => other.to_string().len(),
            };
            vec![n as u64; rows]
        }
        ColumnarValue::Array(a) => {
            let lengths: Option<Vec<u64>> = if let Some(s) = a.as_string_opt::<i32>() {
                Some(s.iter().map(|v| v.map_or(0, |t| t.len() as u64)).collect())
            } else if let Some(s) = a.as_string_opt::<i64>() {
                Some(s.iter().map(|v| v.map_or(0, |t| t.len() as u64)).collect())
            } else if let Some(s) = a.as_string_view_opt() {
                Some(s.iter().map(|v| v.map_or(0, |t| t.len() as u64)).collect())
            } else if let Some(b) = a.as_binary_opt::<i32>() {
                Some(b.iter().map(|v| v.map_or(0, |t| t.len() as u64)).collect())
            } else if let Some(b) = a.as_binary_opt::<i64>() {
                Some(b.iter().map(|v| v.map_or(0, |t| t.len() as u64)).collect())
            } else {
                a.as_binary_view_opt()
                    .map(|b| b.iter().map(|v| v.map_or(0, |t| t.len() as u64)).collect())
            };
            // Anything else is at most its whole buffer per row.
            lengths.unwrap_or_else(|| vec![a.get_buffer_memory_size() as u64; a.len()])
        }
    }
}

/// Per row, an integer argument (negative and NULL as 0; unreadable as the maximum).
fn integers(value: &ColumnarValue, rows: usize) -> Vec<u64> {
    let clamp = |v: Option<i64>| v.map_or(0, |n| n.max(0) as u64);
    match value {
        ColumnarValue::Scalar(s) => {
            let n = match s.cast_to(&DataType::Int64) {
                Ok(ScalarValue::Int64(v)) => clamp(v),
                _ => u64::MAX,
            };
            vec![n; rows]
        }
        ColumnarValue::Array(a) => match cast(a, &DataType::Int64) {
            Ok(ints) => ints.as_primitive::<Int64Type>().iter().map(clamp).collect(),
            Err(_) => vec![u64::MAX; a.len()],
        },
    }
}

#[cfg(test)]
mod tests {
    use datafusion::arrow::array::StringArray;

    use super::*;

    fn text(v: &str) -> ColumnarValue {
        ColumnarValue::Scalar(ScalarValue::Utf8(Some(v.to_string())))
    }

    fn int(v: i64) -> ColumnarValue {
        ColumnarValue::Scalar(ScalarValue::Int64(Some(v)))
    }

    #[test]
    fn bounds_cover_what_the_functions_produce() {
        assert_eq!(upper_bound(Growth::Repeat, &[text("ab"), int(3)], 2), 12);
        assert_eq!(upper_bound(Growth::Repeat, &[text("ab"), int(-3)], 1), 0);
        let column = ColumnarValue::Array(Arc::new(StringArray::from(vec![Some("abc"), None])));
        assert_eq!(upper_bound(Growth::Repeat, &[column, int(2)], 2), 6);
        assert_eq!(
            upper_bound(Growth::Repeat, &[text("x"), int(i64::MAX)], 8192),
            u64::MAX,
            "saturates instead of wrapping"
        );
        assert_eq!(upper_bound(Growth::Pad, &[text("x"), int(10)], 1), 40);
        // replace('aaaa', 'a', 'bb') is 8 bytes; with an empty pattern every position
        // takes the replacement.
        let r = upper_bound(Growth::Replace, &[text("aaaa"), text("a"), text("bb")], 1);
        assert!((8..=20).contains(&r), "{r}");
        let r = upper_bound(Growth::Replace, &[text("aaaa"), text(""), text("bb")], 1);
        assert!(r >= "aaaa".replace("", "bb").len() as u64, "{r}");
        // regexp_replace('abc', '(.*)', '\1\1\1', 'g') copies the text three times.
        let r = upper_bound(
            Growth::RegexpReplace,
            &[text("abc"), text("(.*)"), text("\\1\\1\\1"), text("g")],
            1,
        );
        assert!(r >= 9, "{r}");
        assert_eq!(upper_bound(Growth::Concat, &[text("ab"), text("c")], 3), 9);
        let r = upper_bound(Growth::Scaled(2), &[text("abc"), text("hex")], 1);
        assert!(r >= "616263".len() as u64, "{r}");
        let bytes = ColumnarValue::Scalar(ScalarValue::Binary(Some(vec![0; 1000])));
        assert!(upper_bound(Growth::Scaled(2), &[bytes, text("hex")], 1) >= 2000);
        assert_eq!(
            upper_bound(Growth::ConcatWs, &[text("/"), text("a"), text("b")], 1),
            6
        );
    }
}
