//! The category codes of the shared schema: the values a category field takes after a
//! pipeline's value map. Re-exported by `schema`, which names them field by field;
//! docs/schema.md lists them for analysts.

/// Kön of a person (a record register).
pub const PERSON_KON: &[&str] = &["K", "M"];

/// KAA aktivitet codes.
pub const KAA_AKTIVITET: &[&str] = &["studier", "arbete", "praktik", "insats", "ingen", "okand"];
/// FS reason codes.
pub const FS_ORSAK: &[&str] = &[
    "arbetsloshet",
    "ohalsa",
    "sociala_skal",
    "otillracklig_inkomst",
    "annan",
];
/// Sub-reasons of arbetslöshet.
pub const FS_DELORSAK: &[&str] = &["endast_fs", "vantar_ersattning", "otillracklig_ersattning"];
/// Education levels in the FS register.
pub const UTBILDNING: &[&str] = &["ingen_gymnasial", "gymnasial", "eftergymnasial", "saknas"];
/// Disability; `fysisk_psykisk` is a person with both (counted in both by the views).
pub const FUNKTIONSNEDSATTNING: &[&str] = &["fysisk", "psykisk", "fysisk_psykisk", "nej", "saknas"];
/// Country of birth.
pub const FODELSELAND: &[&str] = &["inrikes", "utrikes", "saknas"];
/// Reason for KAA registration.
pub const KAA_ORSAK: &[&str] = &[
    "introduktionsprogram",
    "avbrott",
    "studiebevis",
    "aldrig_studerat",
    "saknas",
];
/// Exit codes of a programme participation (`annan_insats`: moved on to another insats).
pub const AVSLUTSKOD: &[&str] = &[
    "klar",
    "avbruten",
    "arbete",
    "subventionerat_arbete",
    "studier",
    "sjukdom",
    "annan_insats",
    "eget_foretag",
    // Ended for a reason outside the insats' outcomes: another authority took over,
    // moved away, changed provider. A foreign code list maps here rather than to
    // `avbruten`, which reads as a failure of the insats.
    "annan",
];
/// Status at the six-month follow-up (`ej_nadd`: could not be reached).
pub const UPPFOLJNING: &[&str] = &[
    "arbete",
    "program_inom_kommunen",
    "program_utanfor_kommunen",
    "sjukskriven",
    "studier_ej_kommunala",
    "vuxenutbildning",
    "pension",
    "annat",
    "arbetslos",
    "ej_nadd",
];
/// Kön in aggregate tables (T = both).
pub const KON: &[&str] = &["K", "M", "T"];
