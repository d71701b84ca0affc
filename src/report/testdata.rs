//! Test-only loader of the fixture CSVs (`tests/fixtures/report/`): the real published
//! kartläggning, goal follow-up and lineage of kommun 0880, as a [`ReportInput`].

use super::layout::{CellKey, Field, Figure};
use super::{Cell, GoalRow, ReportInput, SourceRow};
use std::collections::{BTreeMap, HashMap};

fn path(name: &str) -> String {
    format!(
        "{}/tests/fixtures/report/{name}",
        env!("CARGO_MANIFEST_DIR")
    )
}

fn rows(name: &str) -> Vec<HashMap<String, String>> {
    let mut reader = csv::Reader::from_path(path(name)).expect("fixture exists");
    reader
        .deserialize()
        .map(|r| r.expect("fixture row"))
        .collect()
}

fn opt<T: std::str::FromStr>(row: &HashMap<String, String>, col: &str) -> Option<T> {
    row.get(col)
        .filter(|v| !v.is_empty())
        .and_then(|v| v.parse().ok())
}

fn text(row: &HashMap<String, String>, col: &str) -> String {
    row.get(col).cloned().unwrap_or_default()
}

/// All published cells of kommun 0880.
pub fn kalmar_cells() -> Vec<Cell> {
    rows("kartlaggning_published.csv")
        .iter()
        .filter(|r| text(r, "kommun") == "0880")
        .map(|r| Cell {
            period: text(r, "period"),
            matt: text(r, "matt"),
            kon: text(r, "kon"),
            alder: text(r, "alder"),
            dimension: text(r, "dimension"),
            kategori: text(r, "kategori"),
            antal: opt(r, "antal"),
            skyddad: text(r, "antal_skyddad") == "true",
            status: text(r, "status"),
            kalla: text(r, "kalla"),
            befolkning: opt(r, "befolkning"),
            andel: opt(r, "andel"),
        })
        .collect()
}

/// "20261123T233523.705Z-kalmar_af" → "2026-11-23T23:35:23.705Z".
fn run_start(run_id: &str) -> String {
    let stamp = run_id.split('-').next().unwrap_or_default();
    let (d, t) = stamp.split_once('T').unwrap_or((stamp, ""));
    if d.len() != 8 || t.len() < 6 {
        return stamp.to_string();
    }
    format!(
        "{}-{}-{}T{}:{}:{}",
        &d[..4],
        &d[4..6],
        &d[6..],
        &t[..2],
        &t[2..4],
        &t[4..]
    )
}

/// The report input of 0880 / 2015-05 built from the fixtures.
pub fn kalmar_input() -> ReportInput {
    let goals = rows("malfoljning.csv")
        .iter()
        .filter(|r| text(r, "kommun") == "0880")
        .map(|r| GoalRow {
            mal_id: text(r, "mal_id"),
            beskrivning: text(r, "beskrivning"),
            period: text(r, "period"),
            matt: text(r, "matt"),
            kon: text(r, "kon"),
            alder: text(r, "alder"),
            varde: opt(r, "varde"),
            baslinje: text(r, "baslinje"),
            baslinje_varde: opt(r, "baslinje_varde"),
            malperiod: text(r, "malperiod"),
            malvarde: opt(r, "malvarde"),
            kvar_till_mal: opt(r, "kvar_till_mal"),
        })
        .collect();
    let sources = rows("lineage.csv")
        .iter()
        .filter(|r| text(r, "kommun") == "0880")
        .map(|r| SourceRow {
            pipeline: text(r, "pipeline"),
            file: text(r, "file"),
            table_name: text(r, "table_name"),
            extracted_at: run_start(&text(r, "run_id")),
        })
        .collect();
    ReportInput {
        kommun: "0880".into(),
        kommun_namn: "Kalmar".into(),
        period: "2015-05".into(),
        suppress_below: 5,
        cells: kalmar_cells(),
        goals,
        sources,
        generated_at: "2026-11-24T06:00:00Z".into(),
    }
}

/// Cells of the report period (what the tables must show).
pub fn period_cells(input: &ReportInput) -> Vec<&Cell> {
    input
        .cells
        .iter()
        .filter(|c| c.period == input.period)
        .collect()
}

/// A hand-made total cell: `spec` is "period matt kon alder" separated by spaces.
pub fn total_cell(spec: &str, antal: Option<i64>, skyddad: bool) -> Cell {
    let mut parts = spec.split(' ').map(String::from);
    let mut next = || parts.next().unwrap_or_default();
    Cell {
        period: next(),
        matt: next(),
        kon: next(),
        alder: next(),
        dimension: "total".into(),
        kategori: "total".into(),
        antal,
        skyddad,
        status: "ok".into(),
        ..Cell::default()
    }
}

/// The identity of an input cell as a [`CellKey`].
pub fn key_of(c: &Cell) -> CellKey {
    CellKey {
        period: c.period.clone(),
        matt: c.matt.clone(),
        kon: c.kon.clone(),
        alder: c.alder.clone(),
        dimension: c.dimension.clone(),
        kategori: c.kategori.clone(),
    }
}

/// The input cell with key `k`.
pub fn input_cell<'a>(input: &'a ReportInput, k: &CellKey) -> Option<&'a Cell> {
    input.cells.iter().find(|c| key_of(c) == *k)
}

/// What a report must show for `field` of a fixture cell (restated independently).
pub fn expected(c: Option<&Cell>, field: Field) -> Figure {
    match c {
        None => Figure::Missing,
        Some(c) if c.skyddad || c.status == "suppressed" => Figure::Suppressed,
        Some(c) => match field {
            Field::Antal => c.antal.map_or(Figure::Missing, Figure::Count),
            Field::Andel => c.andel.map_or(Figure::Missing, Figure::Share),
        },
    }
}

/// Values of attribute `name` of every element whose markup starts with `start`.
pub fn attrs(doc: &str, start: &str, name: &str) -> Vec<String> {
    let pat = format!(" {name}=\"");
    doc.split(start)
        .skip(1)
        .map(|el| {
            let el = &el[..el.find('>').unwrap_or(el.len())];
            let value = el.find(&pat).map(|i| &el[i + pat.len()..]);
            value
                .and_then(|v| v.split('"').next())
                .unwrap_or("")
                .to_string()
        })
        .collect()
}

/// A `<td>`: its attributes and text.
pub type Td = (BTreeMap<String, String>, String);

/// All `<td …>…</td>` of an HTML document.
pub fn tds(html: &str) -> Vec<Td> {
    html.split("<td")
        .skip(1)
        .filter(|t| t.starts_with([' ', '>']))
        .map(|t| {
            let (head, rest) = t.split_once('>').unwrap_or((t, ""));
            let text = rest.split("</td>").next().unwrap_or("").to_string();
            let attrs = head
                .split("\" ")
                .filter_map(|a| a.trim().split_once("=\""))
                .map(|(k, v)| (k.to_string(), v.trim_end_matches('"').to_string()))
                .collect();
            (attrs, text)
        })
        .collect()
}

/// "matt kon alder dimension kategori period field" of a figure `<td>`.
pub fn td_key((attrs, _): &Td) -> String {
    let names = [
        "matt",
        "kon",
        "alder",
        "dimension",
        "kategori",
        "period",
        "field",
    ];
    let get = |n: &str| attrs.get(&format!("data-{n}")).cloned().unwrap_or_default();
    names.map(get).join(" ")
}

#[test]
fn run_start_is_rfc3339() {
    assert_eq!(
        run_start("20261123T233523.705Z-kalmar_af"),
        "2026-11-23T23:35:23.705Z"
    );
}
