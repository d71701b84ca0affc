//! Validated pipelines: the only form of a pipeline file the rest of the program sees.
//!
//! [`Pipeline::from_toml`] turns a file into a [`Pipeline`] or into *every* problem found
//! in it (unknown keys, unknown fields, bad regexes, value maps to unknown codes, a
//! credential written in the file …), each named with file and field.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use regex::Regex;
use sha2::{Digest, Sha256};

use super::operations;
use super::raw::{RawFieldSpec, RawPipeline};
use crate::error::{Problems, Result};
use crate::format::{Format, TableOptions};
use crate::normalize::schema::{self, FieldDef, FieldType, TableDef, TableKind};
use crate::normalize::value;

/// A validated pipeline.
#[derive(Debug, Clone)]
pub struct Pipeline {
    /// Name: the file stem.
    pub name: String,
    /// The pipeline file.
    pub file: PathBuf,
    /// Description.
    pub description: String,
    /// Target table.
    pub target: &'static TableDef,
    /// Transport.
    pub source: crate::source::Source,
    /// Decoding.
    pub format: Format,
    /// Row filtering and number parsing shared by all formats.
    pub table: TableOptions,
    /// Optional unpivot.
    pub unpivot: Option<Unpivot>,
    /// Field mappings, in schema order.
    pub fields: Vec<FieldMapping>,
    /// Quarantine limit.
    pub max_quarantined_share: f64,
    /// SHA-256 of the pipeline file (a changed mapping reprocesses unchanged extracts).
    pub fingerprint: String,
    /// When the service runs it; None: only on demand.
    pub schedule: Option<operations::ScheduleSpec>,
    /// Whole-run retries after transient failures.
    pub retry: operations::RetryPolicy,
    /// When its data is due.
    pub freshness: Option<operations::Freshness>,
    /// Quality gates.
    pub checks: operations::Checks,
}

/// `[unpivot]`.
#[derive(Debug, Clone)]
pub struct Unpivot {
    /// Value columns.
    pub columns: Vec<String>,
    /// Column receiving the header.
    pub name_column: String,
    /// Column receiving the value.
    pub value_column: String,
}

/// How one canonical field gets its value.
#[derive(Debug, Clone)]
pub struct FieldMapping {
    /// The canonical field.
    pub field: &'static FieldDef,
    /// Where the raw text comes from.
    pub origin: Origin,
    /// Optional extraction regex.
    pub pattern: Option<Regex>,
    /// Optional template over the captures.
    pub template: Option<String>,
    /// Value map (keys lower-cased and trimmed).
    pub values: Option<HashMap<String, String>>,
    /// Default for empty cells.
    pub default: Option<String>,
    /// chrono date format.
    pub date_format: Option<String>,
    /// Dates: days after the run's day a date may lie.
    pub max_days_ahead: u32,
    /// `personnyckel`: the kind of identifier, the domain of its pseudonyms.
    pub kind: Option<String>,
}

impl Pipeline {
    /// What `check` warns of in this pipeline alone: a register keyed by another
    /// identifier than a personnummer without the columns that give kön and age, whose
    /// persons the follow-up then shows under kön `okand` and age class `okänd`.
    pub fn warnings(&self) -> Vec<String> {
        let has = |name: &str| self.fields.iter().any(|m| m.field.name == name);
        if !has("personnyckel") {
            return Vec::new();
        }
        [("kon", "kön", "kön 'okand' (in T only)"), ("fodelsear", "birth year", "age class 'okänd'")]
            .iter()
            .filter(|(field, _, _)| !has(field))
            .map(|(field, what, shown)| {
                format!(
                    "{}: keyed by personnyckel without fields.{field}: no {what} is known, and the follow-up shows its persons under {shown}",
                    self.name
                )
            })
            .collect()
    }

    /// The measure codes an aggregate pipeline can write (its `matt` field's value map,
    /// constant and default); None when it takes them as they come from a column, and
    /// for record registers, whose measures the views derive.
    pub fn written_measures(&self) -> Option<std::collections::BTreeSet<String>> {
        let m = self.fields.iter().find(|m| m.field.name == "matt")?;
        let mut codes: std::collections::BTreeSet<String> = m.default.iter().cloned().collect();
        match (&m.origin, &m.values) {
            (Origin::Constant(c), _) => {
                codes.insert(c.clone());
            }
            (_, Some(values)) => codes.extend(values.values().cloned()),
            _ => return None,
        }
        Some(codes)
    }
}

/// Origin of a raw value.
#[derive(Debug, Clone)]
pub enum Origin {
    /// A source column.
    Column(String),
    /// A constant.
    Constant(String),
    /// A regex over the file name.
    FileName(Regex),
    /// A cell (0-based row, column) of the raw sheet.
    Cell(usize, usize),
}

impl Pipeline {
    /// Validates the pipeline file `path` with content `text`.
    pub fn from_toml(path: &Path, text: &str) -> Result<Self> {
        let file = path.display().to_string();
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut p = Problems::default();
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            p.push(
                &file,
                "",
                "the file name must be letters, digits, '_' or '-' (it names the pipeline)",
            );
        }
        // Unknown keys are collected, not fatal, so that they are reported together with
        // every other problem of the file.
        let mut unknown = Vec::new();
        let parsed = toml::Deserializer::parse(text)
            .and_then(|d| serde_ignored::deserialize(d, |path| unknown.push(path.to_string())));
        let raw: RawPipeline = match parsed {
            Ok(r) => r,
            Err(e) => {
                p.push(&file, "", e.to_string().trim().replace('\n', " | "));
                return Err(crate::error::Error::Config(p));
            }
        };
        for key in unknown {
            p.push(
                &file,
                &key,
                "unknown key (see pipelines/README.md for the keys of each section)",
            );
        }
        let Some(target) = schema::table(&raw.target) else {
            let names: Vec<_> = schema::TABLES.iter().map(|t| t.name).collect();
            p.push(
                &file,
                "target",
                format!(
                    "unknown table '{}'; expected one of {}",
                    raw.target,
                    names.join(", ")
                ),
            );
            return Err(crate::error::Error::Config(p));
        };
        // Each transport and format validates its own keys; the problems join this file's.
        let source = crate::source::validate(raw.source, &file, &mut p);
        let (format, table) = crate::format::validate(raw.format, &file, &mut p);
        let unpivot = raw.unpivot.map(|u| {
            if u.columns.is_empty() {
                p.push(&file, "unpivot.columns", "list at least one column");
            }
            if u.name_column == u.value_column {
                p.push(&file, "unpivot", "name_column and value_column must differ");
            }
            Unpivot {
                columns: u.columns,
                name_column: u.name_column,
                value_column: u.value_column,
            }
        });
        let mut fields = Vec::new();
        for (key, value) in raw.fields {
            let at = format!("fields.{key}");
            let Some(field) = target.field(&key) else {
                if let Some(why) = super::person::key_refused(target, &key) {
                    p.push(&file, &at, why);
                    continue;
                }
                let names: Vec<_> = target.all_fields().iter().map(|f| f.name).collect();
                p.push(
                    &file,
                    &at,
                    format!(
                        "'{key}' is not a field of table {}; expected one of {}",
                        target.name,
                        names.join(", ")
                    ),
                );
                continue;
            };
            let spec = match value {
                toml::Value::String(column) => RawFieldSpec {
                    column: Some(column),
                    ..RawFieldSpec::default()
                },
                other => match RawFieldSpec::deserialize_value(other) {
                    Ok(s) => s,
                    Err(e) => {
                        p.push(&file, &at, e);
                        continue;
                    }
                },
            };
            if let Some(m) = validate_field(field, spec, &file, &at, &mut p) {
                fields.push(m);
            }
        }
        for fd in target.all_fields() {
            if fd.required
                && !fields.iter().any(|m| m.field.name == fd.name)
                && !matches!(fd.name, "dimension" | "kategori")
            {
                p.push(
                    &file,
                    format!("fields.{}", fd.name),
                    format!("required by table {}: {}", target.name, fd.doc),
                );
            }
        }
        if target.kind == TableKind::Record {
            super::person::validate(target, &fields, &file, &mut p);
        }
        fields.sort_by_key(|m| {
            target
                .all_fields()
                .iter()
                .position(|f| f.name == m.field.name)
        });
        let share = raw.max_quarantined_share.unwrap_or(0.05);
        if !(0.0..=1.0).contains(&share) {
            p.push(&file, "max_quarantined_share", "must be between 0 and 1");
        }
        if target.kind == TableKind::Record && unpivot.is_some() {
            p.push(&file, "unpivot", "only aggregate tables can be unpivoted");
        }
        let schedule = operations::schedule(raw.schedule, &file, &mut p);
        let retry = operations::retry(raw.retry, &file, &mut p);
        let freshness = operations::freshness(raw.freshness, &file, &mut p);
        let checks = operations::checks(raw.checks, target, &file, &mut p);
        let fingerprint = hex::encode(Sha256::digest(text.as_bytes()));
        let description = raw.description.unwrap_or_default();
        p.into_result(Pipeline {
            name,
            file: path.to_path_buf(),
            description,
            target,
            source,
            format,
            table,
            unpivot,
            fields,
            max_quarantined_share: share,
            fingerprint,
            schedule,
            retry,
            freshness,
            checks,
        })
    }
}

impl RawFieldSpec {
    fn deserialize_value(v: toml::Value) -> std::result::Result<Self, String> {
        serde::Deserialize::deserialize(v)
            .map_err(|e: toml::de::Error| e.to_string().trim().replace('\n', " "))
    }
}

fn validate_field(
    field: &'static FieldDef,
    spec: RawFieldSpec,
    file: &str,
    at: &str,
    p: &mut Problems,
) -> Option<FieldMapping> {
    let origins = [
        spec.column.is_some(),
        spec.constant.is_some(),
        spec.file_name.is_some(),
        spec.cell.is_some(),
    ];
    if origins.iter().filter(|b| **b).count() != 1 {
        p.push(
            file,
            at,
            "set exactly one of column, constant, file_name or cell",
        );
        return None;
    }
    let regex = |key: &str, s: &str, p: &mut Problems| match Regex::new(s) {
        Ok(r) => Some(r),
        Err(e) => {
            p.push(
                file,
                format!("{at}.{key}"),
                format!("not a valid regular expression: {e}"),
            );
            None
        }
    };
    let origin = if let Some(c) = spec.column {
        Origin::Column(c)
    } else if let Some(c) = spec.constant {
        Origin::Constant(c)
    } else if let Some(f) = spec.file_name {
        Origin::FileName(regex("file_name", &f, p)?)
    } else {
        let cell = spec.cell.unwrap_or_default();
        let Some((r, c)) = parse_cell_ref(&cell) else {
            p.push(
                file,
                format!("{at}.cell"),
                format!("'{cell}' is not a cell reference such as A1"),
            );
            return None;
        };
        Origin::Cell(r, c)
    };
    let pattern = spec.pattern.as_deref().and_then(|s| regex("pattern", s, p));
    if spec.template.is_some() && pattern.is_none() && !matches!(origin, Origin::FileName(_)) {
        p.push(
            file,
            format!("{at}.template"),
            "needs pattern (or file_name) to take captures from",
        );
    }
    if field.ty == FieldType::Personnummer && matches!(origin, Origin::Constant(_)) {
        p.push(file, at, "an identity number cannot be a constant");
    }
    if field.ty == FieldType::PersonKey && matches!(origin, Origin::Constant(_)) {
        p.push(file, at, "a person key cannot be a constant");
    }
    if spec.max_days_ahead.is_some() && field.ty != FieldType::Date {
        p.push(file, format!("{at}.max_days_ahead"), "only for date fields");
    }
    match (&spec.kind, field.ty) {
        (Some(_), ty) if ty != FieldType::PersonKey => {
            p.push(file, format!("{at}.kind"), "only for personnyckel");
        }
        (Some(kind), _) if !super::person::valid_key_kind(kind) => p.push(
            file,
            format!("{at}.kind"),
            format!(
                "'{kind}' is not a kind of identifier: use 1–64 of a-z, 0-9, '_', '-', '.', '/', e.g. kund_id/jobbverket"
            ),
        ),
        (None, FieldType::PersonKey) => p.push(
            file,
            format!("{at}.kind"),
            "say what the identifier is, e.g. kind = \"kund_id/jobbverket\" (name the issuer when ids are unique only within it): ids of different kinds get different pseudonyms",
        ),
        _ => {}
    }
    let values = spec.values.map(|m| {
        m.into_iter()
            .map(|(k, v)| {
                if let Some(allowed) = field.ty.allowed()
                    && !allowed.contains(&v.as_str())
                {
                    p.push(
                        file,
                        format!("{at}.values"),
                        format!(
                            "'{k}' maps to '{v}', which is not one of {}",
                            allowed.join(", ")
                        ),
                    );
                }
                (k.trim().to_lowercase(), v)
            })
            .collect()
    });
    // A constant or default must itself be a valid value of the field.
    for (key, v) in [
        (
            "constant",
            if let Origin::Constant(c) = &origin {
                Some(c.clone())
            } else {
                None
            },
        ),
        ("default", spec.default.clone()),
    ] {
        if let Some(v) = v {
            let mapped = values
                .as_ref()
                .and_then(|m: &HashMap<String, String>| m.get(&v.trim().to_lowercase()).cloned())
                .unwrap_or(v);
            if let Err(e) = value::check_literal(field, &mapped) {
                p.push(file, format!("{at}.{key}"), e.to_string());
            }
        }
    }
    Some(FieldMapping {
        field,
        origin,
        pattern,
        template: spec.template,
        values,
        default: spec.default,
        date_format: spec.date_format,
        max_days_ahead: spec.max_days_ahead.unwrap_or(0),
        kind: spec.kind,
    })
}

/// `A1` → (0, 0); `AB12` → (11, 27).
pub fn parse_cell_ref(s: &str) -> Option<(usize, usize)> {
    let s = s.trim().to_ascii_uppercase();
    let split = s.find(|c: char| c.is_ascii_digit())?;
    let (letters, digits) = s.split_at(split);
    if letters.is_empty() || !letters.chars().all(|c| c.is_ascii_uppercase()) {
        return None;
    }
    let col = letters
        .bytes()
        .fold(0usize, |acc, b| acc * 26 + usize::from(b - b'A' + 1))
        - 1;
    let row: usize = digits.parse().ok()?;
    Some((row.checked_sub(1)?, col))
}

#[cfg(test)]
#[path = "pipeline_tests.rs"]
mod tests;
