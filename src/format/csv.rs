//! CSV (`type = "csv"`): its keys (`delimiter`, `encoding`) validated; decode the text
//! encoding, then split records with the `csv` crate.
//!
//! Municipal systems export semicolon-separated Windows-1252 or UTF-8 with or without a
//! byte-order mark. A BOM always wins over the configured encoding (it cannot be an
//! accident), and bytes that are not valid in the encoding are an error rather than
//! replacement characters, so a wrongly configured encoding is noticed at once.

use super::options::{RawFormat, refuse};
use super::{Format, FormatError, RawRow};
use crate::error::Problems;

/// How a CSV extract is read.
#[derive(Debug, Clone)]
pub struct CsvOptions {
    /// Delimiter byte.
    pub delimiter: u8,
    /// Text encoding.
    pub encoding: &'static encoding_rs::Encoding,
}

/// Validates the CSV keys of `[format]` (default `;` and UTF-8), every problem into `p`.
pub fn validate(raw: &RawFormat, file: &str, p: &mut Problems) -> Format {
    refuse(&[(raw.sheet.is_some(), "sheet")], "only for xlsx", file, p);
    let delimiter = match raw.delimiter.as_deref().unwrap_or(";") {
        "\\t" | "\t" => b'\t',
        d if d.len() == 1 => d.as_bytes()[0],
        d => {
            p.push(
                file,
                "format.delimiter",
                format!("'{d}' is not a single ASCII character"),
            );
            b';'
        }
    };
    let label = raw.encoding.as_deref().unwrap_or("utf-8");
    let encoding = encoding_rs::Encoding::for_label(label.as_bytes()).unwrap_or_else(|| {
        p.push(
            file,
            "format.encoding",
            format!("unknown encoding '{label}'; e.g. utf-8 or windows-1252"),
        );
        encoding_rs::UTF_8
    });
    Format::Csv(CsvOptions {
        delimiter,
        encoding,
    })
}

/// Reads every record of `bytes` as text cells.
pub fn read(
    bytes: &[u8],
    delimiter: u8,
    encoding: &'static encoding_rs::Encoding,
) -> Result<Vec<RawRow>, FormatError> {
    let text = text(bytes, encoding)?;
    records(&text, delimiter).collect()
}

/// The file as text, in its encoding (a BOM wins).
pub fn text<'b>(
    bytes: &'b [u8],
    encoding: &'static encoding_rs::Encoding,
) -> Result<std::borrow::Cow<'b, str>, FormatError> {
    let (text, used, had_errors) = encoding.decode(bytes);
    if had_errors {
        let hint = if used == encoding_rs::UTF_8 {
            " (is it windows-1252? set format.encoding)"
        } else {
            ""
        };
        return Err(FormatError::Encoding {
            encoding: used.name(),
            hint,
        });
    }
    // Every line but the last ends in a line break: the file was cut mid-row (an
    // interrupted transfer), and its last row must not be taken for data or a trailer.
    let body = text.trim_end_matches([' ', '\t']);
    if body.contains('\n') && !body.ends_with('\n') {
        let last = body.rsplit('\n').next().unwrap_or_default();
        return Err(FormatError::CutMidRow {
            last_line: crate::normalize::personnummer::scrub(&super::quote(last)),
        });
    }
    Ok(text)
}

/// The records of `text`, one at a time, numbered by the line they start on (blank lines
/// count, so row numbers are those an editor shows). A record whose quoted field runs
/// over line breaks is kept as one row marked for quarantine: register extracts have no
/// multi-line fields, so it is a stray quote that swallowed the rows after it.
pub fn records(
    text: &str,
    delimiter: u8,
) -> impl Iterator<Item = Result<RawRow, FormatError>> + '_ {
    ::csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .from_reader(text.as_bytes())
        .into_records()
        .enumerate()
        .map(|(i, record)| {
            let record = record.map_err(|source| FormatError::Record { row: i + 1, source })?;
            // The reader's position is where it began looking for the record, before the
            // blank lines it skips: count those too.
            let row = record.position().map_or(i + 1, |p| {
                let from = usize::try_from(p.byte()).unwrap_or(usize::MAX);
                let skipped = text
                    .get(from..)
                    .unwrap_or_default()
                    .bytes()
                    .take_while(|b| matches!(b, b'\r' | b'\n'))
                    .filter(|b| *b == b'\n')
                    .count();
                usize::try_from(p.line()).unwrap_or(usize::MAX) + skipped
            });
            let breaks: usize = record.iter().map(|f| f.matches('\n').count()).sum();
            let problem = (breaks > 0).then(|| {
                format!(
                    "a quoted field runs from line {row} over {breaks} line break(s) to line {}: a stray quote merges those lines into one row",
                    row + breaks
                )
            });
            Ok(RawRow {
                row,
                cells: record.iter().map(str::to_string).collect(),
                problem,
            })
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_1252_without_bom() {
        let (bytes, _, _) =
            encoding_rs::WINDOWS_1252.encode("Födelseland;Belopp\r\nSverige;4\u{a0}312,50\r\n");
        let rows = read(&bytes, b';', encoding_rs::WINDOWS_1252).expect("decoded");
        assert_eq!(rows[0].cells, vec!["Födelseland", "Belopp"]);
        assert_eq!(rows[1].cells[1], "4\u{a0}312,50");
    }

    #[test]
    fn utf8_with_and_without_bom() {
        let plain = "Förvaltning;Timmar\nÄldreomsorg;42,5\n";
        let with_bom = [b"\xEF\xBB\xBF".as_slice(), plain.as_bytes()].concat();
        for bytes in [plain.as_bytes().to_vec(), with_bom] {
            let rows = read(&bytes, b';', encoding_rs::UTF_8).expect("decoded");
            assert_eq!(
                rows[0].cells[0], "Förvaltning",
                "BOM must not stick to the first header"
            );
            assert_eq!(rows[1].cells, vec!["Äldreomsorg", "42,5"]);
        }
    }

    #[test]
    fn a_file_cut_mid_row_is_an_error_of_the_whole_file() {
        let cut = b"Orsak;Belopp\r\nOhals;4\xa0312,50\r\nArbetsl";
        let e = read(cut, b';', encoding_rs::WINDOWS_1252)
            .expect_err("cut")
            .to_string();
        assert!(e.contains("middle of a row"), "{e}");
        // One line without a break, or a final break, is a whole file.
        assert!(read(b"Orsak;Belopp", b';', encoding_rs::WINDOWS_1252).is_ok());
        assert!(read(b"a;b\nc;d\n", b';', encoding_rs::UTF_8).is_ok());
        assert!(read(b"a;b\r\nc;d\r\n", b';', encoding_rs::UTF_8).is_ok());
    }

    #[test]
    fn wrong_encoding_is_reported() {
        let (bytes, _, _) = encoding_rs::WINDOWS_1252.encode("Födelseland\n");
        let e = read(&bytes, b';', encoding_rs::UTF_8)
            .expect_err("not utf-8")
            .to_string();
        assert!(e.contains("windows-1252"), "{e}");
    }

    #[test]
    fn rows_are_numbered_by_the_line_they_start_on() {
        let text = "a;b\n\n\n1;2\n\n3;4\n";
        let rows = read(text.as_bytes(), b';', encoding_rs::UTF_8).expect("decoded");
        let numbers: Vec<usize> = rows.iter().map(|r| r.row).collect();
        assert_eq!(numbers, vec![1, 4, 6], "blank lines count, as in an editor");
    }

    #[test]
    fn a_stray_quote_marks_the_merged_row_and_numbers_stay_right() {
        let text = "a;b\n1;\"x\n2;y\n3;z\"\n4;w\n";
        let rows = read(text.as_bytes(), b';', encoding_rs::UTF_8).expect("decoded");
        assert_eq!(rows.len(), 3);
        let merged = &rows[1];
        assert_eq!(merged.row, 2);
        let problem = merged.problem.as_deref().expect("marked");
        assert!(
            problem.contains("line 2") && problem.contains("line 4"),
            "{problem}"
        );
        assert_eq!((rows[2].row, rows[2].problem.as_ref()), (5, None));
        assert!(rows[0].problem.is_none());
    }
}
