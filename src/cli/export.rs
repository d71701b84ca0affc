//! `malgrupp export VIEW`: a published view (suppression applied) to a file, filtered by
//! kommun and period: CSV, Excel (typed numeric cells, Swedish headers), Parquet or JSON.
//!
//! Exports read the published folder only, so nothing leaves unsuppressed.

use std::path::Path;

use datafusion::arrow::array::{Array, BooleanArray, Float64Array, Int64Array, StringArray};
use datafusion::arrow::datatypes::DataType;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::prelude::{ParquetReadOptions, col, lit};

use crate::config::Settings;
use crate::error::{Error, Problems, Result};
use crate::lake::{Lake, atomic, parquet};

/// Export file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportFormat {
    /// CSV with a header row.
    Csv,
    /// Excel workbook, one sheet per table.
    Xlsx,
    /// Parquet.
    Parquet,
    /// A JSON array of objects.
    Json,
}

/// Exports `view`, optionally filtered, to `out`; returns the number of rows.
pub async fn execute(
    settings: &Settings,
    view: &str,
    kommun: Option<&str>,
    period: Option<&str>,
    format: ExportFormat,
    out: &Path,
) -> Result<usize> {
    let dir = crate::publish::dir(&Lake::new(&settings.lake_root));
    let file = dir.join(format!("{view}.parquet"));
    if !view
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        || !file.is_file()
    {
        let mut names: Vec<String> = std::fs::read_dir(&dir)
            .map(|e| {
                e.flatten()
                    .filter_map(|e| {
                        e.file_name()
                            .to_str()
                            .and_then(|n| n.strip_suffix(".parquet"))
                            .map(str::to_string)
                    })
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        let mut p = Problems::default();
        p.push(
            "export",
            "VIEW",
            format!(
                "'{view}' is not a published view (published: {}; run `malgrupp run` first)",
                if names.is_empty() {
                    "none".into()
                } else {
                    names.join(", ")
                }
            ),
        );
        return Err(Error::Usage(p));
    }
    let ctx = crate::query::new_session();
    let path = file
        .to_str()
        .ok_or_else(|| Error::Internal("the lake path is not UTF-8".into()))?;
    let mut df = ctx
        .read_parquet(path, ParquetReadOptions::default())
        .await?;
    for (column, value) in [("kommun", kommun), ("period", period)] {
        if let Some(v) = value {
            df = df.filter(col(column).eq(lit(v)))?;
        }
    }
    let batches = df.collect().await?;
    let rows = batches.iter().map(RecordBatch::num_rows).sum();
    let bytes = match format {
        ExportFormat::Parquet => parquet::encode(&batches)?,
        ExportFormat::Csv | ExportFormat::Json => {
            let mut buf = Vec::new();
            let f = if format == ExportFormat::Csv {
                crate::query::output::OutputFormat::Csv
            } else {
                crate::query::output::OutputFormat::Json
            };
            crate::query::output::write(&batches, f, &mut buf)?;
            buf
        }
        ExportFormat::Xlsx => xlsx(view, &batches)?,
    };
    atomic::write(out, &bytes)?;
    Ok(rows)
}

/// Swedish column headings for the published views.
fn heading(column: &str) -> String {
    let known = match column {
        "kommun" => "Kommun",
        "period" => "Period",
        "matt" => "Mått",
        "kon" => "Kön",
        "alder" => "Ålder",
        "dimension" => "Dimension",
        "kategori" => "Kategori",
        "antal" => "Antal",
        "status" => "Status",
        "kalla" => "Källa",
        "befolkning" => "Befolkning",
        "andel" => "Andel",
        "kvinnor" => "Kvinnor",
        "man" => "Män",
        "totalt" => "Totalt",
        "ordning" => "Ordning",
        "grupp" => "Grupp",
        _ => "",
    };
    if !known.is_empty() {
        return known.to_string();
    }
    match column.strip_suffix("_skyddad") {
        Some(base) => format!("{} skyddad", heading(base)),
        None => column.to_string(),
    }
}

/// One sheet per table, typed cells (numbers stay numbers for pivoting in Excel);
/// suppressed and missing values are empty cells, with their flag columns beside them.
fn xlsx(view: &str, batches: &[RecordBatch]) -> Result<Vec<u8>> {
    let err = |e: rust_xlsxwriter::XlsxError| Error::Internal(format!("writing the workbook: {e}"));
    let mut wb = rust_xlsxwriter::Workbook::new();
    let ws = wb.add_worksheet();
    ws.set_name(view.chars().take(31).collect::<String>())
        .map_err(err)?;
    let bold = rust_xlsxwriter::Format::new().set_bold();
    let Some(schema) = batches.first().map(RecordBatch::schema) else {
        return wb.save_to_buffer().map_err(err);
    };
    for (c, f) in schema.fields().iter().enumerate() {
        ws.write_string_with_format(0, c as u16, heading(f.name()), &bold)
            .map_err(err)?;
    }
    let mut r: u32 = 1;
    for b in batches {
        for row in 0..b.num_rows() {
            for (c, array) in b.columns().iter().enumerate() {
                let c = c as u16;
                if array.is_null(row) {
                    continue;
                }
                match array.data_type() {
                    DataType::Int64 => ws
                        .write_number(
                            r,
                            c,
                            array
                                .as_any()
                                .downcast_ref::<Int64Array>()
                                .map_or(0.0, |a| a.value(row) as f64),
                        )
                        .map_err(err)?,
                    DataType::Float64 => ws
                        .write_number(
                            r,
                            c,
                            array
                                .as_any()
                                .downcast_ref::<Float64Array>()
                                .map_or(0.0, |a| a.value(row)),
                        )
                        .map_err(err)?,
                    DataType::Boolean => ws
                        .write_boolean(
                            r,
                            c,
                            array
                                .as_any()
                                .downcast_ref::<BooleanArray>()
                                .is_some_and(|a| a.value(row)),
                        )
                        .map_err(err)?,
                    DataType::Utf8 => ws
                        .write_string(
                            r,
                            c,
                            array
                                .as_any()
                                .downcast_ref::<StringArray>()
                                .map_or("", |a| a.value(row)),
                        )
                        .map_err(err)?,
                    _ => ws
                        .write_string(
                            r,
                            c,
                            datafusion::arrow::util::display::array_value_to_string(array, row)?,
                        )
                        .map_err(err)?,
                };
            }
            r += 1;
        }
    }
    ws.autofit();
    wb.save_to_buffer().map_err(err)
}
