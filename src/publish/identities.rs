//! The identities of the long kartläggning: one declarative list ([`IDENTITIES`]) of
//! which published cells add up to which, within one kommun and period. docs/figures.md
//! prints the same list ([`markdown`]); a test keeps the two equal. Applying them to a
//! table's cells is `constraints`'.

/// A key field of the long table an identity fixes or replaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// `matt`
    Matt,
    /// `kon`
    Kon,
    /// `alder`
    Alder,
    /// `dimension`
    Dimension,
    /// `kategori`
    Kategori,
}

impl Field {
    /// Position in [`Cell::keys`].
    pub(super) fn index(self) -> usize {
        match self {
            Field::Matt => 2,
            Field::Kon => 3,
            Field::Alder => 4,
            Field::Dimension => 5,
            Field::Kategori => 6,
        }
    }

    fn name(self) -> &'static str {
        ["", "", "matt", "kon", "alder", "dimension", "kategori"][self.index()]
    }
}

/// Field values; `{}` in a value stands for each entry of [`Identity::each`].
pub(super) type Fixed = &'static [(Field, &'static str)];

/// What the total adds up from.
#[derive(Debug, Clone, Copy)]
pub enum Parts {
    /// Each part is the total's cell with these fields replaced.
    Cells(&'static [Fixed]),
    /// The categories of each breakdown (`dimension` ≠ total) of the total's measure,
    /// kön and ålder: one equation per dimension.
    Categories,
}

/// One identity: `total = Σ parts`, for every combination of the free fields.
#[derive(Debug, Clone, Copy)]
pub struct Identity {
    /// What it says, in the words of docs/figures.md.
    pub says: &'static str,
    /// The fields the total cell has (the others are free).
    pub total: Fixed,
    /// The parts.
    pub parts: Parts,
    /// Parts that exist only sometimes (persons of unknown kön): an absent one is
    /// empty, as the identity holds by construction, and leaves the rest unchecked.
    pub also: &'static [Fixed],
    /// Instances of `{}` in `total` and `parts` (one equation family each); empty: one.
    pub each: &'static [&'static str],
    /// Used only where the published data satisfy it exactly. A coincidence then adds
    /// protection, never less, and a breakdown that is multi-valued or partial (which
    /// does not add up) is left out. Unchecked identities hold by construction.
    pub checked: bool,
}

/// The reasons of försörjningsstöd (`fs_<reason>` measures, `orsak` categories).
const REASONS: &[&str] = &[
    "arbetsloshet",
    "sociala_skal",
    "ohalsa",
    "otillracklig_inkomst",
    "annan",
];

/// The identities of the long kartläggning within one kommun and period.
pub const IDENTITIES: &[Identity] = &[
    Identity {
        says: "T = K + M (+ okand: persons of a register that does not deliver kön)",
        total: &[(Field::Kon, "T")],
        parts: Parts::Cells(&[&[(Field::Kon, "K")], &[(Field::Kon, "M")]]),
        also: &[&[(Field::Kon, "okand")]],
        each: &[],
        checked: false,
    },
    Identity {
        says: "a breakdown's categories sum to the total row (where the data show it: multi-valued or partial breakdowns do not)",
        total: &[(Field::Dimension, "total"), (Field::Kategori, "total")],
        parts: Parts::Categories,
        also: &[],
        each: &[],
        checked: true,
    },
    Identity {
        says: "the single ages 16…24 sum to 16-24",
        total: &[(Field::Alder, "16-24")],
        parts: Parts::Cells(&[
            &[(Field::Alder, "16")],
            &[(Field::Alder, "17")],
            &[(Field::Alder, "18")],
            &[(Field::Alder, "19")],
            &[(Field::Alder, "20")],
            &[(Field::Alder, "21")],
            &[(Field::Alder, "22")],
            &[(Field::Alder, "23")],
            &[(Field::Alder, "24")],
        ]),
        also: &[],
        each: &[],
        checked: true,
    },
    Identity {
        says: "16-19 + 20-24 = 16-24",
        total: &[(Field::Alder, "16-24")],
        parts: Parts::Cells(&[&[(Field::Alder, "16-19")], &[(Field::Alder, "20-24")]]),
        also: &[],
        each: &[],
        checked: true,
    },
    Identity {
        says: "försörjningsstöd recipients = the sum of the reasons (`fs_mottagare` = Σ `fs_<orsak>`)",
        total: &[(Field::Matt, "fs_mottagare")],
        parts: Parts::Cells(&[
            &[(Field::Matt, "fs_arbetsloshet")],
            &[(Field::Matt, "fs_sociala_skal")],
            &[(Field::Matt, "fs_ohalsa")],
            &[(Field::Matt, "fs_otillracklig_inkomst")],
            &[(Field::Matt, "fs_annan")],
        ]),
        also: &[],
        each: &[],
        checked: true,
    },
    Identity {
        says: "arbetslöshet = its sub-reasons (`fs_arbetsloshet` = endast_fs + vantar_ersattning + otillracklig_ersattning)",
        total: &[(Field::Matt, "fs_arbetsloshet")],
        parts: Parts::Cells(&[
            &[(Field::Matt, "fs_arbetsloshet_endast_fs")],
            &[(Field::Matt, "fs_arbetsloshet_vantar_ersattning")],
            &[(Field::Matt, "fs_arbetsloshet_otillracklig_ersattning")],
        ]),
        also: &[],
        each: &[],
        checked: true,
    },
    Identity {
        says: "recipients by reason restate the reason's measure (`fs_mottagare`, orsak = r equals `fs_<r>`, total)",
        total: &[
            (Field::Matt, "fs_mottagare"),
            (Field::Dimension, "orsak"),
            (Field::Kategori, "{}"),
        ],
        parts: Parts::Cells(&[&[
            (Field::Matt, "fs_{}"),
            (Field::Dimension, "total"),
            (Field::Kategori, "total"),
        ]]),
        also: &[],
        each: REASONS,
        checked: true,
    },
    Identity {
        says: "målgrupp (sum), 16-24 = AF inskrivna 16-24 + KAA inskrivna 16-20",
        total: &[(Field::Matt, "malgrupp_summa"), (Field::Alder, "16-24")],
        parts: Parts::Cells(&[
            &[(Field::Matt, "af_inskrivna"), (Field::Alder, "16-24")],
            &[(Field::Matt, "kaa_inskrivna"), (Field::Alder, "16-20")],
        ]),
        also: &[],
        each: &[],
        checked: true,
    },
    Identity {
        says: "målgrupp, the parts added up = AF inskrivna + KAA without known activity + unemployed försörjningsstöd outside AF",
        total: &[(Field::Matt, "malgrupp_delar_summa")],
        parts: Parts::Cells(&[
            &[(Field::Matt, "af_inskrivna")],
            &[(Field::Matt, "malgrupp_kaa_ingen_okand")],
            &[(Field::Matt, "malgrupp_fs_arbetsloshet_ej_af")],
        ]),
        also: &[],
        each: &[],
        checked: true,
    },
    Identity {
        says: "målgrupp, the parts added up = unduplicated persons + the overlap counted twice",
        total: &[(Field::Matt, "malgrupp_delar_summa")],
        parts: Parts::Cells(&[
            &[(Field::Matt, "malgrupp_unik")],
            &[(Field::Matt, "malgrupp_overlapp")],
        ]),
        also: &[],
        each: &[],
        checked: true,
    },
    Identity {
        says: "follow-up: exits = the sum of exits by code (`avslut` = Σ `avslut_<kod>`)",
        total: &[(Field::Matt, "avslut")],
        parts: Parts::Cells(&[
            &[(Field::Matt, "avslut_klar")],
            &[(Field::Matt, "avslut_avbruten")],
            &[(Field::Matt, "avslut_arbete")],
            &[(Field::Matt, "avslut_subventionerat_arbete")],
            &[(Field::Matt, "avslut_studier")],
            &[(Field::Matt, "avslut_sjukdom")],
            &[(Field::Matt, "avslut_annan_insats")],
            &[(Field::Matt, "avslut_eget_foretag")],
            &[(Field::Matt, "avslut_annan")],
            &[(Field::Matt, "avslut_okand")],
        ]),
        also: &[],
        each: &[],
        checked: true,
    },
    Identity {
        says: "follow-up: exits = exits without a transition + transitions to another insats",
        total: &[(Field::Matt, "avslut")],
        parts: Parts::Cells(&[
            &[(Field::Matt, "avslut_utan_overgang")],
            &[(Field::Matt, "avslut_annan_insats")],
        ]),
        also: &[],
        each: &[],
        checked: true,
    },
    Identity {
        says: "follow-up: reached at six months = the sum of the statuses, per half-year",
        total: &[(Field::Matt, "sex_man_nadda_{}")],
        parts: Parts::Cells(&[
            &[(Field::Matt, "sex_man_{}_arbete")],
            &[(Field::Matt, "sex_man_{}_program_inom_kommunen")],
            &[(Field::Matt, "sex_man_{}_program_utanfor_kommunen")],
            &[(Field::Matt, "sex_man_{}_sjukskriven")],
            &[(Field::Matt, "sex_man_{}_studier_ej_kommunala")],
            &[(Field::Matt, "sex_man_{}_vuxenutbildning")],
            &[(Field::Matt, "sex_man_{}_pension")],
            &[(Field::Matt, "sex_man_{}_annat")],
            &[(Field::Matt, "sex_man_{}_arbetslos")],
        ]),
        also: &[],
        each: &["H1", "H2"],
        checked: true,
    },
    Identity {
        says: "follow-up: the age classes sum to all ages",
        total: &[(Field::Alder, "alla")],
        parts: Parts::Cells(&[
            &[(Field::Alder, "under 18")],
            &[(Field::Alder, "18-24")],
            &[(Field::Alder, "25+")],
        ]),
        also: &[],
        each: &[],
        checked: true,
    },
];

/// The list as docs/figures.md prints it: one bullet per identity, with the fields its
/// total fixes (everything else is free).
pub fn markdown() -> String {
    let mut out = String::new();
    for identity in IDENTITIES {
        let fixed: Vec<String> = identity
            .total
            .iter()
            .map(|(f, v)| format!("{} = {}", f.name(), v.replace("{}", "…")))
            .collect();
        let scope = if fixed.is_empty() {
            String::new()
        } else {
            format!(" (total: {})", fixed.join(", "))
        };
        let checked = if identity.checked { "" } else { "; always" };
        out.push_str(&format!("- {}{scope}{checked}\n", identity.says));
    }
    out
}
