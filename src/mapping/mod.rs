//! Mapping a decoded extract onto its canonical table, row by row.
//!
//! For every row each mapped field gets its raw text (column, constant, file name or
//! cell), optionally through a regex and template, then the value map, then the typed
//! parser of its canonical type. The identity number is validated and replaced by the
//! keyed pseudonym here, so the raw number goes no further than this function. A row
//! with any problem goes to quarantine with file, row, column and reason (values shown
//! masked); a problem that concerns the whole file (a missing column, a constant that
//! does not parse) fails the extract instead.
//!
//! The stage between `format` and `pipeline`: it reads a pipeline's field mappings
//! (`config`) and the shared schema and value parsers (`normalize`). `person` turns a
//! row's person fields (a personnummer or another key) into its columns, `batch` builds
//! Arrow batches, `keys` finds an aggregate key given twice, `unpivot` turns value
//! columns into rows.

pub mod batch;
pub mod keys;
mod person;
pub mod unpivot;

use std::collections::BTreeMap;

use chrono::NaiveDate;
use datafusion::arrow::record_batch::RecordBatch;

use crate::config::pipeline::{FieldMapping, Origin, Pipeline};
use crate::format::RawTable;
use crate::normalize::personnummer;
use crate::normalize::pseudonym::PseudonymKey;
use crate::normalize::schema::{FieldType, PERSON_KON, TableKind};
use crate::normalize::{kommun, value};
use person::PersonFields;

/// A typed cell of a canonical row.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// No value.
    Null,
    /// Text.
    Text(String),
    /// Float.
    Float(f64),
    /// Integer.
    Int(i32),
    /// Boolean.
    Bool(bool),
    /// Date.
    Date(NaiveDate),
}

/// One canonical row, in the order of [`crate::normalize::schema::TableDef::file_schema`].
pub type Row = Vec<Cell>;

/// A rejected row.
#[derive(Debug, Clone, PartialEq)]
pub struct Rejected {
    /// 1-based row number in the file.
    pub row: usize,
    /// Source column (or field) at fault.
    pub column: Option<String>,
    /// The offending value, masked and shortened.
    pub value: Option<String>,
    /// What was expected.
    pub reason: String,
}

/// The result of mapping one extract (or one chunk of it).
#[derive(Debug, Default)]
pub struct Mapped {
    /// Rows by (kommun, period) partition, as batches in the table's file schema, in
    /// file order.
    pub partitions: BTreeMap<(String, String), Vec<RecordBatch>>,
    /// Rejected rows, in file order.
    pub rejected: Vec<Rejected>,
    /// Input records considered (after unpivot).
    pub records: usize,
    /// For aggregate tables: each mapped row's key and row number, in file order
    /// (`keys::first_duplicate`).
    pub keys: Vec<(String, usize)>,
}

impl Mapped {
    /// Appends the result of the next chunk of the same extract.
    ///
    /// A national extract spreads every chunk over hundreds of partitions, so each chunk
    /// adds a small batch to each of them; a batch costs buffers and headers of its own
    /// for every column, so a partition's batches are joined once they are
    /// [`COALESCE_AT`] (the rows are copied a few times, the overhead is not kept).
    pub fn absorb(&mut self, next: Mapped) {
        for (part, batches) in next.partitions {
            let held = self.partitions.entry(part).or_default();
            held.extend(batches);
            if held.len() >= COALESCE_AT
                && let Ok(one) =
                    datafusion::arrow::compute::concat_batches(&held[0].schema(), held.iter())
            {
                *held = vec![one];
            }
        }
        self.rejected.extend(next.rejected);
        self.records += next.records;
        self.keys.extend(next.keys);
    }
}

/// Batches a partition may hold before [`Mapped::absorb`] joins them.
const COALESCE_AT: usize = 8;

/// Why a row is rejected: the column, the value as it may be shown, the reason.
pub(super) struct RowError {
    pub(super) column: Option<String>,
    pub(super) value: Option<String>,
    pub(super) reason: String,
}

/// Maps `table` (decoded from the file `file_name`, content id `extract_id`).
pub fn map_extract(
    pipeline: &Pipeline,
    table: &RawTable,
    file_name: &str,
    extract_id: &str,
    key: &PseudonymKey,
) -> Result<Mapped, String> {
    let table = unpivot::apply(pipeline, table)?;
    // Resolve columns and file-level values once: a problem here concerns the whole file.
    let mut sources = Vec::with_capacity(pipeline.fields.len());
    for m in &pipeline.fields {
        let at = format!("fields.{}", m.field.name);
        let src = match &m.origin {
            Origin::Column(name) => {
                let i = table.column(name).ok_or_else(|| {
                    format!(
                        "{at}: column '{name}' is not in the header (found: {})",
                        crate::format::quote(&table.columns.join(", "))
                    )
                })?;
                // The header names it twice (the second is addressable as "name (2)"):
                // taking the first silently could read the wrong column.
                let twin = format!("{} (2)", table.columns[i]);
                if table.column(&twin).is_some() {
                    return Err(format!(
                        "{at}: column '{name}' appears more than once in the header; name the one meant as '{}' or '{twin}'",
                        table.columns[i]
                    ));
                }
                Source::Column(i, name.clone())
            }
            Origin::Constant(c) => Source::Fixed(c.clone()),
            Origin::FileName(re) => {
                let caps = re.captures(file_name).ok_or_else(|| {
                    format!(
                        "{at}: the file name does not match the pattern {}",
                        re.as_str()
                    )
                })?;
                Source::Fixed(expand(&caps, m.template.as_deref()))
            }
            Origin::Cell(r, c) => {
                Source::Fixed(table.head_cell(*r, *c).map(str::to_string).ok_or_else(|| {
                    format!(
                        "{at}: cell {} is empty or below the header",
                        cell_name(*r, *c)
                    )
                })?)
            }
        };
        if let Source::Fixed(v) = &src {
            // Fixed values must be valid, or every row would be rejected for the same reason.
            if let Err(e) = raw_value(m, v).and_then(|v| v.map_or(Ok(()), |v| check_fixed(m, &v))) {
                return Err(format!("{at}: {}", e.reason));
            }
        }
        sources.push(src);
    }
    let record = pipeline.target.kind == TableKind::Record;
    // Positions of dimension/kategori, looked up once rather than per row.
    let schema = pipeline.target.file_schema();
    let total_pair = match (schema.index_of("dimension"), schema.index_of("kategori")) {
        (Ok(d), Ok(k)) if !record => Some((d, k)),
        _ => None,
    };
    let key_cells = keys::positions(pipeline.target);
    // Rows are independent: the chunk is split into one contiguous slice per core, and
    // the slices' results are joined in order, so the output is the sequential one.
    let workers = std::thread::available_parallelism()
        .map_or(1, usize::from)
        .min(table.rows.len().div_ceil(MIN_ROWS_PER_WORKER).max(1));
    let per_worker = table.rows.len().div_ceil(workers).max(1);
    let map_slice = |rows: &[crate::format::RawRow]| -> Result<Mapped, String> {
        let mut parts: BTreeMap<(String, String), Vec<Row>> = BTreeMap::new();
        let mut out = Mapped {
            records: rows.len(),
            ..Mapped::default()
        };
        for raw in rows {
            if let Some(reason) = &raw.problem {
                out.rejected.push(Rejected {
                    row: raw.row,
                    column: None,
                    value: None,
                    reason: reason.clone(),
                });
                continue;
            }
            match map_row(
                pipeline, &sources, &raw.cells, extract_id, key, record, total_pair,
            ) {
                Ok((part, row)) => {
                    if let Some(at) = &key_cells {
                        out.keys.push((keys::of(&part, &row, at), raw.row));
                    }
                    parts.entry(part).or_default().push(row)
                }
                Err(e) => out.rejected.push(Rejected {
                    row: raw.row,
                    column: e.column,
                    value: e.value,
                    reason: e.reason,
                }),
            }
        }
        for (part, rows) in parts {
            let batch = batch::rows_to_batch(&schema, &rows).map_err(|e| e.to_string())?;
            out.partitions.insert(part, vec![batch]);
        }
        Ok(out)
    };
    let slices: Vec<&[crate::format::RawRow]> = table.rows.chunks(per_worker).collect();
    let results = crate::runtime::parallel_map(&slices, |rows| map_slice(rows));
    let mut out = Mapped::default();
    for r in results {
        out.absorb(r.ok_or("internal: a mapping thread panicked")??);
    }
    Ok(out)
}

/// Below this many rows per core a chunk is mapped on fewer threads (starting a thread
/// costs more than mapping a few rows).
const MIN_ROWS_PER_WORKER: usize = 4_096;

enum Source {
    Column(usize, String),
    Fixed(String),
}

fn map_row(
    pipeline: &Pipeline,
    sources: &[Source],
    cells: &[String],
    extract_id: &str,
    key: &PseudonymKey,
    record: bool,
    total_pair: Option<(usize, usize)>,
) -> Result<((String, String), Row), RowError> {
    let mut kommun_code = String::new();
    let mut period = String::new();
    let mut reference: Option<NaiveDate> = None;
    let mut person = PersonFields::default();
    let mut values: BTreeMap<&str, Vec<Cell>> = BTreeMap::new();
    for (m, src) in pipeline.fields.iter().zip(sources) {
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
            values.insert(m.field.name, null_cells(m.field.ty));
            continue;
        };
        let fail_showing = |reason: String| fail(reason, Some(show(&v, m.field.ty)));
        match m.field.ty {
            FieldType::Kommun => {
                kommun_code = kommun::normalize(&v)
                    .ok_or_else(|| fail_showing("expected one of the 290 kommun codes".into()))?
                    .to_string()
            }
            FieldType::Period => period = value::parse_period(&v).map_err(fail_showing)?,
            FieldType::Personnummer => person.personnummer = Some((v, column.map(str::to_string))),
            FieldType::PersonKey => {
                let kind = m.kind.as_deref().unwrap_or_default();
                person.key = Some((v, column.map(str::to_string), kind))
            }
            FieldType::BirthYear => {
                person.birth_year = Some(value::parse_birth_year(&v).map_err(fail_showing)?)
            }
            FieldType::Kon => person.kon = Some(category(PERSON_KON, &v).map_err(fail_showing)?),
            _ if m.field.name == "reference_date" => {
                reference =
                    Some(value::parse_date(&v, m.date_format.as_deref()).map_err(fail_showing)?)
            }
            ty => {
                let cells = typed(ty, &v, m, pipeline).map_err(fail_showing)?;
                values.insert(m.field.name, cells);
            }
        }
    }
    // A participation cannot end before it starts.
    if let (Some(Cell::Date(start)), Some(Cell::Date(end))) =
        (first(&values, "startdatum"), first(&values, "slutdatum"))
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
    for fd in pipeline.target.fields {
        match fd.ty {
            ty if ty.is_person() => {}
            ty => {
                let default = match fd.name {
                    "dimension" | "kategori" => Some(Cell::Text("total".into())),
                    "enhet" => Some(Cell::Text("antal".into())),
                    _ => None,
                };
                match (values.remove(fd.name), default) {
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
fn raw_value(m: &FieldMapping, text: &str) -> Result<Option<String>, RowError> {
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

fn check_fixed(m: &FieldMapping, v: &str) -> Result<(), RowError> {
    value::check_literal(m.field, v).map_err(|reason| RowError {
        column: None,
        value: None,
        reason,
    })
}

fn typed(
    ty: FieldType,
    v: &str,
    m: &FieldMapping,
    pipeline: &Pipeline,
) -> Result<Vec<Cell>, String> {
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
            return Err("internal: handled by the caller".into());
        }
    })
}

/// The code of `allowed` that `v` is, ignoring case.
pub(super) fn category(allowed: &[&str], v: &str) -> Result<String, String> {
    allowed
        .iter()
        .find(|a| a.eq_ignore_ascii_case(v))
        .map(|code| (*code).to_string())
        .ok_or_else(|| format!("expected one of {} (add a value map)", allowed.join(", ")))
}

/// How much of a value may be shown in quarantine and errors.
/// `date`, unless it lies more than `max_days_ahead` days after today. Today is the UTC
/// day plus one, so a date of today in any time zone passes.
fn not_ahead(date: NaiveDate, max_days_ahead: u32) -> Result<NaiveDate, String> {
    let latest = chrono::Utc::now().date_naive() + chrono::Days::new(1 + u64::from(max_days_ahead));
    if date > latest {
        return Err(format!(
            "the date is after {latest}, more than max_days_ahead = {max_days_ahead} days from today (a wrong column or date format?)"
        ));
    }
    Ok(date)
}

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

fn expand(caps: &regex::Captures<'_>, template: Option<&str>) -> String {
    match template {
        Some(t) => {
            let mut out = String::new();
            caps.expand(t, &mut out);
            out
        }
        None => caps
            .get(1)
            .or_else(|| caps.get(0))
            .map_or(String::new(), |m| m.as_str().to_string()),
    }
}

fn cell_name(row: usize, col: usize) -> String {
    let mut letters = String::new();
    let mut c = col + 1;
    while c > 0 {
        letters.insert(0, char::from(b'A' + ((c - 1) % 26) as u8));
        c = (c - 1) / 26;
    }
    format!("{letters}{}", row + 1)
}

fn first<'a>(values: &'a BTreeMap<&str, Vec<Cell>>, name: &str) -> Option<&'a Cell> {
    values.get(name).and_then(|cells| cells.first())
}
