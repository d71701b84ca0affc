//! One row of an extract onto its canonical row: each field's raw text through pattern,
//! default and value map ([`raw_value`]), then the parser of its canonical type, the
//! person fields into pseudonym, age and kön, the defaults of an aggregate's breakdown
//! columns. A row that fails any step becomes a [`RowError`], which the extract's mapping
//! turns into a quarantined row; this is the boundary where a typed [`Invalid`] becomes
//! the quarantine reason's text.

use chrono::NaiveDate;

use super::error::Invalid;
use super::person::{self, PersonFields};
use super::sources::{Source, expand};
use super::{Cell, Row};
use crate::config::pipeline::{FieldMapping, Pipeline};
use crate::normalize::personnummer;
use crate::normalize::pseudonym::PseudonymKey;
use crate::normalize::schema::{FieldType, PERSON_KON};
use crate::normalize::{kommun, value};

/// Why a row is rejected: the column, the value as it may be shown, the reason.
pub(super) struct RowError {
    pub(super) column: Option<String>,
    pub(super) value: Option<String>,
    pub(super) reason: String,
}

/// What mapping the rows of one extract needs, looked up once for all its rows.
pub(super) struct RowPlan<'a> {
    pub(super) pipeline: &'a Pipeline,
    /// Where each field's text comes from, in the order of `pipeline.fields`.
    pub(super) sources: &'a [Source],
    pub(super) extract_id: &'a str,
    pub(super) key: &'a PseudonymKey,
    /// A record-level table (with person columns) rather than an aggregate.
    pub(super) record: bool,
    /// Positions of `dimension` and `kategori` in the row of an aggregate.
    pub(super) total_pair: Option<(usize, usize)>,
    /// For each of `pipeline.fields`, its position among the target table's fields
    /// (None for kommun, period and the person fields, which have columns of their own).
    slots: Vec<Option<usize>>,
    /// Positions of `startdatum` and `slutdatum` among the target table's fields.
    start_end: Option<(usize, usize)>,
}

impl<'a> RowPlan<'a> {
    pub(super) fn new(
        pipeline: &'a Pipeline,
        sources: &'a [Source],
        extract_id: &'a str,
        key: &'a PseudonymKey,
        record: bool,
        total_pair: Option<(usize, usize)>,
    ) -> Self {
        let fields = pipeline.target.fields;
        let at = |name: &str| fields.iter().position(|f| f.name == name);
        RowPlan {
            slots: pipeline.fields.iter().map(|m| at(m.field.name)).collect(),
            start_end: at("startdatum").zip(at("slutdatum")),
            pipeline,
            sources,
            extract_id,
            key,
            record,
            total_pair,
        }
    }
}

/// Maps the cells of one row; the partition (kommun, period) and the canonical row.
pub(super) fn map_row(
    plan: &RowPlan<'_>,
    cells: &[String],
) -> Result<((String, String), Row), RowError> {
    let RowPlan {
        pipeline,
        sources,
        extract_id,
        key,
        record,
        total_pair,
        ..
    } = *plan;
    let mut kommun_code = String::new();
    let mut period = String::new();
    let mut reference: Option<NaiveDate> = None;
    let mut person = PersonFields::default();
    // Each target field's cells by its position (a map by name cost a tenth of mapping).
    let mut values: Vec<Option<Vec<Cell>>> = vec![None; pipeline.target.fields.len()];
    let mut put = |at: Option<usize>, cells: Vec<Cell>| {
        if let Some(at) = at {
            values[at] = Some(cells);
        }
    };
    for ((m, src), slot) in pipeline.fields.iter().zip(sources).zip(&plan.slots) {
        // Borrowed on the way through: a row that maps cleanly allocates no message parts
        // (at national size these were a good part of ingest's time).
        let (text, column) = match src {
            Source::Column(i, name) => (
                cells.get(*i).map(String::as_str).unwrap_or(""),
                Some(name.as_str()),
            ),
            Source::Fixed(v) => (v.as_str(), None),
        };
        let fail = |reason: String, shown: Option<String>| RowError {
            column: Some(column.unwrap_or(m.field.name).to_string()),
            value: shown,
            reason: format!("fields.{}: {reason}", m.field.name),
        };
        let v = raw_value(m, text).map_err(|e| fail(e.reason, e.value))?;
        let Some(v) = v else {
            if m.field.required {
                return Err(fail("a value is required".into(), None));
            }
            put(*slot, null_cells(m.field.ty));
            continue;
        };
        let fail_showing = |reason: Invalid| fail(reason.to_string(), Some(show(&v, m.field.ty)));
        match m.field.ty {
            FieldType::Kommun => {
                kommun_code = kommun::normalize(&v)
                    .ok_or_else(|| {
                        fail(
                            "expected one of the 290 kommun codes".into(),
                            Some(show(&v, m.field.ty)),
                        )
                    })?
                    .to_string()
            }
            FieldType::Period => {
                period = value::parse_period(&v).map_err(|e| fail_showing(e.into()))?
            }
            FieldType::Personnummer => person.personnummer = Some((v, column.map(str::to_string))),
            FieldType::PersonKey => {
                let kind = m.kind.as_deref().unwrap_or_default();
                person.key = Some((v, column.map(str::to_string), kind))
            }
            FieldType::BirthYear => {
                person.birth_year =
                    Some(value::parse_birth_year(&v).map_err(|e| fail_showing(e.into()))?)
            }
            FieldType::Kon => person.kon = Some(category(PERSON_KON, &v).map_err(fail_showing)?),
            _ if m.field.name == "reference_date" => {
                reference = Some(
                    value::parse_date(&v, m.date_format.as_deref())
                        .map_err(|e| fail_showing(e.into()))?,
                )
            }
            ty => {
                let cells = typed(ty, &v, m, pipeline).map_err(fail_showing)?;
                put(*slot, cells);
            }
        }
    }
    // A participation cannot end before it starts.
    let first = |at: usize| values[at].as_ref().and_then(|cells| cells.first());
    if let Some((start, end)) = plan.start_end
        && let (Some(Cell::Date(start)), Some(Cell::Date(end))) = (first(start), first(end))
        && end < start
    {
        return Err(RowError {
            column: Some("slutdatum".into()),
            value: Some(end.to_string()),
            reason: "fields.slutdatum: the end lies before startdatum".into(),
        });
    }
    let mut row = Vec::with_capacity(pipeline.target.fields.len() + 6);
    if record {
        let reference = reference
            .or_else(|| value::period_end(&period))
            .ok_or_else(|| RowError {
                column: None,
                value: None,
                reason: "no reference date".into(),
            })?;
        let [id, age, kon] = person.cells(key, reference)?;
        row.extend([id, Cell::Date(reference), age, kon]);
    }
    for (fd, cells) in pipeline.target.fields.iter().zip(values) {
        match fd.ty {
            ty if ty.is_person() => {}
            ty => {
                let default = match fd.name {
                    "dimension" | "kategori" => Some(Cell::Text("total".into())),
                    "enhet" => Some(Cell::Text("antal".into())),
                    _ => None,
                };
                match (cells, default) {
                    (Some(cells), Some(d)) if cells == [Cell::Null] => row.push(d),
                    (Some(cells), _) => row.extend(cells),
                    (None, Some(d)) => row.push(d),
                    (None, None) => row.extend(null_cells(ty)),
                }
            }
        }
    }
    if let Some((d, k)) = total_pair {
        check_total_consistency(&row, d, k)?;
    }
    row.push(Cell::Text(extract_id.to_string()));
    Ok(((kommun_code, period), row))
}

/// Totals must never be ambiguous with breakdowns: `dimension` and `kategori` are both
/// `total` or neither is.
fn check_total_consistency(row: &Row, d: usize, k: usize) -> Result<(), RowError> {
    let is_total = |c: &Cell| matches!(c, Cell::Text(t) if t == "total");
    if is_total(&row[d]) != is_total(&row[k]) {
        return Err(RowError {
            column: Some("kategori".into()),
            value: None,
            reason:
                "dimension and kategori must both be 'total' (a total) or neither (a breakdown)"
                    .into(),
        });
    }
    Ok(())
}

fn null_cells(ty: FieldType) -> Vec<Cell> {
    if ty == FieldType::Value {
        vec![
            Cell::Null,
            Cell::Null,
            Cell::Text("missing".into()),
            Cell::Null,
        ]
    } else {
        vec![Cell::Null]
    }
}

/// Raw text → optional string after pattern, default and value map.
pub(super) fn raw_value(m: &FieldMapping, text: &str) -> Result<Option<String>, RowError> {
    let err = |reason: String, v: &str| RowError {
        column: None,
        value: Some(show(v, m.field.ty)),
        reason,
    };
    let mut v = text.trim().to_string();
    if let Some(re) = &m.pattern
        && !v.is_empty()
    {
        let caps = re.captures(&v).ok_or_else(|| {
            err(
                format!("the value does not match the pattern {}", re.as_str()),
                &v,
            )
        })?;
        v = expand(&caps, m.template.as_deref());
    }
    if v.is_empty() {
        match &m.default {
            Some(d) => v.clone_from(d),
            None => return Ok(None),
        }
    }
    if let Some(map) = &m.values {
        // Keys are lower case; most values already are, and need no copy to look up.
        let key = v.trim();
        let key = if key.chars().any(char::is_uppercase) {
            std::borrow::Cow::Owned(key.to_lowercase())
        } else {
            std::borrow::Cow::Borrowed(key)
        };
        match map.get(key.as_ref()) {
            Some(mapped) => v.clone_from(mapped),
            None if m
                .field
                .ty
                .allowed()
                .is_some_and(|a| a.contains(&v.as_str())) => {}
            None => {
                let mut keys: Vec<&str> = map.keys().map(String::as_str).collect();
                keys.sort_unstable();
                return Err(err(
                    format!(
                        "the value is not in the value map (expected one of: {})",
                        keys.join(", ")
                    ),
                    &v,
                ));
            }
        }
    }
    Ok(Some(v))
}

/// Checks a value fixed for the whole file against its field.
pub(super) fn check_fixed(m: &FieldMapping, v: &str) -> Result<(), RowError> {
    value::check_literal(m.field, v).map_err(|e| RowError {
        column: None,
        value: None,
        reason: e.to_string(),
    })
}

fn typed(
    ty: FieldType,
    v: &str,
    m: &FieldMapping,
    pipeline: &Pipeline,
) -> Result<Vec<Cell>, Invalid> {
    let nf = &pipeline.table.numbers;
    Ok(match ty {
        FieldType::Text => vec![Cell::Text(personnummer::scrub(v))],
        FieldType::Category(allowed) => vec![Cell::Text(category(allowed, v)?)],
        FieldType::Number => vec![Cell::Float(value::parse_number(v, nf)?)],
        FieldType::Bool => vec![Cell::Bool(value::parse_bool(v)?)],
        FieldType::Date => {
            let date = value::parse_date(v, m.date_format.as_deref())?;
            vec![Cell::Date(not_ahead(date, m.max_days_ahead)?)]
        }
        FieldType::Value => {
            let c = value::parse_value_cell(v, nf)?;
            let opt = |x: Option<f64>| x.map_or(Cell::Null, Cell::Float);
            vec![
                opt(c.varde),
                c.token.map_or(Cell::Null, Cell::Text),
                Cell::Text(c.status.to_string()),
                opt(c.upper),
            ]
        }
        FieldType::Kommun
        | FieldType::Period
        | FieldType::Personnummer
        | FieldType::PersonKey
        | FieldType::BirthYear
        | FieldType::Kon => {
            return Err(Invalid::HandledByCaller);
        }
    })
}

/// The code of `allowed` that `v` is, ignoring case.
pub(super) fn category(allowed: &[&str], v: &str) -> Result<String, Invalid> {
    allowed
        .iter()
        .find(|a| a.eq_ignore_ascii_case(v))
        .map(|code| (*code).to_string())
        .ok_or_else(|| Invalid::Category {
            allowed: allowed.join(", "),
        })
}

/// `date`, unless it lies more than `max_days_ahead` days after today. Today is the UTC
/// day plus one, so a date of today in any time zone passes.
fn not_ahead(date: NaiveDate, max_days_ahead: u32) -> Result<NaiveDate, Invalid> {
    let latest = chrono::Utc::now().date_naive() + chrono::Days::new(1 + u64::from(max_days_ahead));
    if date > latest {
        return Err(Invalid::Ahead {
            latest,
            max_days_ahead,
        });
    }
    Ok(date)
}

/// How much of a value may be shown in quarantine and errors.
fn show(v: &str, ty: FieldType) -> String {
    match ty {
        FieldType::Personnummer => return personnummer::mask(v),
        FieldType::PersonKey => return person::mask_key(v),
        _ => {}
    }
    let s = personnummer::scrub(v);
    if s.chars().count() > 60 {
        format!("{}…", s.chars().take(60).collect::<String>())
    } else {
        s
    }
}
