//! The försörjningsstöd register `fs_201505.csv`: its published groups and its rows.
//!
//! Each group's marginals (gender, age, education, disability, country of
//! birth, registration at Arbetsförmedlingen) are reproduced exactly; how the
//! attributes combine within a person is free, so every attribute list is
//! shuffled independently. The file also carries what a real extract carries:
//! second payments in the month and two rows the product must quarantine.

use std::io;

use crate::pool::{NumberPool, Person};
use crate::rng::SplitMix64;

pub(super) const ARBETSLOSHET: &str = "Arbetslöshet";
pub(super) const ENDAST_FS: &str = "Endast FS som inkomstkälla";
const INGEN_GYMN: &str = "Ingen gymnasial utbildning";
const GYMN: &str = "Gymnasial utbildning";
const EFTERGYMN: &str = "Eftergymnasial utbildning";
const SAKNAS: &str = "Uppgift saknas";
const FYSISK: &str = "Fysisk";
const PSYKISK: &str = "Psykisk";
const BADA: &str = "Fysisk och psykisk";
const NEJ: &str = "Nej";
const SVERIGE: &str = "Sverige";
const UTRIKES: &str = "Utrikes";
const AF_JA: &str = "J";
pub(super) const AF_NEJ: &str = "N";
/// The cause code of the row the product must reject as unknown.
const UNKNOWN_CAUSE: &str = "Okänd kod 99";

/// The register's header line.
pub(super) const HEADER: &str = "Personnr;Månad;Orsakskod;Delorsak;Inskriven AF;Utbildningsnivå;Funktionsnedsättning;Födelseland;Utbetalt belopp";
/// The register's closing line: the number of persons, not of rows.
pub(super) const TOTAL_LINE: &str = "Totalt;111;;;;;;;";
const MONTH: &str = "201505";

/// One published group of the report, with its exact marginals.
struct Group {
    orsak: &'static str,
    delorsak: &'static str,
    men: usize,
    women: usize,
    ages: &'static [(u32, usize)],
    education: &'static [(&'static str, usize)],
    disability: &'static [(&'static str, usize)],
    birth_country: &'static [(&'static str, usize)],
    registered_af: &'static [(&'static str, usize)],
}

/// The report's groups. Group 1 comes first because the KAA overlap is taken from it.
const GROUPS: [Group; 6] = [
    Group {
        orsak: ARBETSLOSHET,
        delorsak: ENDAST_FS,
        men: 15,
        women: 8,
        ages: &[(18, 1), (19, 4), (21, 5), (22, 5), (23, 2), (24, 6)],
        education: &[(INGEN_GYMN, 12), (GYMN, 9), (SAKNAS, 2)],
        disability: &[(FYSISK, 0), (PSYKISK, 3), (BADA, 1), (NEJ, 19)],
        birth_country: &[(SVERIGE, 15), (UTRIKES, 8)],
        registered_af: &[(AF_JA, 15), (AF_NEJ, 8)],
    },
    Group {
        orsak: ARBETSLOSHET,
        delorsak: "Väntar på ersättning",
        men: 2,
        women: 3,
        ages: &[(19, 1), (20, 1), (21, 1), (23, 1), (24, 1)],
        education: &[(INGEN_GYMN, 1), (GYMN, 4)],
        disability: &[(PSYKISK, 1), (NEJ, 4)],
        birth_country: &[(SVERIGE, 3), (UTRIKES, 2)],
        registered_af: &[(AF_JA, 5)],
    },
    Group {
        orsak: ARBETSLOSHET,
        delorsak: "Otillräcklig ersättning",
        men: 30,
        women: 6,
        ages: &[
            (18, 2),
            (19, 2),
            (20, 7),
            (21, 5),
            (22, 10),
            (23, 8),
            (24, 2),
        ],
        education: &[(INGEN_GYMN, 17), (GYMN, 15), (SAKNAS, 4)],
        disability: &[(FYSISK, 1), (PSYKISK, 6), (BADA, 2), (NEJ, 22), (SAKNAS, 5)],
        birth_country: &[(SVERIGE, 23), (UTRIKES, 13)],
        registered_af: &[(AF_JA, 36)],
    },
    Group {
        orsak: "Ohälsa",
        delorsak: "",
        men: 8,
        women: 6,
        ages: &[(19, 1), (20, 4), (21, 3), (22, 3), (23, 2), (24, 1)],
        education: &[(INGEN_GYMN, 5), (GYMN, 3), (SAKNAS, 6)],
        disability: &[(FYSISK, 1), (PSYKISK, 11), (SAKNAS, 2)],
        birth_country: &[(SVERIGE, 11), (UTRIKES, 3)],
        // The report leaves registration free here; a plausible mix.
        registered_af: &[(AF_JA, 6), (AF_NEJ, 8)],
    },
    Group {
        orsak: "Sociala skäl",
        delorsak: "",
        men: 8,
        women: 5,
        ages: &[
            (18, 3),
            (19, 1),
            (20, 2),
            (21, 2),
            (22, 2),
            (23, 2),
            (24, 1),
        ],
        education: &[(INGEN_GYMN, 11), (SAKNAS, 2)],
        disability: &[(PSYKISK, 6), (NEJ, 2), (SAKNAS, 5)],
        birth_country: &[(SVERIGE, 10), (UTRIKES, 3)],
        registered_af: &[(AF_JA, 4), (AF_NEJ, 9)],
    },
    Group {
        // Only size and gender are published for this group; the rest is a plausible mix.
        orsak: "Annan orsak",
        delorsak: "",
        men: 5,
        women: 15,
        ages: &[
            (18, 2),
            (19, 3),
            (20, 3),
            (21, 3),
            (22, 3),
            (23, 3),
            (24, 3),
        ],
        education: &[(INGEN_GYMN, 6), (GYMN, 9), (EFTERGYMN, 2), (SAKNAS, 3)],
        disability: &[(FYSISK, 1), (PSYKISK, 4), (NEJ, 12), (SAKNAS, 3)],
        birth_country: &[(SVERIGE, 13), (UTRIKES, 7)],
        registered_af: &[(AF_JA, 9), (AF_NEJ, 11)],
    },
];

/// How many group-1 persons are also in the KAA register.
pub(super) const KAA_OVERLAP: usize = 3;
/// How many group-3 persons get a second payment row in the month.
const SECOND_PAYMENTS: usize = 4;

/// One row of the register.
#[derive(Clone)]
struct Row {
    number: String,
    orsak: &'static str,
    delorsak: &'static str,
    registered_af: &'static str,
    education: &'static str,
    disability: &'static str,
    birth_country: &'static str,
    /// Amount paid, in öre.
    amount: u32,
}

impl Row {
    fn line(&self) -> String {
        format!(
            "{};{MONTH};{};{};{};{};{};{};{}",
            self.number,
            self.orsak,
            self.delorsak,
            self.registered_af,
            self.education,
            self.disability,
            self.birth_country,
            format_amount(self.amount)
        )
    }
}

/// The built register: its text and who of it the KAA register shares.
pub(super) struct Register {
    pub(super) text: String,
    /// Group-1 persons aged 18–19 not registered at Arbetsförmedlingen.
    pub(super) kaa_overlap: Vec<Person>,
}

/// Builds the register, drawing its persons from `pool`.
pub(super) fn build(rng: &mut SplitMix64, pool: &mut NumberPool) -> io::Result<Register> {
    let mut rows: Vec<Row> = Vec::new();
    let mut kaa_overlap = Vec::new();
    let mut group3 = Vec::new();
    for (index, group) in GROUPS.iter().enumerate() {
        let size = group.men + group.women;
        let women = rng.shuffled(&[(false, group.men), (true, group.women)]);
        let mut ages = rng.shuffled(group.ages);
        let mut education = rng.shuffled(group.education);
        let disability = rng.shuffled(group.disability);
        let birth_country = rng.shuffled(group.birth_country);
        let mut registered_af = rng.shuffled(group.registered_af);
        for (what, len) in [
            ("ages", ages.len()),
            ("education", education.len()),
            ("disability", disability.len()),
            ("birth country", birth_country.len()),
            ("registration", registered_af.len()),
        ] {
            if len != size {
                return Err(io::Error::other(format!(
                    "group {} {what} sums to {len}, not {size}",
                    index + 1
                )));
            }
        }
        if index == 0 {
            // The KAA overlap must be young enough for KAA (under 20) and
            // not at Arbetsförmedlingen: put such persons first.
            bring_to_front(&mut ages, KAA_OVERLAP, |&age| age <= 19)?;
            bring_to_front(&mut registered_af, KAA_OVERLAP, |&af| af == AF_NEJ)?;
        }
        // A post-secondary degree before 21 would stand out in a demo.
        pair_old_enough(&ages, &mut education, EFTERGYMN, 21)?;
        for i in 0..size {
            let person = pool.take(ages[i], women[i], |_| true)?;
            if index == 0 && i < KAA_OVERLAP {
                kaa_overlap.push(person.clone());
            }
            if index == 2 {
                group3.push(rows.len());
            }
            rows.push(Row {
                number: person.number,
                orsak: group.orsak,
                delorsak: group.delorsak,
                registered_af: registered_af[i],
                education: education[i],
                disability: disability[i],
                birth_country: birth_country[i],
                amount: amount(rng),
            });
        }
    }

    // Extra rows are chosen before shuffling, by person, and inserted after it.
    rng.shuffle(&mut group3);
    let mut extra: Vec<Row> = Vec::new();
    for &at in group3.iter().take(SECOND_PAYMENTS) {
        let mut second = rows[at].clone();
        while second.amount == rows[at].amount {
            second.amount = amount(rng);
        }
        extra.push(second);
    }
    // (a) A copy of someone's row whose number no longer passes the Luhn check:
    // taken from groups 4–6 so it cannot touch the overlap or the second payments.
    let first_free = GROUPS[..3].iter().map(|g| g.men + g.women).sum::<usize>();
    let source = first_free + rng.below(rows.len() - first_free);
    let mut broken = rows[source].clone();
    broken.number = break_check_digit(&broken.number);
    extra.push(broken);
    // (b) A further person with a cause code the product does not know.
    let age = rng.between(18, 24);
    let woman = rng.below(2) == 1;
    let stranger = pool.take(age, woman, |_| true)?;
    extra.push(Row {
        number: stranger.number,
        orsak: UNKNOWN_CAUSE,
        delorsak: "",
        registered_af: AF_NEJ,
        education: GYMN,
        disability: NEJ,
        birth_country: SVERIGE,
        amount: amount(rng),
    });

    rng.shuffle(&mut rows);
    for row in extra {
        let at = rng.below(rows.len() + 1);
        rows.insert(at, row);
    }

    let mut text = String::new();
    for line in std::iter::once(HEADER.to_owned())
        .chain(rows.iter().map(Row::line))
        .chain(std::iter::once(TOTAL_LINE.to_owned()))
    {
        text.push_str(&line);
        text.push_str("\r\n");
    }
    Ok(Register { text, kaa_overlap })
}

/// A monthly payment between 800,00 and 9 800,00 kronor, in whole 50 öre.
fn amount(rng: &mut SplitMix64) -> u32 {
    rng.between(1_600, 19_600) * 50
}

/// `4 312,50` with a no-break space as thousands separator, as the
/// municipal system exports it (byte 0xA0 in Windows-1252).
fn format_amount(ore: u32) -> String {
    let kronor = ore / 100;
    let ore = ore % 100;
    if kronor >= 1000 {
        format!("{}\u{a0}{:03},{ore:02}", kronor / 1000, kronor % 1000)
    } else {
        format!("{kronor},{ore:02}")
    }
}

/// The same number with its last digit changed: any change breaks the Luhn check.
fn break_check_digit(number: &str) -> String {
    let (body, last) = number.split_at(number.len() - 1);
    let digit = last.parse::<u32>().unwrap_or(0);
    format!("{body}{}", (digit + 1) % 10)
}

/// Moves the first `count` items matching `wanted` to the front, keeping order otherwise.
fn bring_to_front<T>(
    items: &mut Vec<T>,
    count: usize,
    wanted: impl Fn(&T) -> bool,
) -> io::Result<()> {
    let mut front = Vec::with_capacity(items.len());
    let mut rest = Vec::new();
    for item in items.drain(..) {
        if front.len() < count && wanted(&item) {
            front.push(item);
        } else {
            rest.push(item);
        }
    }
    if front.len() < count {
        return Err(io::Error::other("too few items to bring to the front"));
    }
    front.extend(rest);
    *items = front;
    Ok(())
}

/// Swaps `value` in `attribute` onto persons aged at least `min_age`, keeping the marginal.
fn pair_old_enough(
    ages: &[u32],
    attribute: &mut [&'static str],
    value: &str,
    min_age: u32,
) -> io::Result<()> {
    for i in 0..attribute.len() {
        if attribute[i] == value && ages[i] < min_age {
            let partner = (0..attribute.len())
                .find(|&j| ages[j] >= min_age && attribute[j] != value)
                .ok_or_else(|| io::Error::other(format!("nobody old enough for {value}")))?;
            attribute.swap(i, partner);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_use_no_break_space_and_decimal_comma() {
        assert_eq!(format_amount(431_250), "4\u{a0}312,50");
        assert_eq!(format_amount(80_000), "800,00");
        assert_eq!(format_amount(980_000), "9\u{a0}800,00");
        assert_eq!(format_amount(100_005), "1\u{a0}000,05");
    }

    #[test]
    fn broken_number_differs_only_in_the_last_digit() {
        assert_eq!(break_check_digit("199101142397"), "199101142398");
        assert_eq!(break_check_digit("199101152389"), "199101152380");
    }

    #[test]
    fn front_and_pairing_keep_the_multiset() {
        let mut items = vec![5, 1, 7, 2, 9];
        bring_to_front(&mut items, 2, |&v| v > 6).expect("two such items");
        assert_eq!(items, vec![7, 9, 5, 1, 2]);
        assert!(bring_to_front(&mut items, 3, |&v| v > 6).is_err());

        let ages = [18, 25, 19, 30];
        let mut attr = ["x", "y", "y", "x"];
        pair_old_enough(&ages, &mut attr, "x", 21).expect("someone old enough");
        assert_eq!(attr, ["y", "x", "y", "x"]);
    }
}
