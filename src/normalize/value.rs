//! Parsing of raw cell text into typed canonical values.
//!
//! Swedish extracts write `1 234,5` (space, non-breaking space or narrow no-break space
//! as thousands separator, comma as decimal), periods as `201505`, `2015-05`, `2015M05`
//! or `maj 2015`, booleans as `Ja`/`J`/`X`, and suppressed counts as `<5`, `..` or `X`.
//! Everything here returns a message saying what was expected, never the raw value
//! (the caller decides what of the value may be shown).

use chrono::{Datelike, NaiveDate};

use super::schema::{FieldDef, FieldType};

/// Why a cell's text is not a value of its type. The text says what was expected and
/// never repeats the value (the caller decides what of it may be shown); `mapping` turns
/// it into a quarantine reason, `config` into a problem of the pipeline file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValueError {
    /// A personnummer where a figure was expected.
    #[error("an identity number, not a figure: it belongs in a personnummer field")]
    IdentityNumber,
    /// Not a number in the pipeline's format.
    #[error("expected a number with '{decimal}' as decimal separator")]
    Number {
        /// The pipeline's decimal separator.
        decimal: char,
    },
    /// Neither a number nor a suppression or missing-value token.
    #[error("expected a number or a suppression token such as <5, .. or X")]
    ValueCell,
    /// Not a period in any of the accepted forms.
    #[error("expected a period such as 2015-05, 201505, 2015M05, maj 2015 or 2015")]
    Period,
    /// Not a date in the pipeline's `date_format`.
    #[error("expected a date in the format {format}")]
    DateFormat {
        /// The chrono format configured.
        format: String,
    },
    /// Not a date in the default forms.
    #[error("expected a date as YYYY-MM-DD or YYYYMMDD")]
    Date,
    /// A date outside the years any extract can mean.
    #[error("expected a date between 1900 and 2100")]
    DateRange,
    /// Not a yes/no.
    #[error("expected yes/no: Ja/Nej, J/N, true/false or 1/0")]
    Bool,
    /// Not a birth year.
    #[error("expected a birth year as four digits, 1900 or later")]
    BirthYear,
    /// A constant or default that is no kommun code.
    #[error("'{value}' is not one of the 290 kommun codes")]
    Kommun {
        /// The literal from the pipeline file.
        value: String,
    },
    /// A constant or default that is not one of a category's codes.
    #[error("'{value}' is not one of {allowed}")]
    Category {
        /// The literal from the pipeline file.
        value: String,
        /// The codes, comma-separated.
        allowed: String,
    },
}

/// Decimal and thousands separators of a pipeline.
#[derive(Debug, Clone, PartialEq)]
pub struct NumberFormat {
    /// `,` or `.`.
    pub decimal: char,
    /// Characters ignored between digits.
    pub thousands: Vec<char>,
}

impl Default for NumberFormat {
    fn default() -> Self {
        NumberFormat {
            decimal: ',',
            thousands: vec![' ', '\u{a0}', '\u{202f}'],
        }
    }
}

/// Parses a number in the pipeline's format.
pub fn parse_number(s: &str, nf: &NumberFormat) -> Result<f64, ValueError> {
    let t = s.trim();
    // 199410212386 parses as a number, but it is a person in the wrong column.
    if super::personnummer::is_identity_number(t) {
        return Err(ValueError::IdentityNumber);
    }
    let mut out = String::with_capacity(t.len());
    for c in t.chars() {
        if nf.thousands.contains(&c) {
            continue;
        }
        if c == nf.decimal {
            out.push('.');
        } else if c.is_ascii_digit() || c == '-' || c == '+' || c == '\u{2212}' {
            out.push(if c == '\u{2212}' { '-' } else { c });
        } else {
            return Err(ValueError::Number {
                decimal: nf.decimal,
            });
        }
    }
    out.parse::<f64>()
        .ok()
        .filter(|v| v.is_finite())
        .ok_or(ValueError::Number {
            decimal: nf.decimal,
        })
}

/// A parsed count/value cell.
#[derive(Debug, Clone, PartialEq)]
pub struct ValueCell {
    /// The number; `None` when suppressed or missing (never 0 for a suppressed cell).
    pub varde: Option<f64>,
    /// The original token of a non-numeric cell (`<5`, `..`, `X` …).
    pub token: Option<String>,
    /// `ok`, `suppressed`, `missing` or `nil`.
    pub status: &'static str,
    /// Upper bound implied by the token (`<5` → 4).
    pub upper: Option<f64>,
}

/// Parses a count or value cell, recognizing suppression and missing-value tokens.
pub fn parse_value_cell(s: &str, nf: &NumberFormat) -> Result<ValueCell, ValueError> {
    let t = s.trim();
    let token = |status, upper| {
        Ok(ValueCell {
            varde: None,
            token: Some(t.to_string()),
            status,
            upper,
        })
    };
    match t {
        "" => {
            return Ok(ValueCell {
                varde: None,
                token: None,
                status: "missing",
                upper: None,
            });
        }
        ".." | "X" | "x" | "×" => return token("suppressed", None),
        "." | "--" | "…" | "..." | "...." | "....." | "......" => return token("missing", None),
        "-" | "–" => return token("nil", None),
        _ => {}
    }
    if let Some(rest) = t.strip_prefix('<') {
        let bound = parse_number(rest, nf).map_err(|_| ValueError::ValueCell)?;
        let upper = if bound.fract() == 0.0 {
            bound - 1.0
        } else {
            bound
        };
        return token("suppressed", Some(upper));
    }
    match parse_number(t, nf) {
        Ok(v) => Ok(ValueCell {
            varde: Some(v),
            token: None,
            status: "ok",
            upper: None,
        }),
        Err(_) => Err(ValueError::ValueCell),
    }
}

const MONTHS: &[(&str, u32)] = &[
    ("januari", 1),
    ("jan", 1),
    ("january", 1),
    ("februari", 2),
    ("feb", 2),
    ("february", 2),
    ("mars", 3),
    ("mar", 3),
    ("march", 3),
    ("april", 4),
    ("apr", 4),
    ("maj", 5),
    ("may", 5),
    ("juni", 6),
    ("jun", 6),
    ("june", 6),
    ("juli", 7),
    ("jul", 7),
    ("july", 7),
    ("augusti", 8),
    ("aug", 8),
    ("august", 8),
    ("september", 9),
    ("sep", 9),
    ("sept", 9),
    ("oktober", 10),
    ("okt", 10),
    ("october", 10),
    ("oct", 10),
    ("november", 11),
    ("nov", 11),
    ("december", 12),
    ("dec", 12),
];

/// Normalizes a period to `YYYY-MM` (monthly) or `YYYY` (yearly).
pub fn parse_period(s: &str) -> Result<String, ValueError> {
    const EXPECTED: ValueError = ValueError::Period;
    let t = s.trim().to_lowercase();
    let ym = |y: &str, m: &str| -> Result<String, ValueError> {
        let (y, m): (i32, u32) = (
            y.parse().map_err(|_| EXPECTED)?,
            m.parse().map_err(|_| EXPECTED)?,
        );
        if !(1900..=2100).contains(&y) || !(1..=12).contains(&m) {
            return Err(EXPECTED);
        }
        Ok(format!("{y:04}-{m:02}"))
    };
    let digits = |x: &str| !x.is_empty() && x.bytes().all(|b| b.is_ascii_digit());
    if t.len() == 4 && digits(&t) {
        let y: i32 = t.parse().map_err(|_| EXPECTED)?;
        return if (1900..=2100).contains(&y) {
            Ok(t)
        } else {
            Err(EXPECTED)
        };
    }
    if t.len() == 6 && digits(&t) {
        return ym(&t[..4], &t[4..]);
    }
    if let Some((y, m)) = t.split_once('m').filter(|(y, m)| digits(y) && digits(m)) {
        return ym(y, m);
    }
    let parts: Vec<&str> = t.split(['-', '/']).collect();
    if (parts.len() == 2 || parts.len() == 3)
        && parts[0].len() == 4
        && parts.iter().all(|p| digits(p))
    {
        return ym(parts[0], parts[1]);
    }
    let words: Vec<&str> = t.split_whitespace().collect();
    if let [month, year] = words.as_slice()
        && let Some((_, m)) = MONTHS.iter().find(|(name, _)| name == month)
    {
        return ym(year, &m.to_string());
    }
    Err(EXPECTED)
}

/// The last day of a period (the default reference date for ages).
pub fn period_end(period: &str) -> Option<NaiveDate> {
    let (y, m) = match period.split_once('-') {
        Some((y, m)) => (y.parse::<i32>().ok()?, m.parse::<u32>().ok()?),
        None => (period.parse::<i32>().ok()?, 12),
    };
    let first_next = if m == 12 {
        NaiveDate::from_ymd_opt(y + 1, 1, 1)?
    } else {
        NaiveDate::from_ymd_opt(y, m + 1, 1)?
    };
    first_next.pred_opt()
}

/// Parses a date: ISO `YYYY-MM-DD`, `YYYYMMDD`, or the pipeline's chrono `format`.
pub fn parse_date(s: &str, format: Option<&str>) -> Result<NaiveDate, ValueError> {
    let t = s.trim();
    if let Some(f) = format {
        return NaiveDate::parse_from_str(t, f).map_err(|_| ValueError::DateFormat {
            format: f.to_string(),
        });
    }
    NaiveDate::parse_from_str(t, "%Y-%m-%d")
        .or_else(|_| NaiveDate::parse_from_str(t, "%Y%m%d"))
        .map_err(|_| ValueError::Date)
        .and_then(|d| {
            if (1900..=2100).contains(&d.year()) {
                Ok(d)
            } else {
                Err(ValueError::DateRange)
            }
        })
}

/// Parses yes/no.
pub fn parse_bool(s: &str) -> Result<bool, ValueError> {
    match s.trim().to_lowercase().as_str() {
        "ja" | "j" | "yes" | "y" | "true" | "1" | "x" | "sant" => Ok(true),
        "nej" | "n" | "no" | "false" | "0" | "falskt" => Ok(false),
        _ => Err(ValueError::Bool),
    }
}

/// Checks a constant or default written in a pipeline file against its field.
pub fn check_literal(field: &FieldDef, v: &str) -> Result<(), ValueError> {
    match field.ty {
        FieldType::Kommun => {
            super::kommun::normalize(v)
                .map(|_| ())
                .ok_or_else(|| ValueError::Kommun {
                    value: v.to_string(),
                })
        }
        FieldType::Period => parse_period(v).map(|_| ()),
        FieldType::Date => parse_date(v, None).map(|_| ()),
        FieldType::Bool => parse_bool(v).map(|_| ()),
        FieldType::Number => parse_number(v, &NumberFormat::default()).map(|_| ()),
        FieldType::Value => parse_value_cell(v, &NumberFormat::default()).map(|_| ()),
        FieldType::BirthYear => parse_birth_year(v).map(|_| ()),
        FieldType::Category(_) | FieldType::Kon => {
            let allowed = field.ty.allowed().unwrap_or_default();
            if allowed.contains(&v) {
                Ok(())
            } else {
                Err(ValueError::Category {
                    value: v.to_string(),
                    allowed: allowed.join(", "),
                })
            }
        }
        FieldType::Text | FieldType::Personnummer | FieldType::PersonKey => Ok(()),
    }
}

/// A birth year: four digits from 1900 on (a register of working-age people holds no
/// one born earlier; a two-digit year is refused rather than guessed).
pub fn parse_birth_year(v: &str) -> Result<i32, ValueError> {
    let t = v.trim();
    match t.parse::<i32>() {
        Ok(y) if t.len() == 4 && y >= 1900 => Ok(y),
        _ => Err(ValueError::BirthYear),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn swedish_numbers() {
        let nf = NumberFormat::default();
        assert_eq!(parse_number("4\u{a0}312,50", &nf), Ok(4312.5));
        assert_eq!(parse_number("1 234 567", &nf), Ok(1_234_567.0));
        assert_eq!(parse_number("12\u{202f}000,25", &nf), Ok(12_000.25));
        assert_eq!(parse_number("−3,5", &nf), Ok(-3.5));
        assert!(
            parse_number("12.5", &nf).is_err(),
            "a point is not the decimal separator here"
        );
        assert!(parse_number("abc", &nf).is_err());
        for pnr in ["199410212386", "9410212386", "941021-2386"] {
            let e = parse_number(pnr, &nf).expect_err(pnr).to_string();
            assert!(e.contains("identity number"), "{e}");
        }
        assert_eq!(parse_number("1994102123", &nf), Ok(1_994_102_123.0));
        let dot = NumberFormat {
            decimal: '.',
            thousands: vec![','],
        };
        assert_eq!(parse_number("1,234.5", &dot), Ok(1234.5));
    }

    #[test]
    fn suppression_tokens_are_never_zero() {
        let nf = NumberFormat::default();
        let c = parse_value_cell("<5", &nf).expect("token");
        assert_eq!(
            (c.varde, c.token.as_deref(), c.status, c.upper),
            (None, Some("<5"), "suppressed", Some(4.0))
        );
        assert_eq!(
            parse_value_cell("..", &nf).expect("token").status,
            "suppressed"
        );
        assert_eq!(
            parse_value_cell("X", &nf).expect("token").status,
            "suppressed"
        );
        assert_eq!(
            parse_value_cell("--", &nf).expect("token").status,
            "missing"
        );
        assert_eq!(parse_value_cell("-", &nf).expect("token").status, "nil");
        assert_eq!(
            parse_value_cell(" 787 ", &nf).expect("number").varde,
            Some(787.0)
        );
        assert!(parse_value_cell("many", &nf).is_err());
    }

    #[test]
    fn periods() {
        for (raw, want) in [
            ("2015-05", "2015-05"),
            ("201505", "2015-05"),
            ("2015-05-31", "2015-05"),
            ("2015M05", "2015-05"),
            ("maj 2015", "2015-05"),
            ("Maj 2015", "2015-05"),
            ("2015", "2015"),
        ] {
            assert_eq!(parse_period(raw).as_deref(), Ok(want), "{raw}");
        }
        for bad in ["2015-13", "15-05", "majj 2015", "", "201513"] {
            assert!(parse_period(bad).is_err(), "{bad}");
        }
        assert_eq!(period_end("2015-05"), NaiveDate::from_ymd_opt(2015, 5, 31));
        assert_eq!(period_end("2016-02"), NaiveDate::from_ymd_opt(2016, 2, 29));
        assert_eq!(period_end("2015"), NaiveDate::from_ymd_opt(2015, 12, 31));
    }

    #[test]
    fn dates_and_bools() {
        assert_eq!(
            parse_date("2014-09-01", None),
            Ok(NaiveDate::from_ymd_opt(2014, 9, 1).expect("date"))
        );
        assert_eq!(
            parse_date("01/09/2014", Some("%d/%m/%Y")),
            Ok(NaiveDate::from_ymd_opt(2014, 9, 1).expect("date"))
        );
        assert!(parse_date("2014-02-30", None).is_err());
        assert_eq!(parse_bool("Ja"), Ok(true));
        assert_eq!(parse_bool("N"), Ok(false));
        assert!(parse_bool("kanske").is_err());
    }
}
