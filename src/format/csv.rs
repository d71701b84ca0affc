//! CSV (`type = "csv"`): its keys (`delimiter`, `encoding`) validated; records split
//! with `csv-core` as the file is read, and their fields decoded from the text encoding.
//!
//! Municipal systems export semicolon-separated Windows-1252 or UTF-8 with or without a
//! byte-order mark. A BOM always wins over the configured encoding (it cannot be an
//! accident), and bytes that are not valid in the encoding are an error rather than
//! replacement characters, so a wrongly configured encoding is noticed at once.

use std::borrow::Cow;
use std::io::Read;

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

/// The records of `input` in `encoding` (a BOM wins), one at a time as they are read,
/// numbered by the line they start on (blank lines count, so row numbers are those an
/// editor shows). A record whose quoted field runs over line breaks is kept as one row
/// marked for quarantine: register extracts have no multi-line fields, so it is a stray
/// quote that swallowed the rows after it.
///
/// UTF-8 and the single-byte encodings municipal systems export (Windows-1252, the ISO
/// 8859 family) are read a block at a time and split into records as they are; only
/// each field is decoded. Why: a national extract is several hundred MB, and neither its
/// bytes nor its text are ever held whole (a 924 MB Windows-1252 file took 4.0 GB to
/// ingest decoded whole, 1.4 GB split from its bytes held whole: docs/performance.md).
/// Other encodings (UTF-16) are decoded whole first.
pub fn records<'a>(
    input: impl Read + Send + 'a,
    encoding: &'static encoding_rs::Encoding,
    delimiter: u8,
) -> Result<Records<'a>, FormatError> {
    records_in_blocks(input, encoding, delimiter, BLOCK)
}

/// [`records`], reading `block` bytes at a time.
fn records_in_blocks<'a>(
    mut input: impl Read + Send + 'a,
    encoding: &'static encoding_rs::Encoding,
    delimiter: u8,
    block: usize,
) -> Result<Records<'a>, FormatError> {
    // The first bytes, for a BOM; what is not a BOM is read again in front of the rest.
    let mut head = Vec::with_capacity(3);
    (&mut input)
        .take(3)
        .read_to_end(&mut head)
        .map_err(|source| FormatError::Read { row: 0, source })?;
    let (encoding, bom) = encoding_rs::Encoding::for_bom(&head).unwrap_or((encoding, 0));
    let rest = std::io::Cursor::new(head.split_off(bom)).chain(input);
    let (input, fields): (Box<dyn Read + Send + 'a>, Fields) = if encoding == encoding_rs::UTF_8 {
        (Box::new(rest), Fields::Utf8)
    } else if encoding.is_single_byte() && encoding.is_ascii_compatible() {
        // Delimiters, quotes and line breaks are the same bytes as in ASCII.
        (Box::new(rest), Fields::SingleByte(encoding))
    } else {
        let bytes = super::whole(rest)?;
        let (text, had_errors) = encoding.decode_without_bom_handling(&bytes);
        if had_errors {
            return Err(invalid(encoding, None));
        }
        (
            Box::new(std::io::Cursor::new(text.into_owned().into_bytes())),
            Fields::Utf8,
        )
    };
    Ok(Records {
        input,
        core: csv_core::ReaderBuilder::new().delimiter(delimiter).build(),
        buffer: vec![0; block],
        at: 0,
        filled: 0,
        end: End::default(),
        out: vec![0; 1024],
        ends: vec![0; 64],
        fields,
        read: 0,
        ended: false,
    })
}

/// Bytes read from the input at a time.
const BLOCK: usize = 256 * 1024;

/// The records of one CSV file ([`records`]).
pub struct Records<'a> {
    input: Box<dyn Read + Send + 'a>,
    core: csv_core::Reader,
    /// The block read last, unread from `at` to `filled`.
    buffer: Vec<u8>,
    at: usize,
    filled: usize,
    /// What is known of the file's end so far.
    end: End,
    /// The record being read: its fields' bytes, and where each field ends.
    out: Vec<u8>,
    ends: Vec<usize>,
    fields: Fields,
    /// Records read so far.
    read: usize,
    /// A failure ends the file.
    ended: bool,
}

/// How the file ends, followed block by block: whether it was cut mid-row.
#[derive(Default)]
struct End {
    /// The input is exhausted.
    reached: bool,
    /// A line break has been read.
    any_break: bool,
    /// The last byte read that is not a space or a tab.
    last: Option<u8>,
    /// The start of the line read last (at most [`LAST_LINE`] bytes), for the message.
    last_line: Vec<u8>,
    /// The length of that line in bytes.
    line_len: usize,
}

/// Bytes of the last line kept for the message of a file cut mid-row (more than the
/// characters [`super::quote`] shows).
const LAST_LINE: usize = 1024;

impl End {
    fn saw(&mut self, block: &[u8]) {
        let line = match block.iter().rposition(|b| *b == b'\n') {
            Some(i) => {
                self.any_break = true;
                self.last_line.clear();
                self.line_len = 0;
                &block[i + 1..]
            }
            None => block,
        };
        self.line_len += line.len();
        let room = LAST_LINE.saturating_sub(self.last_line.len());
        self.last_line
            .extend_from_slice(&line[..line.len().min(room)]);
        if let Some(b) = block.iter().rev().find(|b| !matches!(b, b' ' | b'\t')) {
            self.last = Some(*b);
        }
    }

    /// Every line but the last ends in a line break: the file was cut mid-row (an
    /// interrupted transfer), and its last row must not be taken for data or a trailer.
    fn cut(&self, fields: Fields) -> Option<FormatError> {
        if !self.any_break || self.last == Some(b'\n') {
            return None;
        }
        let line = &self.last_line;
        let line = &line[..line
            .iter()
            .rposition(|b| !matches!(b, b' ' | b'\t'))
            .map_or(0, |i| i + 1)];
        let last = match fields {
            Fields::Utf8 => String::from_utf8_lossy(line).into_owned(),
            Fields::SingleByte(encoding) => {
                encoding.decode_without_bom_handling(line).0.into_owned()
            }
        };
        let quoted = if self.line_len > self.last_line.len() {
            let start: String = last.chars().take(super::QUOTED_CHARS).collect();
            format!("{start}… ({} bytes)", self.line_len)
        } else {
            super::quote(&last)
        };
        Some(FormatError::CutMidRow {
            last_line: crate::normalize::personnummer::scrub(&quoted),
        })
    }
}

/// How the records' fields become text.
#[derive(Clone, Copy)]
enum Fields {
    /// UTF-8.
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
        let row = self.record().transpose();
        self.read += 1;
        self.ended = !matches!(row, Some(Ok(_)));
        row
    }
}

impl Records<'_> {
    /// The next record as a row (None at the end of the file).
    fn record(&mut self) -> Result<Option<RawRow>, FormatError> {
        use csv_core::ReadRecordResult as R;
        // The line the record starts on: where the reader stands, past the blank lines
        // (line breaks only) it skips before the record.
        let mut row = usize::try_from(self.core.line()).unwrap_or(usize::MAX);
        let mut started = false;
        let (mut out, mut ends) = (0, 0);
        loop {
            if self.at == self.filled && !self.end.reached {
                self.fill()?;
                if self.end.reached
                    && let Some(cut) = self.end.cut(self.fields)
                {
                    return Err(cut);
                }
            }
            let input = &self.buffer[self.at..self.filled];
            let (result, read, written, ended) =
                self.core
                    .read_record(input, &mut self.out[out..], &mut self.ends[ends..]);
            if !started {
                for b in &input[..read] {
                    match b {
                        b'\n' => row += 1,
                        b'\r' => {}
                        _ => {
                            started = true;
                            break;
                        }
                    }
                }
            }
            self.at += read;
            out += written;
            ends += ended;
            match result {
                R::InputEmpty => {}
                R::OutputFull => {
                    let len = self.out.len();
                    self.out.resize(len * 2, 0);
                }
                R::OutputEndsFull => {
                    let len = self.ends.len();
                    self.ends.resize(len * 2, 0);
                }
                R::Record => return self.row(row, &self.ends[..ends], out).map(Some),
                R::End => return Ok(None),
            }
        }
    }

    /// The next block of the input (none left: `end.reached`).
    fn fill(&mut self) -> Result<(), FormatError> {
        let n = loop {
            match self.input.read(&mut self.buffer) {
                Ok(n) => break n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(source) => {
                    return Err(FormatError::Read {
                        row: self.read,
                        source,
                    });
                }
            }
        };
        self.at = 0;
        self.filled = n;
        self.end.reached = n == 0;
        self.end.saw(&self.buffer[..n]);
        Ok(())
    }

    /// The record in `out` (fields ending at `ends`), starting on line `row`.
    fn row(&self, row: usize, ends: &[usize], len: usize) -> Result<RawRow, FormatError> {
        let bytes = &self.out[..len];
        let mut start = 0;
        let fields = ends.iter().map(|&end| {
            let field = &bytes[start..end];
            start = end;
            field
        });
        let breaks = bytes.iter().filter(|b| **b == b'\n').count();
        let problem = (breaks > 0).then(|| {
            format!(
                "a quoted field runs from line {row} over {breaks} line break(s) to line {}: a stray quote merges those lines into one row",
                row + breaks
            )
        });
        Ok(RawRow {
            row,
            cells: fields
                .map(|f| self.fields.text(f, row))
                .collect::<Result<_, _>>()?,
            problem,
        })
    }
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

    /// A reader handing out at most `most` bytes a read, with an interruption before
    /// every other read, as a pipe or a network share may.
    struct Trickle<'a> {
        bytes: &'a [u8],
        most: usize,
        interrupt: bool,
    }

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            self.interrupt = !self.interrupt;
            if self.interrupt {
                return Err(std::io::ErrorKind::Interrupted.into());
            }
            let n = self.bytes.len().min(buf.len()).min(self.most);
            buf[..n].copy_from_slice(&self.bytes[..n]);
            self.bytes = &self.bytes[n..];
            Ok(n)
        }
    }

    fn read_in(
        bytes: &[u8],
        encoding: &'static encoding_rs::Encoding,
        block: usize,
        most: usize,
    ) -> Result<Vec<RawRow>, String> {
        let input = Trickle {
            bytes,
            most,
            interrupt: false,
        };
        records_in_blocks(input, encoding, b';', block)
            .and_then(Iterator::collect)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn records_and_errors_do_not_depend_on_where_the_blocks_read_end() {
        // A BOM, CRLF and LF with blank lines between, a field longer than the blocks,
        // a quoted delimiter and line break, multi-byte characters, a final row without
        // a line break after a file without any.
        let long = "x".repeat(40);
        let text = format!(
            "{}Kommun;Namn\r\n\r\n0880;\"Å;ä\r\nö\"\n\n\n0881;{long}\r\n0882;é\n",
            '\u{feff}'
        );
        let cut = "a;b\n1;2\n3;Ö".to_string();
        let one_line = "a;b;Ä".to_string();
        let windows_1252 = encoding_rs::WINDOWS_1252.encode("a;b\r\n\r\n1;Ö\r\n").0;
        let bad_utf8 = b"a;b\n1;2\n3;\xd6\n4;5\n".to_vec();
        let cases: [(&[u8], &'static encoding_rs::Encoding); 5] = [
            (text.as_bytes(), encoding_rs::UTF_8),
            (cut.as_bytes(), encoding_rs::UTF_8),
            (one_line.as_bytes(), encoding_rs::UTF_8),
            (&windows_1252, encoding_rs::WINDOWS_1252),
            (&bad_utf8, encoding_rs::UTF_8),
        ];
        for (bytes, encoding) in cases {
            let whole = read_in(bytes, encoding, BLOCK, usize::MAX);
            for block in 1..=9 {
                for most in [1, 2, 3, 7, usize::MAX] {
                    assert_eq!(
                        read_in(bytes, encoding, block, most),
                        whole,
                        "block {block}, at most {most} a read: {:?}",
                        String::from_utf8_lossy(bytes)
                    );
                }
            }
        }
        // What is compared above is what it is named for.
        let rows = read_in(text.as_bytes(), encoding_rs::UTF_8, 1, 1).expect("read");
        let got: Vec<(usize, Vec<String>, bool)> = rows
            .into_iter()
            .map(|r| (r.row, r.cells, r.problem.is_some()))
            .collect();
        let row =
            |n, cells: &[&str], merged| (n, cells.iter().map(|c| c.to_string()).collect(), merged);
        assert_eq!(
            got,
            vec![
                row(1, &["Kommun", "Namn"], false),
                row(3, &["0880", "Å;ä\r\nö"], true),
                row(7, &["0881", &long], false),
                row(8, &["0882", "é"], false),
            ]
        );
        let e = read_in(cut.as_bytes(), encoding_rs::UTF_8, 2, 1).expect_err("cut");
        assert!(e.contains("middle of a row") && e.contains("3;Ö"), "{e}");
        assert_eq!(
            read_in(one_line.as_bytes(), encoding_rs::UTF_8, 2, 1).map(|r| r.len()),
            Ok(1)
        );
        let e = read_in(&bad_utf8, encoding_rs::UTF_8, 3, 2).expect_err("not utf-8");
        assert!(e.contains("UTF-8 at line 3"), "{e}");
    }

    #[test]
    fn a_failure_to_read_the_file_is_an_error_naming_the_rows_read() {
        /// Three lines, then a failure.
        struct Failing(&'static [u8]);
        impl Read for Failing {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                if self.0.is_empty() {
                    return Err(std::io::Error::other("the share went away"));
                }
                let n = buf.len().min(self.0.len());
                buf[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        let got: Result<Vec<RawRow>, FormatError> =
            records_in_blocks(Failing(b"a;b\n1;2\n3;4\n"), encoding_rs::UTF_8, b';', 8)
                .and_then(Iterator::collect);
        let e = got.expect_err("failed read").to_string();
        assert!(e.contains("the share went away"), "{e}");
        assert!(e.contains("after row 3"), "{e}");
    }

    #[test]
    fn the_message_of_a_cut_file_quotes_the_start_of_its_last_line() {
        let mut file = b"a;b\n".to_vec();
        file.extend(std::iter::repeat_n(b'x', 5000));
        let e = read(&file, b';', encoding_rs::UTF_8)
            .expect_err("cut")
            .to_string();
        assert!(
            e.contains(&format!("{}… (5000 bytes)", "x".repeat(200))),
            "{e}"
        );
        assert!(!e.contains(&"x".repeat(201)), "bounded: {e}");
        let short = read(b"a;b\nxyz", b';', encoding_rs::UTF_8).expect_err("cut");
        assert!(short.to_string().ends_with(": xyz"), "{short}");
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
