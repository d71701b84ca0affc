//! CSV: decode the text encoding, then split records with the `csv` crate.
//!
//! Municipal systems export semicolon-separated Windows-1252 or UTF-8 with or without a
//! byte-order mark. A BOM always wins over the configured encoding (it cannot be an
//! accident), and bytes that are not valid in the encoding are an error rather than
//! replacement characters, so a wrongly configured encoding is noticed at once.

use super::RawRow;

/// Reads every record of `bytes` as text cells.
pub fn read(
    bytes: &[u8],
    delimiter: u8,
    encoding: &'static encoding_rs::Encoding,
) -> Result<Vec<RawRow>, String> {
    let text = text(bytes, encoding)?;
    records(&text, delimiter).collect()
}

/// The file as text, in its encoding (a BOM wins).
pub fn text<'b>(
    bytes: &'b [u8],
    encoding: &'static encoding_rs::Encoding,
) -> Result<std::borrow::Cow<'b, str>, String> {
    let (text, used, had_errors) = encoding.decode(bytes);
    if had_errors {
        let hint = if used == encoding_rs::UTF_8 {
            " (is it windows-1252? set format.encoding)"
        } else {
            ""
        };
        return Err(format!("the file is not valid {}{hint}", used.name()));
    }
    // Every line but the last ends in a line break: the file was cut mid-row (an
    // interrupted transfer), and its last row must not be taken for data or a trailer.
    let body = text.trim_end_matches([' ', '\t']);
    if body.contains('\n') && !body.ends_with('\n') {
        let last = body.rsplit('\n').next().unwrap_or_default();
        return Err(format!(
            "the file ends in the middle of a row: its last line has no line break, unlike the others (was the transfer cut off?): {}",
            crate::normalize::personnummer::scrub(&super::quote(last))
        ));
    }
    Ok(text)
}

/// The records of `text`, one at a time, numbered from 1.
pub fn records(text: &str, delimiter: u8) -> impl Iterator<Item = Result<RawRow, String>> + '_ {
    ::csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .from_reader(text.as_bytes())
        .into_records()
        .enumerate()
        .map(|(i, record)| {
            let record = record.map_err(|e| format!("row {}: {e}", i + 1))?;
            Ok(RawRow {
                row: i + 1,
                cells: record.iter().map(str::to_string).collect(),
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
        let e = read(cut, b';', encoding_rs::WINDOWS_1252).expect_err("cut");
        assert!(e.contains("middle of a row"), "{e}");
        // One line without a break, or a final break, is a whole file.
        assert!(read(b"Orsak;Belopp", b';', encoding_rs::WINDOWS_1252).is_ok());
        assert!(read(b"a;b\nc;d\n", b';', encoding_rs::UTF_8).is_ok());
        assert!(read(b"a;b\r\nc;d\r\n", b';', encoding_rs::UTF_8).is_ok());
    }

    #[test]
    fn wrong_encoding_is_reported() {
        let (bytes, _, _) = encoding_rs::WINDOWS_1252.encode("Födelseland\n");
        let e = read(&bytes, b';', encoding_rs::UTF_8).expect_err("not utf-8");
        assert!(e.contains("windows-1252"), "{e}");
    }
}
