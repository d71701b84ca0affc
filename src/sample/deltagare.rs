//! Participant-register samples: who took part in which labour-market insats,
//! when, and how it ended.
//!
//! | file | what it imitates |
//! | --- | --- |
//! | `norrkoping/deltagare_2012.csv` | Norrköping's register of municipal insatser in 2012 |
//! | `skelleftea/amt_deltagare_2009.xlsx` | Skellefteå's project list of Arbetsmarknadstorget, 2008-09 – 2009-06 |
//!
//! The counts (persons by kön and age, exits by cause and half-year, the
//! six-month follow-ups) reproduce the municipalities' published follow-ups, so
//! a pipeline run over these files must arrive at the same figures. Everything
//! the reports do not give (birth dates within an age class, exact dates, which
//! person gets which cause) is drawn from one seeded PRNG, so the bytes are the
//! same on every run. Identity numbers come from [`testpnr`] only, and nobody
//! appears in both files.

use std::collections::BTreeSet;
use std::io;
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};

use chrono::{Datelike, Days, NaiveDate};
use rust_xlsxwriter::{DocProperties, ExcelDateTime, Format, Workbook, XlsxError};

use super::pool::Person;
use super::rng::SplitMix64;
use super::{testpnr, windows_1252, ymd};

/// Writes the participant-register samples under `root` (`root/norrkoping/…`, `root/skelleftea/…`) and returns the paths.
pub fn write_deltagare(root: &Path) -> io::Result<Vec<PathBuf>> {
    let mut written = Vec::new();
    for (name, bytes) in generate()? {
        let path = root.join(name);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(&path, bytes)?;
        written.push(path);
    }
    Ok(written)
}

/// The same in memory: (path relative to `root`, bytes).
pub fn deltagare_files() -> Vec<(String, Vec<u8>)> {
    // The inputs are compile-time constants: generation can only fail if the
    // tables below are inconsistent, which the `deltagare_check` tests rule out.
    generate()
        .expect("the fixed participant-register specification is satisfiable (checked by the deltagare_check tests)")
        .into_iter()
        .map(|(name, bytes)| (name.to_owned(), bytes))
        .collect()
}

/// Norrköping's register, relative to the samples root.
const NORRKOPING_FILE: &str = "norrkoping/deltagare_2012.csv";
/// Skellefteå's workbook, relative to the samples root.
const SKELLEFTEA_FILE: &str = "skelleftea/amt_deltagare_2009.xlsx";

/// The one seed of both files: Norrköping's kommun code and the year end.
const SEED: u64 = 0x0581_2012_1231;

fn generate() -> io::Result<Vec<(&'static str, Vec<u8>)>> {
    let mut rng = SplitMix64::new(SEED);
    let mut supply = Supply::new(&mut rng);
    // Skellefteå first: it needs the scarce numbers born in the 1980s at
    // exact ages, while Norrköping's classes are wide enough to take the rest.
    let amt = skelleftea_rows(&mut rng, &mut supply)?;
    let register = norrkoping_rows(&mut rng, &mut supply)?;
    Ok(vec![
        (NORRKOPING_FILE, windows_1252(&norrkoping_text(&register))?),
        (
            SKELLEFTEA_FILE,
            skelleftea_workbook(&amt).map_err(io::Error::other)?,
        ),
    ])
}

// ---------------------------------------------------------------------------
// The supply of persons
// ---------------------------------------------------------------------------

/// Unused test numbers per gender (index 1: women), in a seeded random order.
///
/// Not the Kalmar `NumberPool`: that one is keyed by age in May 2015, while
/// these registers count ages at other dates and need birth years back to 1955.
struct Supply {
    free: [Vec<(NaiveDate, String)>; 2],
}

impl Supply {
    fn new(rng: &mut SplitMix64) -> Self {
        let mut free = [Vec::new(), Vec::new()];
        for woman in [false, true] {
            let numbers = &mut free[usize::from(woman)];
            numbers.extend(testpnr::numbers_between(
                testpnr::EARLIEST_BIRTH_DATE,
                testpnr::LAST_BIRTH_DATE,
                woman,
            ));
            rng.shuffle(numbers);
        }
        Self { free }
    }

    /// Takes an unused person of the gender whose age at `on` lies in `ages`.
    ///
    /// The age is drawn evenly among the ages that still have numbers: the
    /// test list is dense for the 1990s and thin before, and drawing numbers
    /// instead of ages would pile everyone into the dense birth years.
    fn take(
        &mut self,
        rng: &mut SplitMix64,
        woman: bool,
        ages: &RangeInclusive<u32>,
        on: NaiveDate,
    ) -> io::Result<Person> {
        let numbers = &mut self.free[usize::from(woman)];
        let available: Vec<u32> = numbers
            .iter()
            .filter_map(|&(birth, _)| on.years_since(birth))
            .filter(|age| ages.contains(age))
            .collect::<BTreeSet<u32>>()
            .into_iter()
            .collect();
        if available.is_empty() {
            return Err(io::Error::other(format!(
                "no unused test number left for ages {ages:?} at {on}, woman {woman}"
            )));
        }
        let age = available[rng.below(available.len())];
        let at = numbers
            .iter()
            .position(|&(birth, _)| on.years_since(birth) == Some(age))
            .ok_or_else(|| io::Error::other("an available age has no number"))?;
        let (birth, number) = numbers.remove(at);
        Ok(Person {
            birth,
            woman,
            number,
        })
    }
}

/// A day drawn evenly from `first..=last`.
fn day_in(rng: &mut SplitMix64, (first, last): (NaiveDate, NaiveDate)) -> NaiveDate {
    let span = usize::try_from((last - first).num_days().max(0)).unwrap_or(0);
    first + Days::new(rng.below(span + 1) as u64)
}

// ---------------------------------------------------------------------------
// Norrköping 2012
// ---------------------------------------------------------------------------

/// The register's header line.
const NORRKOPING_HEADER: &str =
    "Personnummer;Insats;Anordnare;Startdatum;Slutdatum;Avslutskod;Uppföljning 6 mån";
/// Ages are completed years on the last day of the report year.
const NKPG_AGE_DATE: NaiveDate = ymd(2012, 12, 31);
/// The report's age classes: 18–24 (some insatser start at 20), and 25–57.
const YOUNG: RangeInclusive<u32> = 18..=24;
const OLDER: RangeInclusive<u32> = 25..=57;
/// Exit windows of the two half-years (the register has no exits on holidays
/// at the turn of the year, hence the trimmed ends).
const H1: (NaiveDate, NaiveDate) = (ymd(2012, 1, 2), ymd(2012, 6, 30));
const H2: (NaiveDate, NaiveDate) = (ymd(2012, 7, 1), ymd(2012, 12, 21));
const YEAR: (NaiveDate, NaiveDate) = (H1.0, H2.1);

/// Persons by kön and age class at [`NKPG_AGE_DATE`]: young women, young
/// men, older women, older men.
type Persons = [usize; 4];
/// Values and how many participations have each.
type Counts = &'static [(&'static str, usize)];
/// How one participation ended: its Avslutskod, the window its end falls in,
/// and the six-month follow-up (empty when there was none).
type Exit = (&'static str, (NaiveDate, NaiveDate), &'static str);

/// One row: a person's participation in one insats.
struct Participation {
    person: Person,
    insats: &'static str,
    anordnare: &'static str,
    start: NaiveDate,
    end: Option<NaiveDate>,
    code: &'static str,
    followup: &'static str,
}

/// An insats with one organiser, as the report counts it.
struct Insats {
    name: &'static str,
    anordnare: &'static str,
    /// The young age class: [`YOUNG`], or a narrower one.
    young: RangeInclusive<u32>,
    persons: Persons,
    /// Avslutskoder of those who ended in 2012.
    codes: Counts,
    /// How many of `codes` end in the first and in the second half-year;
    /// `None`: anywhere in the year.
    halves: Option<(usize, usize)>,
    /// Six-month follow-ups of the first half-year's exits.
    followups: Counts,
    /// Exits to another insats on top of `codes`, all in the second half-year.
    onward: usize,
    /// Shortest and longest participation in days, for those who ended.
    days: (u64, u64),
    /// No participation starts earlier than this.
    earliest_start: NaiveDate,
    /// Start window of those still in the insats at the year end.
    ongoing_start: (NaiveDate, NaiveDate),
}

const PRAKTIK: &str = "Praktik";
const PRAKTIK_PERSONS: Persons = [32, 27, 163, 75];
const PRAKTIK_ANORDNARE: [(&str, usize); 4] = [
    ("Förskola och skola", 120),
    ("Äldreomsorg", 80),
    ("Privat arbetsgivare", 60),
    ("Ideell förening", 37),
];
/// Praktik exits other than to work, which the report splits by kön.
const PRAKTIK_CODES: [(&str, usize); 4] = [
    ("Annan insats", 20),
    ("Studier", 1),
    ("Insats avbruten", 26),
    ("Insats klar", 124),
];
const PRAKTIK_WORK_WOMEN: usize = 6;
const PRAKTIK_WORK_MEN: usize = 5;
/// Of the 40 who started in 2011, 28 ended in 2012 and 12 are still there.
const PRAKTIK_2011: (usize, usize) = (28, 12);
const PRAKTIK_2011_START: (NaiveDate, NaiveDate) = (ymd(2011, 8, 1), ymd(2011, 12, 20));
const PRAKTIK_EXITS: usize = 182;

const UTVECKLING: Insats = Insats {
    name: "Utvecklingsanställning",
    anordnare: "Arbetsmarknadskontoret",
    young: 20..=24,
    persons: [14, 20, 23, 37],
    codes: &[
        ("Arbete", 4),
        ("Subv. arbete", 12),
        ("Studier", 1),
        ("Insats klar", 49),
        ("Insats avbruten", 4),
    ],
    halves: Some((41, 29)),
    followups: &[
        ("Arbete", 3),
        ("Arbetsmarknadspolitiskt program inom kommunen", 9),
        ("Arbetsmarknadspolitiskt program utanför kommunen", 1),
        ("Vuxenutbildning", 1),
        ("Annat", 1),
        ("Arbetslös", 5),
        ("Ej nådd", 21),
    ],
    onward: 0,
    days: (60, 365),
    earliest_start: ymd(2011, 1, 3),
    ongoing_start: (ymd(2011, 6, 1), ymd(2012, 12, 3)),
};

const NIL: Insats = Insats {
    name: "Nil-resursen",
    anordnare: "Nil-resursen",
    young: YOUNG,
    persons: [2, 12, 1, 19],
    codes: &[("Annan insats", 1), ("Studier", 1), ("Insats klar", 20)],
    halves: None,
    followups: &[],
    onward: 0,
    days: (60, 300),
    earliest_start: ymd(2011, 3, 1),
    ongoing_start: (ymd(2011, 9, 1), ymd(2012, 12, 10)),
};

const VAGLEDNING: Insats = Insats {
    name: "Vägledning",
    anordnare: "AME Vägledning",
    young: YOUNG,
    persons: [104, 100, 58, 62],
    // 152 direct exits give the printed shares exactly (32.9 %, 64.5 %, 2.6 %), and
    // with the 66 who went on make the 218 who ended; the seed's 117 counts the further
    // insatser those 66 began (docs/figures.md).
    codes: &[("Studier", 4), ("Insats avbruten", 50), ("Insats klar", 98)],
    halves: Some((50, 102)),
    followups: &[
        ("Arbete", 2),
        ("Arbetsmarknadspolitiskt program inom kommunen", 7),
        ("Arbetsmarknadspolitiskt program utanför kommunen", 5),
        ("Sjukskriven", 1),
        ("Studier - ej kommunala", 3),
        ("Vuxenutbildning", 1),
        ("Annat", 8),
        ("Arbetslös", 2),
        ("Ej nådd", 21),
    ],
    onward: 66,
    days: (14, 150),
    earliest_start: ymd(2011, 9, 1),
    ongoing_start: (ymd(2012, 1, 9), ymd(2012, 12, 17)),
};

fn norrkoping_rows(rng: &mut SplitMix64, supply: &mut Supply) -> io::Result<Vec<Participation>> {
    let mut parts = vec![praktik(rng, supply)?];
    for spec in [&UTVECKLING, &NIL, &VAGLEDNING] {
        parts.push(insats(rng, supply, spec)?);
    }
    // The register lists by insats, then by start date.
    Ok(parts
        .into_iter()
        .flat_map(|mut part| {
            part.sort_by(|a, b| (a.start, &a.person.number).cmp(&(b.start, &b.person.number)));
            part
        })
        .collect())
}

/// The persons of the four classes, in a random order.
fn draw(
    rng: &mut SplitMix64,
    supply: &mut Supply,
    young: &RangeInclusive<u32>,
    persons: Persons,
) -> io::Result<Vec<Person>> {
    let classes = [
        (true, young),
        (false, young),
        (true, &OLDER),
        (false, &OLDER),
    ];
    let mut drawn = Vec::new();
    for ((woman, ages), count) in classes.into_iter().zip(persons) {
        for _ in 0..count {
            drawn.push(supply.take(rng, woman, ages, NKPG_AGE_DATE)?);
        }
    }
    rng.shuffle(&mut drawn);
    Ok(drawn)
}

/// Start and end of a participation that ended in `window`: the end first,
/// then a duration back from it, never before `earliest`.
fn exit_dates(
    rng: &mut SplitMix64,
    window: (NaiveDate, NaiveDate),
    (shortest, longest): (u64, u64),
    earliest: NaiveDate,
) -> io::Result<(NaiveDate, NaiveDate)> {
    let end = day_in(rng, window);
    let days = shortest + rng.below((longest - shortest) as usize + 1) as u64;
    let start = (end - Days::new(days)).max(earliest);
    if start >= end {
        return Err(io::Error::other(format!(
            "exit window {window:?} starts too early"
        )));
    }
    Ok((start, end))
}

/// The exits of an insats in a random order: the first-half-year ones carry
/// the follow-ups, since six months after a later exit falls after the report.
fn exits(rng: &mut SplitMix64, spec: &Insats) -> io::Result<Vec<Exit>> {
    let codes = rng.shuffled(spec.codes);
    let followups = rng.shuffled(spec.followups);
    let (h1, h2) = spec.halves.unwrap_or((0, codes.len()));
    if codes.len() != h1 + h2 || followups.len() != h1 {
        return Err(io::Error::other(format!(
            "{}: counts do not add up",
            spec.name
        )));
    }
    let mut exits: Vec<Exit> = (codes.into_iter().enumerate())
        .map(|(i, code)| {
            let window = match spec.halves {
                None => YEAR,
                Some(_) if i < h1 => H1,
                Some(_) => H2,
            };
            (code, window, followups.get(i).copied().unwrap_or(""))
        })
        .collect();
    exits.extend(std::iter::repeat_n(("Annan insats", H2, ""), spec.onward));
    rng.shuffle(&mut exits);
    Ok(exits)
}

/// An insats with one organiser: persons drawn by group, the first ones exit,
/// the rest are still in it at the year end.
fn insats(
    rng: &mut SplitMix64,
    supply: &mut Supply,
    spec: &Insats,
) -> io::Result<Vec<Participation>> {
    let persons = draw(rng, supply, &spec.young, spec.persons)?;
    let exits = exits(rng, spec)?;
    if exits.len() > persons.len() {
        return Err(io::Error::other(format!(
            "{}: more exits than persons",
            spec.name
        )));
    }
    let mut exits = exits.into_iter();
    let mut rows = Vec::with_capacity(persons.len());
    for person in persons {
        let (start, end, code, followup) = match exits.next() {
            Some((code, window, followup)) => {
                let (start, end) = exit_dates(rng, window, spec.days, spec.earliest_start)?;
                (start, Some(end), code, followup)
            }
            None => (day_in(rng, spec.ongoing_start), None, "", ""),
        };
        rows.push(Participation {
            person,
            insats: spec.name,
            anordnare: spec.anordnare,
            start,
            end,
            code,
            followup,
        });
    }
    Ok(rows)
}

/// Praktik: several organisers, a 2011 cohort, and work exits split by kön.
fn praktik(rng: &mut SplitMix64, supply: &mut Supply) -> io::Result<Vec<Participation>> {
    let persons = draw(rng, supply, &YOUNG, PRAKTIK_PERSONS)?;
    let anordnare = rng.shuffled(&PRAKTIK_ANORDNARE);
    let mut other_codes = rng.shuffled(&PRAKTIK_CODES).into_iter();
    if anordnare.len() != persons.len() {
        return Err(io::Error::other("Praktik organisers and persons differ"));
    }
    // Which of the leavers (the first PRAKTIK_EXITS) went to work: random
    // ones of each kön, as the report counts them by kön.
    let mut to_work = [false; PRAKTIK_EXITS];
    for (woman, count) in [(false, PRAKTIK_WORK_MEN), (true, PRAKTIK_WORK_WOMEN)] {
        let mut leavers: Vec<usize> = (persons.iter().take(PRAKTIK_EXITS).enumerate())
            .filter(|(_, person)| person.woman == woman)
            .map(|(i, _)| i)
            .collect();
        rng.shuffle(&mut leavers);
        for &i in leavers
            .get(..count)
            .ok_or_else(|| io::Error::other("too few leavers"))?
        {
            to_work[i] = true;
        }
    }
    let mut rows = Vec::with_capacity(persons.len());
    // Persons come in random order: the first PRAKTIK_EXITS ended in 2012,
    // and the first few of the leavers and of the stayers started in 2011.
    for (i, (person, anordnare)) in persons.into_iter().zip(anordnare).enumerate() {
        let exited = i < PRAKTIK_EXITS;
        let from_2011 = if exited {
            i < PRAKTIK_2011.0
        } else {
            i - PRAKTIK_EXITS < PRAKTIK_2011.1
        };
        let code = if !exited {
            ""
        } else if to_work[i] {
            "Arbete"
        } else {
            (other_codes.next()).ok_or_else(|| io::Error::other("too few Praktik exit codes"))?
        };
        let (start, end) = match (exited, from_2011) {
            // The 2011 cohort's leavers leave during the spring term.
            (true, true) => (
                day_in(rng, PRAKTIK_2011_START),
                Some(day_in(rng, (H1.0, ymd(2012, 6, 29)))),
            ),
            (true, false) => {
                let (start, end) = exit_dates(rng, (ymd(2012, 2, 1), H2.1), (21, 180), H1.0)?;
                (start, Some(end))
            }
            (false, true) => (day_in(rng, PRAKTIK_2011_START), None),
            (false, false) => (day_in(rng, (ymd(2012, 4, 2), ymd(2012, 12, 17))), None),
        };
        rows.push(Participation {
            person,
            insats: PRAKTIK,
            anordnare,
            start,
            end,
            code,
            followup: "",
        });
    }
    if other_codes.next().is_some() {
        return Err(io::Error::other("Praktik exit codes and exits differ"));
    }
    Ok(rows)
}

fn norrkoping_text(rows: &[Participation]) -> String {
    let mut text = String::new();
    text.push_str(NORRKOPING_HEADER);
    text.push_str("\r\n");
    for row in rows {
        let end = row.end.map(|d| d.format("%Y-%m-%d").to_string());
        text.push_str(&format!(
            "{};{};{};{};{};{};{}\r\n",
            row.person.long_with_dash(),
            row.insats,
            row.anordnare,
            row.start.format("%Y-%m-%d"),
            end.unwrap_or_default(),
            row.code,
            row.followup
        ));
    }
    text
}

// ---------------------------------------------------------------------------
// Skellefteå, Arbetsmarknadstorget 2008-09 – 2009-06
// ---------------------------------------------------------------------------

/// The sheet's name.
const AMT_SHEET: &str = "Deltagare";
/// The merged title in A1:D1.
const AMT_TITLE: &str = "Arbetsmarknadstorget Skellefteå – deltagare 2008-09-15 – 2009-06-30";
const AMT_HEADERS: [&str; 4] = ["Personnummer", "Startdatum", "Slutdatum", "Avslutsorsak"];
/// Ages are completed years at the end of the project's second year.
const AMT_AGE_DATE: NaiveDate = ymd(2009, 12, 31);
const AMT_START: (NaiveDate, NaiveDate) = (ymd(2008, 9, 15), ymd(2009, 3, 31));
const AMT_LAST_END: NaiveDate = ymd(2009, 6, 30);
/// Persons by age at [`AMT_AGE_DATE`]: (age, men, women). The report gives
/// only the span 19–25; this spread over the ages is ours.
const AMT_AGES: [(u32, usize, usize); 7] = [
    (19, 14, 4),
    (20, 12, 4),
    (21, 12, 3),
    (22, 11, 3),
    (23, 10, 3),
    (24, 8, 2),
    (25, 6, 1),
];
/// Avslutsorsak: (cause, men, women).
const AMT_CAUSES: [(&str, usize, usize); 4] = [
    ("Arbete", 23, 7),
    ("Studier", 7, 1),
    ("Planerat avbrott", 36, 11),
    ("Oplanerat avbrott", 7, 1),
];

struct AmtRow {
    person: Person,
    start: NaiveDate,
    end: NaiveDate,
    cause: &'static str,
}

fn skelleftea_rows(rng: &mut SplitMix64, supply: &mut Supply) -> io::Result<Vec<AmtRow>> {
    let mut rows = Vec::new();
    for woman in [false, true] {
        let of = |men: usize, women: usize| if woman { women } else { men };
        let ages = rng.shuffled(&AMT_AGES.map(|(age, men, women)| (age, of(men, women))));
        let causes = rng.shuffled(&AMT_CAUSES.map(|(cause, men, women)| (cause, of(men, women))));
        if causes.len() != ages.len() {
            return Err(io::Error::other(
                "Skellefteå causes and ages differ in count",
            ));
        }
        for (age, cause) in ages.into_iter().zip(causes) {
            let person = supply.take(rng, woman, &(age..=age), AMT_AGE_DATE)?;
            let start = day_in(rng, AMT_START);
            // Between two weeks and eight months, and the project closed at
            // the end of June: late starters all leave then.
            let days = 14 + rng.below(227) as u64;
            let end = (start + Days::new(days)).min(AMT_LAST_END);
            rows.push(AmtRow {
                person,
                start,
                end,
                cause,
            });
        }
    }
    // The project kept its list in order of enrolment.
    rows.sort_by(|a, b| (a.start, &a.person.number).cmp(&(b.start, &b.person.number)));
    Ok(rows)
}

/// An Excel date cell value; the project's dates all lie in 2008–2009.
fn excel_date(date: NaiveDate) -> Result<ExcelDateTime, XlsxError> {
    ExcelDateTime::from_ymd(date.year() as u16, date.month() as u8, date.day() as u8)
}

fn skelleftea_workbook(rows: &[AmtRow]) -> Result<Vec<u8>, XlsxError> {
    let mut workbook = Workbook::new();
    // A fixed creation time: otherwise the library stamps "now" into
    // docProps/core.xml and the shipped file would differ on every run.
    let created = ExcelDateTime::from_ymd(2009, 7, 1)?.and_hms(8, 0, 0)?;
    let properties = DocProperties::new()
        .set_title(AMT_TITLE)
        .set_author("Skellefteå kommun, Arbetsmarknadstorget")
        .set_creation_datetime(&created);
    workbook.set_properties(&properties);

    let bold = Format::new().set_bold();
    let date = Format::new().set_num_format("yyyy-mm-dd");
    let sheet = workbook.add_worksheet();
    sheet.set_name(AMT_SHEET)?;
    sheet.merge_range(0, 0, 0, 3, AMT_TITLE, &bold)?;
    for (col, header) in (0u16..).zip(AMT_HEADERS) {
        sheet.write_string_with_format(1, col, header, &bold)?;
    }
    for (row, entry) in (2u32..).zip(rows) {
        // Text, not a number: a personnummer keeps its dash and leading zero.
        sheet.write_string(row, 0, entry.person.short_with_dash())?;
        sheet.write_date_with_format(row, 1, excel_date(entry.start)?, &date)?;
        sheet.write_date_with_format(row, 2, excel_date(entry.end)?, &date)?;
        sheet.write_string(row, 3, entry.cause)?;
    }
    sheet.set_column_width(0, 14)?;
    sheet.set_column_width(1, 12)?;
    sheet.set_column_width(2, 12)?;
    sheet.set_column_width(3, 20)?;
    workbook.save_to_buffer()
}
