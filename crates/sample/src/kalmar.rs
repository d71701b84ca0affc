//! The Kalmar kommun (0880) May 2015 sample set: the KAA register, the hourly
//! employees, and the assembly of all four files in a fixed order.
//!
//! The försörjningsstöd register lives in `fs.rs` and Arbetsförmedlingen's
//! workbook in `af.rs`; this file decides the seed and the order in which the
//! registers draw their persons, which is what makes the output reproducible.

use std::io;

use chrono::{Datelike, NaiveDate};

use crate::pool::{NumberPool, Person};
use crate::rng::SplitMix64;
use crate::{af, fs, windows_1252, ymd};

/// The KAA register file.
pub(super) const KAA_FILE: &str = "kaa_2015-06-15.csv";
/// The försörjningsstöd register file.
pub(super) const FS_FILE: &str = "fs_201505.csv";
/// The hourly employees file.
pub(super) const HOURLY_FILE: &str = "timanstallda_2015-05.csv";
/// Arbetsförmedlingen's aggregate workbook.
pub(super) const AF_FILE: &str = "af_inskrivna_2015-05.xlsx";

/// The one seed of the whole set: the kommun code and the reference date.
const SEED: u64 = 0x0880_2015_0531;

/// All four files, in the order [`crate::write_kalmar`] reports them.
pub(super) fn generate() -> io::Result<Vec<(&'static str, Vec<u8>)>> {
    let mut rng = SplitMix64::new(SEED);
    let mut pool = NumberPool::new(&mut rng);
    // FS first: the KAA register needs to know whom it shares with FS.
    let fs_register = fs::build(&mut rng, &mut pool)?;
    let kaa = kaa_text(&mut rng, &mut pool, &fs_register.kaa_overlap)?;
    let hourly = hourly_text(&mut rng, &mut pool)?;

    // The payroll system exports UTF-8 with a byte order mark, unlike the
    // Windows-1252 registers: the product must handle both.
    let mut hourly_bytes = "\u{feff}".as_bytes().to_vec();
    hourly_bytes.extend_from_slice(hourly.as_bytes());

    Ok(vec![
        (KAA_FILE, windows_1252(&kaa)?),
        (FS_FILE, windows_1252(&fs_register.text)?),
        (HOURLY_FILE, hourly_bytes),
        (AF_FILE, af::workbook()?),
    ])
}

// ---------------------------------------------------------------------------
// KAA register
// ---------------------------------------------------------------------------

/// The register's first line, before the header, as the KAA system writes it.
pub(super) const KAA_PREAMBLE: &str =
    "Kommunernas aktivitetsansvar;Kalmarsunds gymnasieförbund;Uttag 2015-06-15";
/// The register's header line.
pub(super) const KAA_HEADER: &str = "Personnummer;Registreringsdatum;Orsak till registrering;Aktuell sysselsättning;Planerad avregistrering;Åtgärd";
/// The register's closing line.
pub(super) const KAA_TOTAL_LINE: &str = "Summa;115;;;;";

const KAA_MEN: usize = 74;
const KAA_WOMEN: usize = 41;
/// The report gives only the 16–19 span; this spread over the ages is ours.
const KAA_AGES: [(u32, usize); 4] = [(16, 18), (17, 30), (18, 35), (19, 32)];
const KAA_CAUSES: [(&str, usize); 4] = [
    ("Introduktionsprogram", 40),
    ("Avbrott nationellt program", 45),
    ("Studiebevis", 20),
    ("Aldrig studerat", 10),
];
/// The occupation of the persons shared with FS: out of work and out of school.
const NO_OCCUPATION: &str = "Ingen sysselsättning";
const KAA_OCCUPATIONS: [(&str, usize); 6] = [
    ("Studier", 10),
    ("Arbete", 12),
    ("Praktik", 15),
    ("Insats", 30),
    (NO_OCCUPATION, 28),
    ("Okänd", 20),
];
const KAA_PLANNED_EXIT: [(&str, usize); 2] = [("Ja", 35), ("Nej", 80)];
const KAA_MEASURES: [(&str, usize); 3] = [
    ("Enstaka samtal", 50),
    ("Regelbundna samtal", 40),
    ("Studie- och yrkesvägledning", 25),
];
/// Registrations run from the autumn term 2013 to just before the extract.
const KAA_FIRST_REGISTRATION: NaiveDate = ymd(2013, 8, 15);
const KAA_LAST_REGISTRATION: NaiveDate = ymd(2015, 5, 20);
/// KAA starts when compulsory school ends: a 16-year-old born in 1999 is
/// still in year 9 in May 2015, so the register only has those born in 1998.
const KAA_LAST_BIRTH: NaiveDate = ymd(1998, 12, 31);

struct KaaRow {
    person: Person,
    registered: NaiveDate,
    cause: &'static str,
    occupation: &'static str,
    planned_exit: &'static str,
    measure: &'static str,
}

fn kaa_text(rng: &mut SplitMix64, pool: &mut NumberPool, shared: &[Person]) -> io::Result<String> {
    let total = KAA_MEN + KAA_WOMEN;
    // The shared persons keep their FS identity; everyone else is new.
    let mut ages: Vec<u32> = rng.shuffled(&KAA_AGES);
    for person in shared {
        let age = crate::age_at_reference(person.birth).unwrap_or(0);
        let at = ages.iter().position(|&a| a == age).ok_or_else(|| {
            io::Error::other(format!("KAA has no age {age} left for a shared person"))
        })?;
        ages.remove(at);
    }
    let shared_women = shared.iter().filter(|p| p.woman).count();
    let women = rng.shuffled(&[
        (false, KAA_MEN - (shared.len() - shared_women)),
        (true, KAA_WOMEN - shared_women),
    ]);
    let mut persons = shared.to_vec();
    for (&age, &woman) in ages.iter().zip(&women) {
        persons.push(pool.take(age, woman, |birth| birth <= KAA_LAST_BIRTH)?);
    }

    let causes = rng.shuffled(&KAA_CAUSES);
    let mut occupations = rng.shuffled(&KAA_OCCUPATIONS);
    bring_first(&mut occupations, NO_OCCUPATION, shared.len())?;
    let planned_exit = rng.shuffled(&KAA_PLANNED_EXIT);
    let measures = rng.shuffled(&KAA_MEASURES);
    for len in [
        persons.len(),
        causes.len(),
        occupations.len(),
        planned_exit.len(),
        measures.len(),
    ] {
        if len != total {
            return Err(io::Error::other(format!(
                "a KAA list has {len} entries, not {total}"
            )));
        }
    }

    let mut rows = Vec::with_capacity(total);
    for (i, person) in persons.into_iter().enumerate() {
        // Nobody is registered before leaving compulsory school (the August
        // of the year they turn 16).
        let left_school = ymd(person.birth.year() + 16, 8, 15).max(KAA_FIRST_REGISTRATION);
        let days = (KAA_LAST_REGISTRATION - left_school).num_days();
        let offset = rng.below(usize::try_from(days + 1).unwrap_or(1));
        let registered = left_school + chrono::Days::new(offset as u64);
        rows.push(KaaRow {
            person,
            registered,
            cause: causes[i],
            occupation: occupations[i],
            planned_exit: planned_exit[i],
            measure: measures[i],
        });
    }
    // The KAA system lists by registration date.
    rows.sort_by(|a, b| (a.registered, &a.person.number).cmp(&(b.registered, &b.person.number)));

    let mut text = String::new();
    let body = rows.iter().map(|row| {
        format!(
            "{};{};{};{};{};{}",
            row.person.short_with_dash(),
            row.registered.format("%Y-%m-%d"),
            row.cause,
            row.occupation,
            row.planned_exit,
            row.measure
        )
    });
    for line in [KAA_PREAMBLE.to_owned(), KAA_HEADER.to_owned()]
        .into_iter()
        .chain(body)
        .chain(std::iter::once(KAA_TOTAL_LINE.to_owned()))
    {
        text.push_str(&line);
        text.push_str("\r\n");
    }
    Ok(text)
}

/// Moves `count` occurrences of `value` to the front of `items`.
fn bring_first(items: &mut Vec<&'static str>, value: &str, count: usize) -> io::Result<()> {
    for slot in 0..count {
        let at = items[slot..]
            .iter()
            .position(|&v| v == value)
            .ok_or_else(|| io::Error::other(format!("too few '{value}' entries")))?;
        let item = items.remove(slot + at);
        items.insert(slot, item);
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Hourly employees
// ---------------------------------------------------------------------------

/// The payroll extract's header line.
pub(super) const HOURLY_HEADER: &str =
    "Personnummer;Förvaltning;Befattning;Anställningsform;Timmar maj";
const HOURLY_FORM: &str = "Timanställd";
const HOURLY_WOMEN_AGES: [(u32, usize); 7] = [
    (18, 3),
    (19, 21),
    (20, 29),
    (21, 32),
    (22, 30),
    (23, 25),
    (24, 21),
];
const HOURLY_MEN_AGES: [(u32, usize); 6] = [(19, 2), (20, 5), (21, 10), (22, 6), (23, 5), (24, 6)];

/// One administration: its name, women, men, and job titles with weights.
struct Administration {
    name: &'static str,
    women: usize,
    men: usize,
    titles: &'static [(&'static str, usize)],
}

const ADMINISTRATIONS: [Administration; 4] = [
    Administration {
        name: "Äldreomsorg",
        women: 104,
        men: 17,
        titles: &[("Undersköterska", 3), ("Vårdbiträde", 2)],
    },
    Administration {
        name: "Barnomsorg",
        women: 6,
        men: 2,
        titles: &[("Barnskötare", 3), ("Förskoleassistent", 1)],
    },
    Administration {
        name: "Kost",
        women: 7,
        men: 1,
        titles: &[("Måltidsbiträde", 2), ("Kokerska", 1)],
    },
    Administration {
        name: "Lokalvård",
        women: 44,
        men: 14,
        titles: &[("Lokalvårdare", 1)],
    },
];

fn hourly_text(rng: &mut SplitMix64, pool: &mut NumberPool) -> io::Result<String> {
    let mut women_ages = rng.shuffled(&HOURLY_WOMEN_AGES).into_iter();
    let mut men_ages = rng.shuffled(&HOURLY_MEN_AGES).into_iter();
    let mut rows: Vec<(usize, String, String)> = Vec::new();
    for (order, admin) in ADMINISTRATIONS.iter().enumerate() {
        let genders =
            std::iter::repeat_n(true, admin.women).chain(std::iter::repeat_n(false, admin.men));
        for woman in genders {
            let ages = if woman {
                &mut women_ages
            } else {
                &mut men_ages
            };
            let age = ages.next().ok_or_else(|| {
                io::Error::other("hourly age lists shorter than the administrations")
            })?;
            let person = pool.take(age, woman, |_| true)?;
            let title = match pick_weighted(rng, admin.titles) {
                // The title is gendered in Swedish payroll practice.
                "Kokerska" if !woman => "Kock",
                title => title,
            };
            let half_hours = rng.between(8, 240);
            let line = format!(
                "{};{};{title};{HOURLY_FORM};{},{}",
                person.long_with_dash(),
                admin.name,
                half_hours / 2,
                if half_hours % 2 == 1 { 5 } else { 0 }
            );
            rows.push((order, person.number, line));
        }
    }
    if women_ages.next().is_some() || men_ages.next().is_some() {
        return Err(io::Error::other(
            "hourly age lists longer than the administrations",
        ));
    }
    // Payroll lists by administration, then by personnummer.
    rows.sort();
    let mut text = String::new();
    for line in std::iter::once(HOURLY_HEADER).chain(rows.iter().map(|(_, _, line)| line.as_str()))
    {
        text.push_str(line);
        text.push('\n');
    }
    Ok(text)
}

fn pick_weighted(rng: &mut SplitMix64, choices: &[(&'static str, usize)]) -> &'static str {
    let mut ticket = rng.below(choices.iter().map(|&(_, w)| w).sum());
    for &(choice, weight) in choices {
        if ticket < weight {
            return choice;
        }
        ticket -= weight;
    }
    choices.last().map_or("", |&(choice, _)| choice)
}
