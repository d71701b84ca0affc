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
//!
//! This module owns the two files' shared parts: the entry points, the one
//! seed and the supply of persons both draw from (so nobody is in both). The
//! tables and rows of each file are in `norrkoping.rs` and `skelleftea.rs`.

mod norrkoping;
mod skelleftea;

use std::collections::BTreeSet;
use std::io;
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};

use chrono::{Days, NaiveDate};

use crate::pool::Person;
use crate::rng::SplitMix64;
use crate::{testpnr, windows_1252};

use norrkoping::{norrkoping_rows, norrkoping_text};
use skelleftea::{skelleftea_rows, skelleftea_workbook};

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
    // tables of `norrkoping.rs` or `skelleftea.rs` are inconsistent, which the
    // `deltagare_check` tests rule out.
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
