//! The identities of the long kartläggning: one declarative list ([`IDENTITIES`]) of which
//! published cells add up to which, and its application to a table's cells as the
//! additivity [`Constraint`]s secondary suppression must respect.
//!
//! Every identity is applied to *every* combination of the fields it leaves free (kön,
//! ålder, dimension, kategori, measure) where its cells exist — an attacker subtracts
//! wherever the equation holds, not only in the slices a report shows. docs/figures.md
//! prints the same list ([`markdown`]); a test keeps the two equal.

use std::collections::{BTreeMap, HashMap};

use super::cells::Cell;
use super::suppression::Constraint;

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
    fn index(self) -> usize {
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
type Fixed = &'static [(Field, &'static str)];

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

/// kommun, period, matt, kon, alder, dimension, kategori.
type Key<'a> = [&'a str; 7];

fn key(c: &Cell) -> Key<'_> {
    std::array::from_fn(|i| c.keys[i].as_str())
}

/// `value` with `{}` replaced by `each` (when there is one).
fn fill(value: &str, each: Option<&str>) -> String {
    match each {
        Some(e) => value.replace("{}", e),
        None => value.to_string(),
    }
}

/// `fixed` applied to `base`, owned.
fn replaced(base: Key<'_>, fixed: Fixed, each: Option<&str>) -> [String; 7] {
    let mut k: [String; 7] = base.map(str::to_string);
    for (f, v) in fixed {
        k[f.index()] = fill(v, each);
    }
    k
}

/// The additivity constraints of `cells` (one kommun and period, or more: keys include
/// both), from every identity of [`IDENTITIES`] wherever its cells exist. Ordered the
/// same on every run, so the suppression chosen is too.
pub fn constraints(cells: &[Cell]) -> Vec<Constraint> {
    let index: HashMap<Key<'_>, usize> =
        cells.iter().enumerate().map(|(i, c)| (key(c), i)).collect();
    let find = |k: &[String; 7]| index.get(&std::array::from_fn(|i| k[i].as_str())).copied();
    let holds = |total: usize, parts: &[usize]| -> bool {
        let parts: Option<Vec<i64>> = parts.iter().map(|p| cells[*p].antal).collect();
        matches!((cells[total].antal, parts), (Some(t), Some(ps)) if !ps.is_empty() && ps.iter().sum::<i64>() == t)
    };
    // A breakdown's categories, per (kommun, period, matt, kon, alder) and dimension;
    // ordered, as a HashMap's order changes from process to process.
    let mut breakdowns: BTreeMap<([&str; 5], &str), Vec<usize>> = BTreeMap::new();
    for (i, c) in cells.iter().enumerate() {
        let k = key(c);
        if k[5] != "total" {
            breakdowns
                .entry(([k[0], k[1], k[2], k[3], k[4]], k[5]))
                .or_default()
                .push(i);
        }
    }
    let mut out = Vec::new();
    for identity in IDENTITIES {
        let instances: Vec<Option<&str>> = if identity.each.is_empty() {
            vec![None]
        } else {
            identity.each.iter().map(|e| Some(*e)).collect()
        };
        for each in instances {
            for (i, c) in cells.iter().enumerate() {
                // An unknown Kolada value is a share without a count, not a cell of a sum.
                if c.antal.is_none() && c.keys[8] == "kolada" {
                    continue;
                }
                let k = key(c);
                if !identity
                    .total
                    .iter()
                    .all(|(f, v)| k[f.index()] == fill(v, each))
                {
                    continue;
                }
                // Each family of parts, and whether it must be checked against the data.
                let families: Vec<(Vec<usize>, bool)> = match identity.parts {
                    // A part may be absent (a row that is absent is empty): the rest
                    // are used when the data confirm they add up — also for an identity
                    // that holds by construction (T = M where no K row exists), which
                    // with all its parts present is used unchecked.
                    Parts::Cells(parts) => {
                        let found: Vec<Option<usize>> =
                            parts.iter().map(|p| find(&replaced(k, p, each))).collect();
                        let complete = found.iter().all(Option::is_some);
                        let also = identity.also.iter().map(|p| find(&replaced(k, p, each)));
                        vec![(
                            found.into_iter().chain(also).flatten().collect(),
                            identity.checked || !complete,
                        )]
                    }
                    Parts::Categories => breakdowns
                        .range(([k[0], k[1], k[2], k[3], k[4]], "")..)
                        .take_while(|((head, _), _)| *head == [k[0], k[1], k[2], k[3], k[4]])
                        .map(|(_, parts)| (parts.clone(), identity.checked))
                        .collect(),
                };
                for (parts, checked) in families {
                    if !parts.is_empty() && (!checked || holds(i, &parts)) {
                        out.push(Constraint { total: i, parts });
                    }
                }
            }
        }
    }
    out
}

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::publish::cells::Cell;

    fn cell(matt: &str, kon: &str, alder: &str, dim: &str, kat: &str, antal: i64) -> Cell {
        let keys = ["0880", "2015-05", matt, kon, alder, dim, kat, "ok", "x"].map(String::from);
        Cell {
            keys,
            antal: Some(antal),
            befolkning: None,
            andel_kalla: None,
        }
    }

    fn pairs(cells: &[Cell]) -> Vec<(usize, Vec<usize>)> {
        constraints(cells)
            .into_iter()
            .map(|c| (c.total, c.parts))
            .collect()
    }

    #[test]
    fn constraints_come_out_in_the_same_order_every_time() {
        // Many breakdowns, so an unordered map would shuffle them between calls.
        let mut cells = Vec::new();
        for d in 0..12 {
            for kon in ["K", "M", "T"] {
                let n = if kon == "T" { 2 } else { 1 };
                cells.push(cell("m", kon, "16-24", &format!("d{d}"), "a", 3 * n));
                cells.push(cell("m", kon, "16-24", &format!("d{d}"), "b", 4 * n));
            }
        }
        for (kon, n) in [("K", 7), ("M", 7), ("T", 14)] {
            cells.push(cell("m", kon, "16-24", "total", "total", n));
        }
        let first = pairs(&cells);
        assert!(
            first.len() > 36,
            "kön and breakdown constraints: {}",
            first.len()
        );
        for _ in 0..5 {
            assert_eq!(pairs(&cells), first);
        }
    }

    #[test]
    fn measure_identities_hold_at_every_age_and_in_every_breakdown() {
        // arbetslöshet = its sub-reasons at a single age, and within a breakdown.
        let cells = vec![
            cell("fs_arbetsloshet", "T", "20", "total", "total", 8),
            cell("fs_arbetsloshet_endast_fs", "T", "20", "total", "total", 0),
            cell(
                "fs_arbetsloshet_vantar_ersattning",
                "T",
                "20",
                "total",
                "total",
                1,
            ),
            cell(
                "fs_arbetsloshet_otillracklig_ersattning",
                "T",
                "20",
                "total",
                "total",
                7,
            ),
            cell(
                "fs_arbetsloshet",
                "T",
                "16-24",
                "fodelseland",
                "utrikes",
                23,
            ),
            cell(
                "fs_arbetsloshet_endast_fs",
                "T",
                "16-24",
                "fodelseland",
                "utrikes",
                8,
            ),
            cell(
                "fs_arbetsloshet_vantar_ersattning",
                "T",
                "16-24",
                "fodelseland",
                "utrikes",
                2,
            ),
            cell(
                "fs_arbetsloshet_otillracklig_ersattning",
                "T",
                "16-24",
                "fodelseland",
                "utrikes",
                13,
            ),
        ];
        assert_eq!(pairs(&cells), vec![(0, vec![1, 2, 3]), (4, vec![5, 6, 7])]);
    }

    #[test]
    fn an_identity_the_data_contradict_is_not_used_and_reasons_restate_their_measure() {
        let cells = vec![
            cell("fs_arbetsloshet", "T", "16-24", "total", "total", 9),
            cell(
                "fs_arbetsloshet_endast_fs",
                "T",
                "16-24",
                "total",
                "total",
                0,
            ),
            cell(
                "fs_arbetsloshet_vantar_ersattning",
                "T",
                "16-24",
                "total",
                "total",
                1,
            ),
            cell(
                "fs_arbetsloshet_otillracklig_ersattning",
                "T",
                "16-24",
                "total",
                "total",
                7,
            ),
            cell("fs_mottagare", "T", "16-24", "orsak", "arbetsloshet", 9),
        ];
        // 9 ≠ 0 + 1 + 7: not an identity of this table; the restated reason is.
        assert_eq!(pairs(&cells), vec![(4, vec![0])]);
    }

    #[test]
    fn the_documentation_prints_the_list() {
        let docs = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/figures.md"))
            .expect("docs/figures.md");
        let listed = markdown();
        assert!(
            docs.contains(&listed),
            "docs/figures.md must contain the identities exactly as `publish::constraints::markdown()` prints them:\n{listed}"
        );
    }
}
