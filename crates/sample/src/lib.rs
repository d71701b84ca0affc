//! Synthetic demo and acceptance extracts for Kalmar kommun (0880), May 2015.
//!
//! This crate owns the deterministic generator of the four sample files the
//! product ships as its demo and acceptance data:
//!
//! | file | what it imitates |
//! | --- | --- |
//! | `kaa_2015-06-15.csv` | the KAA register (kommunernas aktivitetsansvar) |
//! | `fs_201505.csv` | the försörjningsstöd (social assistance) register |
//! | `timanstallda_2015-05.csv` | the municipality's hourly employees |
//! | `af_inskrivna_2015-05.xlsx` | Arbetsförmedlingen's aggregate of job seekers |
//!
//! The figures reproduce a published municipal report, so a pipeline run over
//! these files must arrive at the report's numbers; that is what makes them
//! acceptance data rather than mere demo data.
//!
//! No file contains a real person's identity number: every personnummer comes
//! from [`testpnr`], which only produces numbers of Skatteverket's published
//! list of test numbers. Output is byte-for-byte identical on every run (a
//! seeded PRNG, no clock, fixed workbook properties), so the shipped files can
//! be compared with [`kalmar_files`] in a test.
//!
//! The participant registers of Norrköping and Skellefteå are in [`deltagare`].
//! The product (`malgrupp sample`, `malgrupp bench`) calls this crate as
//! `malgrupp_sample`; it is a crate of its own so that its self-checks build
//! and run without DataFusion.

mod af;
pub mod deltagare;
mod fs;
mod kalmar;
mod pool;
mod rng;
pub mod testpnr;

#[cfg(test)]
mod deltagare_check;
#[cfg(test)]
mod deltagare_check_skelleftea;
#[cfg(test)]
mod selfcheck;
#[cfg(test)]
mod selfcheck_fs;
#[cfg(test)]
mod testpnr_check;

use std::io;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;

/// Writes the Kalmar May 2015 sample extracts into `out_dir` (created if missing) and returns the written paths.
pub fn write_kalmar(out_dir: &Path) -> io::Result<Vec<PathBuf>> {
    let files = kalmar::generate()?;
    std::fs::create_dir_all(out_dir)?;
    let mut written = Vec::with_capacity(files.len());
    for (name, bytes) in files {
        let path = out_dir.join(name);
        std::fs::write(&path, bytes)?;
        written.push(path);
    }
    Ok(written)
}

/// The same content in memory: (file name, bytes), so a test can compare with the shipped files.
pub fn kalmar_files() -> Vec<(String, Vec<u8>)> {
    // The inputs are compile-time constants: generation can only fail if the
    // specification tables themselves are inconsistent, which the crate's
    // self-check tests rule out.
    kalmar::generate()
        .expect("the fixed Kalmar specification is satisfiable (checked by the sample self-check tests)")
        .into_iter()
        .map(|(name, bytes)| (name.to_owned(), bytes))
        .collect()
}

/// The day ages are measured at: the last day of the reporting period 2015-05.
const REFERENCE_DATE: NaiveDate = ymd(2015, 5, 31);

/// A calendar date from literal parts, checked at compile time when used in a `const`.
const fn ymd(year: i32, month: u32, day: u32) -> NaiveDate {
    match NaiveDate::from_ymd_opt(year, month, day) {
        Some(date) => date,
        None => panic!("invalid calendar date literal"),
    }
}

/// Completed years at [`REFERENCE_DATE`]; `None` for someone born after it.
fn age_at_reference(birth: NaiveDate) -> Option<u32> {
    REFERENCE_DATE.years_since(birth)
}

/// Encodes text as Windows-1252, the encoding of the municipal CSV exports.
///
/// Fails instead of substituting, because a silently replaced character in a
/// sample file would make the acceptance data lie about what it contains.
fn windows_1252(text: &str) -> io::Result<Vec<u8>> {
    let (bytes, _, had_errors) = encoding_rs::WINDOWS_1252.encode(text);
    if had_errors {
        return Err(io::Error::other(
            "sample text has a character outside Windows-1252",
        ));
    }
    Ok(bytes.into_owned())
}
