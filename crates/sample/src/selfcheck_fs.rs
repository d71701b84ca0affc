//! Self-check of the försörjningsstöd sample register against the report's
//! group marginals; the shared parsing helpers are in `selfcheck.rs`.

use std::collections::BTreeMap;

use crate::selfcheck::{
    age_counts, age_of, ages_expect, count, crlf_lines, expect, file, is_woman, luhn_ok,
};
use crate::testpnr;

const FS_FIELDS: usize = 9;

fn fs_rows() -> Vec<Vec<String>> {
    let bytes = file("fs_201505.csv");
    assert!(bytes.contains(&0xA0), "no-break space as byte 0xA0");
    let lines = crlf_lines(&bytes);
    assert_eq!(
        lines[0],
        "Personnr;Månad;Orsakskod;Delorsak;Inskriven AF;Utbildningsnivå;Funktionsnedsättning;Födelseland;Utbetalt belopp"
    );
    assert_eq!(lines.last().map(String::as_str), Some("Totalt;111;;;;;;;"));
    assert_eq!(lines.last().map(|l| l.split(';').count()), Some(FS_FIELDS));
    lines[1..lines.len() - 1]
        .iter()
        .map(|line| {
            let fields: Vec<String> = line.split(';').map(str::to_owned).collect();
            assert_eq!(fields.len(), FS_FIELDS, "{line}");
            fields
        })
        .collect()
}

/// Parses `4 312,50` (no-break space) to öre, checking the format strictly.
fn parse_amount(text: &str) -> u32 {
    let (kronor, ore) = text.split_once(',').expect("decimal comma");
    assert_eq!(ore.len(), 2, "{text}");
    assert!(!text.contains(' '), "no plain space: {text}");
    let digits: String = kronor.chars().filter(|&c| c != '\u{a0}').collect();
    let kronor_value: u32 = digits.parse().expect("digits");
    if kronor_value >= 1000 {
        assert_eq!(
            kronor.chars().nth(kronor.len() - 5),
            Some('\u{a0}'),
            "{text}"
        );
    } else {
        assert!(!kronor.contains('\u{a0}'), "{text}");
    }
    kronor_value * 100 + ore.parse::<u32>().expect("öre digits")
}

/// The 115 accepted rows, the broken-number row and the unknown-cause row.
pub(super) fn fs_split() -> (Vec<Vec<String>>, Vec<String>, Vec<String>) {
    let rows = fs_rows();
    assert_eq!(rows.len(), 117);
    let (broken, rest): (Vec<_>, Vec<_>) = rows.into_iter().partition(|r| !luhn_ok(&r[0]));
    let (unknown, good): (Vec<_>, Vec<_>) = rest.into_iter().partition(|r| r[2] == "Okänd kod 99");
    assert_eq!(broken.len(), 1);
    assert_eq!(unknown.len(), 1);
    (good, broken[0].clone(), unknown[0].clone())
}

/// Marginals of one group: gender, ages, education, disability, birth country, AF.
struct GroupCheck {
    orsak: &'static str,
    delorsak: &'static str,
    men: usize,
    women: usize,
    ages: &'static [(u32, usize)],
    education: &'static [(&'static str, usize)],
    disability: &'static [(&'static str, usize)],
    country: &'static [(&'static str, usize)],
    af: &'static [(&'static str, usize)],
}

const GROUPS: [GroupCheck; 6] = [
    GroupCheck {
        orsak: "Arbetslöshet",
        delorsak: "Endast FS som inkomstkälla",
        men: 15,
        women: 8,
        ages: &[(18, 1), (19, 4), (21, 5), (22, 5), (23, 2), (24, 6)],
        education: &[
            ("Ingen gymnasial utbildning", 12),
            ("Gymnasial utbildning", 9),
            ("Uppgift saknas", 2),
        ],
        disability: &[("Psykisk", 3), ("Fysisk och psykisk", 1), ("Nej", 19)],
        country: &[("Sverige", 15), ("Utrikes", 8)],
        af: &[("J", 15), ("N", 8)],
    },
    GroupCheck {
        orsak: "Arbetslöshet",
        delorsak: "Väntar på ersättning",
        men: 2,
        women: 3,
        ages: &[(19, 1), (20, 1), (21, 1), (23, 1), (24, 1)],
        education: &[
            ("Ingen gymnasial utbildning", 1),
            ("Gymnasial utbildning", 4),
        ],
        disability: &[("Psykisk", 1), ("Nej", 4)],
        country: &[("Sverige", 3), ("Utrikes", 2)],
        af: &[("J", 5)],
    },
    GroupCheck {
        orsak: "Arbetslöshet",
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
        education: &[
            ("Ingen gymnasial utbildning", 17),
            ("Gymnasial utbildning", 15),
            ("Uppgift saknas", 4),
        ],
        disability: &[
            ("Fysisk", 1),
            ("Psykisk", 6),
            ("Fysisk och psykisk", 2),
            ("Nej", 22),
            ("Uppgift saknas", 5),
        ],
        country: &[("Sverige", 23), ("Utrikes", 13)],
        af: &[("J", 36)],
    },
    GroupCheck {
        orsak: "Ohälsa",
        delorsak: "",
        men: 8,
        women: 6,
        ages: &[(19, 1), (20, 4), (21, 3), (22, 3), (23, 2), (24, 1)],
        education: &[
            ("Ingen gymnasial utbildning", 5),
            ("Gymnasial utbildning", 3),
            ("Uppgift saknas", 6),
        ],
        disability: &[("Fysisk", 1), ("Psykisk", 11), ("Uppgift saknas", 2)],
        country: &[("Sverige", 11), ("Utrikes", 3)],
        af: &[],
    },
    GroupCheck {
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
        education: &[("Ingen gymnasial utbildning", 11), ("Uppgift saknas", 2)],
        disability: &[("Psykisk", 6), ("Nej", 2), ("Uppgift saknas", 5)],
        country: &[("Sverige", 10), ("Utrikes", 3)],
        af: &[],
    },
    GroupCheck {
        orsak: "Annan orsak",
        delorsak: "",
        men: 5,
        women: 15,
        ages: &[],
        education: &[],
        disability: &[],
        country: &[],
        af: &[],
    },
];

#[test]
fn fs_register_matches_the_report() {
    let (good, broken, unknown) = fs_split();
    assert_eq!(good.len(), 115);

    // Every accepted row, and the unknown-cause row, carries a test number.
    for row in good.iter().chain(std::iter::once(&unknown)) {
        assert!(testpnr::is_test_number(&row[0]), "{}", row[0]);
        assert_eq!(row[1], "201505");
        let amount = parse_amount(&row[8]);
        assert!((80_000..=980_000).contains(&amount), "{}", row[8]);
        assert!(["J", "N"].contains(&row[4].as_str()));
        assert!(["Sverige", "Utrikes"].contains(&row[7].as_str()));
        assert!(
            [
                "Ingen gymnasial utbildning",
                "Gymnasial utbildning",
                "Eftergymnasial utbildning",
                "Uppgift saknas"
            ]
            .contains(&row[5].as_str())
        );
        assert!(
            [
                "Fysisk",
                "Psykisk",
                "Fysisk och psykisk",
                "Nej",
                "Uppgift saknas"
            ]
            .contains(&row[6].as_str())
        );
        let age = age_of(&row[0]);
        assert!((18..=24).contains(&age), "{age}");
    }

    // (a) The broken row is a copy of an accepted row but for the last digit.
    assert!(!testpnr::is_test_number(&broken[0]));
    let original = good
        .iter()
        .find(|r| r[0][..11] == broken[0][..11])
        .expect("broken row copies an existing person");
    assert_eq!(original[1..], broken[1..]);
    // (b) The unknown-cause row is a further person.
    assert!(good.iter().all(|r| r[0] != unknown[0]));

    // Second payments: four group-3 persons, same attributes, other amount.
    let mut by_person: BTreeMap<&str, Vec<&Vec<String>>> = BTreeMap::new();
    for row in &good {
        by_person.entry(row[0].as_str()).or_default().push(row);
    }
    assert_eq!(by_person.len(), 111, "distinct persons");
    let twice: Vec<_> = by_person.values().filter(|rows| rows.len() > 1).collect();
    assert_eq!(twice.len(), 4);
    for rows in twice {
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0][..8], rows[1][..8]);
        assert_ne!(rows[0][8], rows[1][8]);
        assert_eq!(rows[0][3], "Otillräcklig ersättning");
    }

    let persons: Vec<&Vec<String>> = by_person.values().map(|rows| rows[0]).collect();
    assert_eq!(persons.iter().filter(|r| !is_woman(&r[0])).count(), 68);
    assert_eq!(persons.iter().filter(|r| is_woman(&r[0])).count(), 43);
    let mut seen = 0;
    for group in &GROUPS {
        let members: Vec<&&Vec<String>> = persons
            .iter()
            .filter(|r| r[2] == group.orsak && r[3] == group.delorsak)
            .collect();
        let name = format!("{} / {}", group.orsak, group.delorsak);
        assert_eq!(members.len(), group.men + group.women, "{name}");
        seen += members.len();
        assert_eq!(
            members.iter().filter(|r| is_woman(&r[0])).count(),
            group.women,
            "{name}"
        );
        let column = |i: usize| count(members.iter().map(|r| r[i].as_str()));
        let ages = age_counts(members.iter().map(|r| r[0].as_str()));
        if group.ages.is_empty() {
            assert!(ages.len() >= 5, "{name}: ages spread {ages:?}");
        } else {
            assert_eq!(ages, ages_expect(group.ages), "{name}");
        }
        for (i, expected) in [
            (5, group.education),
            (6, group.disability),
            (7, group.country),
            (4, group.af),
        ] {
            if !expected.is_empty() {
                assert_eq!(column(i), expect(expected), "{name} column {i}");
            }
        }
        if group.delorsak.is_empty() {
            assert!(members.iter().all(|r| r[2] != "Arbetslöshet"));
        }
    }
    assert_eq!(seen, 111, "every person is in exactly one group");
}
