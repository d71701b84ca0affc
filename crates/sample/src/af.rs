//! Arbetsförmedlingen's aggregate `af_inskrivna_2015-05.xlsx`: registered job
//! seekers aged 16–24 in Kalmar kommun, May 2015, as the agency publishes them.
//!
//! The layout (title row, merged "Antal" band, `<5` suppression tokens, a
//! source note under the table) is the agency's, because the product has to
//! read the real files with exactly these quirks.

use std::io;

use rust_xlsxwriter::{DocProperties, ExcelDateTime, Format, FormatAlign, Workbook, XlsxError};

/// The sheet's name.
pub(super) const SHEET: &str = "Kalmar";
/// The merged title in A1:F1.
pub(super) const TITLE: &str = "Inskrivna arbetssökande 16–24 år, Kalmar kommun (0880), maj 2015";
/// The note under the table.
pub(super) const SOURCE_NOTE: &str = "Källa: Arbetsförmedlingen, bearbetning Kalmar kommun";
const HEADERS: [&str; 6] = ["Mått", "Ålder", "Kategori", "Kvinnor", "Män", "Totalt"];

/// A count cell: a number, or the agency's suppression of counts under five.
#[derive(Clone, Copy)]
enum Count {
    N(u32),
    UnderFive,
}
use Count::{N, UnderFive};

const INSKRIVNA: &str = "Inskrivna arbetssökande";
const ROWS: [(&str, &str, &str, [Count; 3]); 16] = [
    (INSKRIVNA, "16-24", "Totalt", [N(297), N(490), N(787)]),
    (INSKRIVNA, "16-19", "Totalt", [N(38), N(57), N(95)]),
    (INSKRIVNA, "20-24", "Totalt", [N(259), N(433), N(692)]),
    (
        INSKRIVNA,
        "16-24",
        "Ej avslutad grundskola",
        [N(19), N(39), N(58)],
    ),
    (INSKRIVNA, "16-24", "Grundskola", [N(46), N(91), N(137)]),
    (
        INSKRIVNA,
        "16-24",
        "Gymnasial utbildning",
        [N(215), N(325), N(540)],
    ),
    (
        INSKRIVNA,
        "16-24",
        "Eftergymnasial utbildning",
        [N(17), N(35), N(52)],
    ),
    (INSKRIVNA, "16-24", "Utrikes födda", [N(64), N(98), N(162)]),
    ("Med insats", "16-24", "Totalt", [N(140), N(229), N(369)]),
    (
        "Deltids-/timanställda utan insats",
        "16-24",
        "Totalt",
        [N(22), N(16), N(38)],
    ),
    (
        "Med funktionshinderkod",
        "16-24",
        "Totalt",
        [N(38), N(86), N(124)],
    ),
    (
        "Med funktionshinderkod",
        "16-24",
        "Utrikes födda",
        [N(3), N(16), N(19)],
    ),
    (
        "Med funktionshinderkod",
        "16-19",
        "Utrikes födda",
        [UnderFive, UnderFive, N(6)],
    ),
    (
        "Ej till arbetsmarknadens förfogande",
        "16-24",
        "Totalt",
        [N(20), N(26), N(46)],
    ),
    (
        "Deltidsarbetslösa",
        "16-24",
        "Totalt",
        [N(35), N(29), N(64)],
    ),
    (
        "Öppet arbetslösa",
        "16-24",
        "Totalt",
        [N(121), N(199), N(320)],
    ),
];

/// The workbook's bytes.
pub(super) fn workbook() -> io::Result<Vec<u8>> {
    build().map_err(io::Error::other)
}

fn build() -> Result<Vec<u8>, XlsxError> {
    let mut workbook = Workbook::new();
    // A fixed creation time: otherwise the library stamps "now" into
    // docProps/core.xml and the shipped file would differ on every run.
    let created = ExcelDateTime::from_ymd(2015, 6, 1)?.and_hms(8, 0, 0)?;
    let properties = DocProperties::new()
        .set_title(TITLE)
        .set_author("Arbetsförmedlingen Kalmar")
        .set_creation_datetime(&created);
    workbook.set_properties(&properties);

    let bold = Format::new().set_bold();
    let centred = Format::new().set_bold().set_align(FormatAlign::Center);
    let sheet = workbook.add_worksheet();
    sheet.set_name(SHEET)?;
    sheet.merge_range(0, 0, 0, 5, TITLE, &bold)?;
    sheet.merge_range(1, 3, 1, 5, "Antal", &centred)?;
    for (col, header) in (0u16..).zip(HEADERS) {
        sheet.write_string_with_format(2, col, header, &bold)?;
    }
    let mut row = 3u32;
    for (measure, age, category, counts) in ROWS {
        sheet.write_string(row, 0, measure)?;
        sheet.write_string(row, 1, age)?;
        sheet.write_string(row, 2, category)?;
        for (col, count) in (3u16..).zip(counts) {
            match count {
                N(n) => sheet.write_number(row, col, f64::from(n))?,
                UnderFive => sheet.write_string(row, col, "<5")?,
            };
        }
        row += 1;
    }
    // One empty row, then the source note, as the agency lays it out.
    sheet.write_string(row + 1, 0, SOURCE_NOTE)?;
    sheet.set_column_width(0, 36)?;
    sheet.set_column_width(1, 8)?;
    sheet.set_column_width(2, 26)?;
    workbook.save_to_buffer()
}
