//! CSV (`type = "csv"`): its keys (`delimiter`, `encoding`) validated; records split
//! with the `csv` crate and their fields decoded from the text encoding.
//!
//! Municipal systems export semicolon-separated Windows-1252 or UTF-8 with or without a
//! byte-order mark. A BOM always wins over the configured encoding (it cannot be an
//! accident), and bytes that are not valid in the encoding are an error rather than
//! replacement characters, so a wrongly configured encoding is noticed at once.

use std::borrow::Cow;

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
    records(bytes, encoding, delimiter)?.collect()
}

/// The records of `bytes` in `encoding` (a BOM wins), one at a time, numbered by the line
/// they start on (blank lines count, so row numbers are those an editor shows). A record
/// whose quoted field runs over line breaks is kept as one row marked for quarantine:
/// register extracts have no multi-line fields, so it is a stray quote that swallowed the
/// rows after it.
///
/// UTF-8 and the single-byte encodings municipal systems export (Windows-1252, the ISO
/// 8859 family) are split into records as they are, and only each field is decoded: the
/// file never exists a second time as text. Why: a national extract is several hundred
/// MB, and decoding a 924 MB Windows-1252 file whole took 2.7 GB more than reading it
/// as UTF-8 (docs/performance.md). Other encodings (UTF-16) are decoded whole first.
pub fn records<'b>(
    bytes: &'b [u8],
    encoding: &'static encoding_rs::Encoding,
    delimiter: u8,
) -> Result<Records<'b>, FormatError> {
    let (encoding, bom) = encoding_rs::Encoding::for_bom(bytes).unwrap_or((encoding, 0));
    let bytes = &bytes[bom..];
    let (input, fields) = if encoding == encoding_rs::UTF_8 {
        if let Err(e) = std::str::from_utf8(bytes) {
            let line = 1 + bytes[..e.valid_up_to()]
                .iter()
                .filter(|b| **b == b'\n')
                .count();
            return Err(invalid(encoding, Some(line)));
        }
        (Cow::Borrowed(bytes), Fields::Utf8)
    } else if encoding.is_single_byte() && encoding.is_ascii_compatible() {
        // Delimiters, quotes and line breaks are the same bytes as in ASCII.
        (Cow::Borrowed(bytes), Fields::SingleByte(encoding))
    } else {
        let (text, had_errors) = encoding.decode_without_bom_handling(bytes);
        if had_errors {
            return Err(invalid(encoding, None));
        }
        (Cow::Owned(text.into_owned().into_bytes()), Fields::Utf8)
    };
    not_cut(&input, fields)?;
    Ok(Records {
        reader: ::csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .delimiter(delimiter)
            .from_reader(std::io::Cursor::new(input)),
        record: ::csv::ByteRecord::new(),
        fields,
        read: 0,
        ended: false,
    })
}

/// The records of one CSV file ([`records`]).
pub struct Records<'b> {
    reader: ::csv::Reader<std::io::Cursor<Cow<'b, [u8]>>>,
    record: ::csv::ByteRecord,
    fields: Fields,
    /// Records read so far.
    read: usize,
    /// A failure ends the file.
    ended: bool,
}

/// How the records' fields become text.
#[derive(Clone, Copy)]
enum Fields {
    /// Already valid UTF-8 (checked for the whole input).
    Utf8,
    /// One character per byte, in this encoding.
    SingleByte(&'static encoding_rs::Encoding),
}

impl Fields {
    /// The text of a field of the record starting on line `row`.
    fn text(self, field: &[u8], row: usize) -> Result<String, FormatError> {
        match self {
            Fields::Utf8 => std::str::from_utf8(field)
                .map(str::to_string)
                .map_err(|_| invalid(encoding_rs::UTF_8, Some(row))),
            Fields::SingleByte(encoding) => encoding
                .decode_without_bom_handling_and_without_replacement(field)
                .map(Cow::into_owned)
                .ok_or_else(|| invalid(encoding, Some(row))),
        }
    }
}

impl Iterator for Records<'_> {
    type Item = Result<RawRow, FormatError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.ended {
            return None;
        }
        let row = match self.reader.read_byte_record(&mut self.record) {
            Ok(false) => None,
            Ok(true) => Some(self.row()),
            Err(source) => Some(Err(FormatError::Record {
                row: self.read + 1,
                source,
            })),
        };
        self.read += 1;
        self.ended = !matches!(row, Some(Ok(_)));
        row
    }
}

impl Records<'_> {
    /// The record just read as a row.
    fn row(&self) -> Result<RawRow, FormatError> {
        let record = &self.record;
        let input: &[u8] = self.reader.get_ref().get_ref();
        // The reader's position is where it began looking for the record, before the
        // blank lines it skips: count those too.
        let row = record.position().map_or(self.read + 1, |p| {
            let from = usize::try_from(p.byte()).unwrap_or(usize::MAX);
            let skipped = input
                .get(from..)
                .unwrap_or_default()
                .iter()
                .take_while(|b| matches!(b, b'\r' | b'\n'))
                .filter(|b| **b == b'\n')
                .count();
            usize::try_from(p.line()).unwrap_or(usize::MAX) + skipped
        });
        let breaks: usize = record
            .iter()
            .map(|f| f.iter().filter(|b| **b == b'\n').count())
            .sum();
        let problem = (breaks > 0).then(|| {
            format!(
                "a quoted field runs from line {row} over {breaks} line break(s) to line {}: a stray quote merges those lines into one row",
                row + breaks
            )
        });
        Ok(RawRow {
            row,
            cells: record
                .iter()
                .map(|f| self.fields.text(f, row))
                .collect::<Result<_, _>>()?,
            problem,
        })
    }
}

/// Every line but the last ends in a line break: the file was cut mid-row (an interrupted
/// transfer), and its last row must not be taken for data or a trailer.
fn not_cut(input: &[u8], fields: Fields) -> Result<(), FormatError> {
    let end = input
        .iter()
        .rposition(|b| !matches!(b, b' ' | b'\t'))
        .map_or(0, |i| i + 1);
    let body = &input[..end];
    if body.contains(&b'\n') && !body.ends_with(b"\n") {
        let from = body.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
        let last = match fields {
            Fields::Utf8 => String::from_utf8_lossy(&body[from..]).into_owned(),
            Fields::SingleByte(encoding) => encoding
                .decode_without_bom_handling(&body[from..])
                .0
                .into_owned(),
        };
        return Err(FormatError::CutMidRow {
            last_line: crate::normalize::personnummer::scrub(&super::quote(&last)),
        });
    }
    Ok(())
}

/// The error for bytes not valid in `encoding`, the first on `line` where it is known.
fn invalid(encoding: &'static encoding_rs::Encoding, line: Option<usize>) -> FormatError {
    FormatError::Encoding {
        encoding: encoding.name(),
        line,
        hint: if encoding == encoding_rs::UTF_8 {
            " (is it windows-1252? set format.encoding)"
        } else {
            ""
        },
    }
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
        let (bytes, _, _) = encoding_rs::WINDOWS_1252.encode("Land\nSverige\nFöds\n");
        let e = read(&bytes, b';', encoding_rs::UTF_8)
            .expect_err("not utf-8")
            .to_string();
        assert!(e.contains("UTF-8 at line 3"), "{e}");
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
    fn a_single_byte_file_split_as_bytes_gives_the_rows_of_its_text_decoded_whole() {
        // Every byte above ASCII, in quoted and unquoted fields, around blank lines,
        // CRLF and LF, a quoted delimiter and a stray quote that swallows two lines.
        let high: Vec<u8> = (0x80..=0xFFu8).collect();
        let mut file = b"Kommun;Namn;\xc5r\r\n".to_vec();
        for (i, chunk) in high.chunks(9).enumerate() {
            file.extend_from_slice(format!("{i:04};").as_bytes());
            file.extend_from_slice(chunk);
            file.extend_from_slice(b";\"a;\xe5\"\r\n");
            if i % 4 == 0 {
                file.extend_from_slice(b"\r\n\n");
            }
        }
        file.extend_from_slice(b"0099;\"\xd6\n0100;x\n0101;y\";z\n0102;\xe4;\xf6\n");
        for encoding in [encoding_rs::WINDOWS_1252, encoding_rs::ISO_8859_15] {
            let as_bytes = read(&file, b';', encoding).expect("split as bytes");
            let (text, _, errors) = encoding.decode(&file);
            assert!(!errors);
            let as_text = read(text.as_bytes(), b';', encoding_rs::UTF_8).expect("decoded whole");
            assert_eq!(as_bytes, as_text, "{}", encoding.name());
            assert_eq!(as_bytes[0].cells, vec!["Kommun", "Namn", "År"]);
            assert!(
                as_bytes.iter().any(|r| r.problem.is_some()),
                "the stray quote"
            );
            // The header, 15 lines of 9 bytes (the last of 2) with 8 blank lines among
            // them, three lines merged by the stray quote, then the last row.
            assert_eq!(as_bytes.last().map(|r| r.row), Some(1 + 15 + 8 + 3 + 1));
        }
    }

    #[test]
    fn a_byte_a_single_byte_encoding_does_not_map_is_an_error() {
        // 0xAA has no character in windows-1253.
        let greek = encoding_rs::WINDOWS_1253;
        assert!(
            greek
                .decode_without_bom_handling_and_without_replacement(b"\xaa")
                .is_none()
        );
        let e = read(b"a;b\n\n1;\xaa\n", b';', greek)
            .expect_err("unmapped byte")
            .to_string();
        assert!(e.contains("windows-1253 at line 3"), "{e}");
        assert!(read(b"a;b\n1;\xe1\n", b';', greek).is_ok());
    }

    #[test]
    fn a_utf16_file_with_its_bom_is_decoded_whole_and_read() {
        let text = "Förvaltning;Timmar\r\n\r\nÄldreomsorg;42,5\r\n";
        let mut bytes = vec![0xFF, 0xFE];
        bytes.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
        // The BOM wins over the configured encoding.
        let rows = read(&bytes, b';', encoding_rs::WINDOWS_1252).expect("utf-16");
        assert_eq!(rows[0].cells, vec!["Förvaltning", "Timmar"]);
        assert_eq!(
            (rows[1].row, rows[1].cells.clone()),
            (3, vec!["Äldreomsorg".into(), "42,5".into()])
        );
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
