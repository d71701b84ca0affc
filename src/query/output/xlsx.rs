//! The Excel encoding: one sheet named after the result, Swedish headings for the
//! published views' columns, typed cells (numbers stay numbers for pivoting in Excel).

use datafusion::arrow::array::{Array, BooleanArray, Float64Array, Int64Array, StringArray};
use datafusion::arrow::datatypes::DataType;
use datafusion::arrow::record_batch::RecordBatch;

use crate::error::{Error, Result};

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
pub(super) fn workbook(name: &str, batches: &[RecordBatch]) -> Result<Vec<u8>> {
    let err = |e: rust_xlsxwriter::XlsxError| Error::Internal(format!("writing the workbook: {e}"));
    let mut wb = rust_xlsxwriter::Workbook::new();
    let ws = wb.add_worksheet();
    ws.set_name(name.chars().take(31).collect::<String>())
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
