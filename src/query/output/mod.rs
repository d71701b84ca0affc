//! Tabular results in every encoding the product writes them in — an aligned table for
//! people, CSV, JSON, Arrow, Parquet and Excel for programs — each written once, here.
//!
//! A transport (the HTTP API, `malgrupp sql`, `malgrupp export`) chooses the encoding
//! and says which it offers; this layer knows no transport, only bytes and their media
//! type.

mod xlsx;

use std::io::Write;

use clap::ValueEnum;
use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::json::writer::JsonArray;
use datafusion::arrow::record_batch::RecordBatch;

use crate::error::{Error, Result};

/// How a tabular result is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Encoding {
    /// Aligned text table.
    Table,
    /// CSV with a header row.
    Csv,
    /// Excel workbook, one sheet per table.
    Xlsx,
    /// Parquet.
    Parquet,
    /// A JSON array of objects.
    Json,
    /// An Arrow IPC stream.
    Arrow,
}

impl Encoding {
    /// The name a user gives: `--format csv`, `?format=csv`.
    pub fn name(self) -> &'static str {
        match self {
            Encoding::Table => "table",
            Encoding::Csv => "csv",
            Encoding::Xlsx => "xlsx",
            Encoding::Parquet => "parquet",
            Encoding::Json => "json",
            Encoding::Arrow => "arrow",
        }
    }

    /// The encoding named `name` among `offered`.
    pub fn parse(name: &str, offered: &[Encoding]) -> Option<Encoding> {
        offered.iter().copied().find(|e| e.name() == name)
    }

    /// The media type of the bytes.
    pub fn content_type(self) -> &'static str {
        match self {
            Encoding::Table => "text/plain; charset=utf-8",
            Encoding::Csv => "text/csv; charset=utf-8",
            Encoding::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            Encoding::Parquet => "application/vnd.apache.parquet",
            Encoding::Json => "application/json",
            Encoding::Arrow => "application/vnd.apache.arrow.stream",
        }
    }

    /// `offered` as a sentence's list: "csv, xlsx, parquet or json".
    pub fn list(offered: &[Encoding]) -> String {
        let names: Vec<&str> = offered.iter().map(|e| e.name()).collect();
        match names.split_last() {
            Some((last, [])) => (*last).to_string(),
            Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
            None => String::new(),
        }
    }

    /// `self` when `command` offers it; otherwise a usage error naming what it offers
    /// (for a caller that passed an encoding the command-line parser would refuse).
    pub fn offered_by(self, command: &str, offered: &[Encoding]) -> Result<Encoding> {
        if offered.contains(&self) {
            return Ok(self);
        }
        Err(Error::usage(
            command,
            "--format",
            format!(
                "{command} writes {}, not {}",
                Encoding::list(offered),
                self.name()
            ),
        ))
    }

    /// A command-line parser accepting only `offered`, listed in that order in `--help`
    /// and in clap's error for any other value.
    pub fn offered(offered: &'static [Encoding]) -> Offered {
        Offered(offered)
    }
}

/// The command-line parser of [`Encoding::offered`].
#[derive(Debug, Clone, Copy)]
pub struct Offered(&'static [Encoding]);

impl Offered {
    fn values(&self) -> impl Iterator<Item = PossibleValue> + '_ {
        self.0.iter().filter_map(ValueEnum::to_possible_value)
    }
}

impl TypedValueParser for Offered {
    type Value = Encoding;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> std::result::Result<Encoding, clap::Error> {
        // clap's own parser of the names, so a wrong value is told as for any enum.
        let name = PossibleValuesParser::new(self.values()).parse_ref(cmd, arg, value)?;
        Encoding::parse(&name, self.0)
            .ok_or_else(|| clap::Error::new(clap::error::ErrorKind::InvalidValue).with_cmd(cmd))
    }

    fn possible_values(&self) -> Option<Box<dyn Iterator<Item = PossibleValue> + '_>> {
        Some(Box::new(self.values()))
    }
}

/// A result to write: its columns (so an empty result still carries them: a CSV header,
/// an Arrow or Parquet schema), its batches, and a name (the Excel sheet's).
#[derive(Debug, Clone, Copy)]
pub struct Rows<'a> {
    /// The result's name: the view exported, or "result".
    pub name: &'a str,
    /// The columns of the result.
    pub schema: &'a SchemaRef,
    /// The rows.
    pub batches: &'a [RecordBatch],
}

/// `rows` in `encoding` as bytes.
pub fn encode(rows: Rows<'_>, encoding: Encoding) -> Result<Vec<u8>> {
    let mut buf = Vec::new();
    write(rows, encoding, &mut buf)?;
    Ok(buf)
}

/// Writes `rows` to `out` in `encoding`. JSON has explicit nulls: a suppressed `antal`
/// reads as null, not as a missing key.
pub fn write(rows: Rows<'_>, encoding: Encoding, out: &mut dyn Write) -> Result<()> {
    // Writers compare each batch with the schema they were opened with; the batches'
    // own schema can differ from the plan's in nullability or metadata.
    let schema = rows
        .batches
        .first()
        .map_or(rows.schema.clone(), RecordBatch::schema);
    let empty = [RecordBatch::new_empty(schema.clone())];
    let batches = if rows.batches.is_empty() {
        &empty[..]
    } else {
        rows.batches
    };
    let io = |e: std::io::Error| Error::io("<output>", e);
    match encoding {
        Encoding::Table => {
            let text = datafusion::arrow::util::pretty::pretty_format_batches(batches)?;
            writeln!(out, "{text}").map_err(io)?;
        }
        Encoding::Csv => {
            let mut w = datafusion::arrow::csv::WriterBuilder::new()
                .with_header(true)
                .build(&mut *out);
            for b in batches {
                w.write(b)?;
            }
        }
        Encoding::Json => {
            let mut w = datafusion::arrow::json::WriterBuilder::new()
                .with_explicit_nulls(true)
                .build::<_, JsonArray>(&mut *out);
            for b in batches {
                w.write(b)?;
            }
            w.finish()?;
        }
        Encoding::Arrow => {
            let mut w = datafusion::arrow::ipc::writer::StreamWriter::try_new(&mut *out, &schema)?;
            for b in batches {
                w.write(b)?;
            }
            w.finish()?;
        }
        Encoding::Parquet => {
            // The lake's writer settings; the writer needs a `Send` sink.
            let mut buf = Vec::new();
            let mut w = crate::lake::parquet::writer(&mut buf, schema)?;
            for b in batches {
                w.write(b)?;
            }
            w.close()?;
            out.write_all(&buf).map_err(io)?;
        }
        Encoding::Xlsx => out
            .write_all(&xlsx::workbook(rows.name, batches)?)
            .map_err(io)?,
    }
    Ok(())
}
