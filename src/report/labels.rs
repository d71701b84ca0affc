//! Swedish labels and sort orders for the report's codes (measures,
//! breakdowns, categories, ages, periods) and the Swedish number formats.
//!
//! Unknown codes fall back to the code itself and sort after the known ones,
//! alphabetically, so a new measure or category still shows up.

/// Known measures in report order, with their Swedish labels.
const MEASURES: &[(&str, &str)] = &[
    ("malgrupp_summa", "Målgruppen, summa över källor"),
    ("malgrupp_kaa_ingen_okand", "KAA utan känd sysselsättning"),
    (
        "malgrupp_fs_arbetsloshet_ej_af",
        "Försörjningsstöd, arbetslösa ej inskrivna vid AF",
    ),
    ("malgrupp_delar_summa", "Summa: AF inskrivna + de två ovan"),
    (
        "malgrupp_overlapp",
        "– personer i både KAA och försörjningsstöd",
    ),
    ("malgrupp_unik", "Målgruppen, unika personer"),
    ("kaa_inskrivna", "Inskrivna i aktivitetsansvaret"),
    ("kaa_planerad_avregistrering", "Planerad avregistrering"),
    ("fs_mottagare", "Mottagare av försörjningsstöd"),
    ("fs_arbetsloshet", "Orsak: arbetslöshet"),
    (
        "fs_arbetsloshet_endast_fs",
        "Arbetslöshet, endast försörjningsstöd",
    ),
    (
        "fs_arbetsloshet_otillracklig_ersattning",
        "Arbetslöshet, otillräcklig ersättning",
    ),
    (
        "fs_arbetsloshet_vantar_ersattning",
        "Arbetslöshet, väntar på ersättning",
    ),
    ("fs_ohalsa", "Orsak: ohälsa"),
    ("fs_sociala_skal", "Orsak: sociala skäl"),
    ("fs_otillracklig_inkomst", "Orsak: otillräcklig inkomst"),
    ("fs_annan", "Orsak: annan"),
    ("af_inskrivna", "Inskrivna vid Arbetsförmedlingen"),
    ("af_oppet_arbetslosa", "Öppet arbetslösa"),
    ("af_arbetslosa_i_program", "Arbetslösa i program"),
    (
        "af_inskrivna_arbetslosa",
        "Inskrivna arbetslösa (öppet arbetslösa och i program)",
    ),
    ("af_samtliga_inskrivna", "Samtliga inskrivna"),
    ("af_med_insats", "Sökande i program med insats"),
    ("af_deltidsarbetslosa", "Deltidsarbetslösa"),
    (
        "af_deltid_tim_utan_insats",
        "Deltids- och timanställda utan insats",
    ),
    ("af_ej_till_forfogande", "Ej till förfogande för arbete"),
    ("af_funktionshinderkod", "Med kod för funktionsnedsättning"),
    ("timanstallda", "Timanställda i kommunen"),
    ("befolkning", "Folkmängd"),
    ("uvas", "Unga som varken arbetar eller studerar (UVAS)"),
    (
        "ak9_behoriga_yrkesprogram",
        "Elever i åk 9 behöriga till yrkesprogram",
    ),
    ("gy_examen_3ar", "Gymnasieelever med examen inom 3 år"),
    ("deltagare", "Deltagare"),
    ("avslut", "Avslut"),
    (
        "avslut_utan_overgang",
        "Avslut utan övergång till annan insats",
    ),
    ("avslut_annan_insats", "Avslut: övergång till annan insats"),
    ("avslut_arbete", "Avslut: arbete"),
    (
        "avslut_subventionerat_arbete",
        "Avslut: subventionerat arbete",
    ),
    ("avslut_studier", "Avslut: studier"),
    ("avslut_eget_foretag", "Avslut: eget företag"),
    (
        "avslut_annan",
        "Avslut: annan orsak (myndighet, flytt, byte av anordnare)",
    ),
    ("avslut_klar", "Avslut: klar enligt plan"),
    ("avslut_avbruten", "Avslut: avbruten"),
    ("avslut_sjukdom", "Avslut: sjukdom"),
    ("avslut_okand", "Avslut: okänd orsak"),
    (
        "sex_man_avslutade_H1",
        "Sex månader efter: avslutade första halvåret",
    ),
    (
        "sex_man_uppfoljda_H1",
        "Sex månader efter: följda upp, första halvåret",
    ),
    (
        "sex_man_nadda_H1",
        "Sex månader efter: nådda, första halvåret",
    ),
    (
        "sex_man_avslutade_H2",
        "Sex månader efter: avslutade andra halvåret",
    ),
    (
        "sex_man_uppfoljda_H2",
        "Sex månader efter: följda upp, andra halvåret",
    ),
    (
        "sex_man_nadda_H2",
        "Sex månader efter: nådda, andra halvåret",
    ),
    (
        "sex_man_status_H1",
        "Sex månader efter: status, första halvåret",
    ),
    (
        "sex_man_status_H2",
        "Sex månader efter: status, andra halvåret",
    ),
    ("avslut_andel", "Avslut: andel av avslut utan övergång"),
    ("anordnare_insatser", "Anordnare: insatser"),
    ("anordnare_andel_lyckade", "Anordnare: andel lyckade avslut"),
    ("anordnare_deltagare", "Anordnare: deltagare"),
    ("anordnare_startade", "Anordnare: startade"),
    ("anordnare_avslutade", "Anordnare: avslutade"),
    ("anordnare_till_arbete", "Anordnare: avslutade till arbete"),
    (
        "anordnare_till_studier",
        "Anordnare: avslutade till studier",
    ),
    (
        "anordnare_till_eget_foretag",
        "Anordnare: avslutade till eget företag",
    ),
    ("faktaruta_deltagare", "Faktaruta: deltagare"),
    ("faktaruta_i_arbete", "Faktaruta: i arbete"),
    ("faktaruta_i_studier", "Faktaruta: i studier"),
    (
        "faktaruta_planerade_avbrott",
        "Faktaruta: planerade avbrott",
    ),
    (
        "faktaruta_oplanerade_avbrott",
        "Faktaruta: oplanerade avbrott",
    ),
    ("faktaruta_kvar", "Faktaruta: kvar i insatsen"),
];

/// Known breakdowns in report order.
const DIMENSIONS: &[(&str, &str)] = &[
    ("total", "Totalt"),
    ("insats", "Insats"),
    ("anordnare", "Anordnare"),
    ("aktivitet", "Aktivitet"),
    ("registreringsorsak", "Registreringsorsak"),
    ("utbildning", "Utbildningsnivå"),
    ("funktionsnedsattning", "Funktionsnedsättning"),
    ("fodelseland", "Födelseland"),
    ("inskriven_af", "Inskriven vid Arbetsförmedlingen"),
    ("orsak", "Försörjningsorsak"),
    ("forvaltning", "Förvaltning"),
];

/// Known categories in display order; "saknas"/"okand" kinds come last.
const CATEGORIES: &[(&str, &str)] = &[
    ("studier", "Studier"),
    ("arbete", "Arbete"),
    ("praktik", "Praktik"),
    ("insats", "Insats"),
    ("ingen", "Ingen aktivitet"),
    ("avbrott", "Avbrutna studier"),
    ("introduktionsprogram", "Introduktionsprogram"),
    ("studiebevis", "Studiebevis"),
    ("aldrig_studerat", "Aldrig påbörjat gymnasiet"),
    ("ej_grundskola", "Ej fullföljd grundskola"),
    ("grundskola", "Grundskola"),
    ("ingen_gymnasial", "Ingen gymnasieutbildning"),
    ("gymnasial", "Gymnasial"),
    ("eftergymnasial", "Eftergymnasial"),
    ("nej", "Ingen känd funktionsnedsättning"),
    ("fysisk", "Fysisk"),
    ("psykisk", "Psykisk"),
    ("fysisk_och_psykisk", "Fysisk och psykisk"),
    ("inrikes", "Inrikes född"),
    ("utrikes", "Utrikes född"),
    ("inskriven", "Inskriven vid AF"),
    ("ej_inskriven", "Ej inskriven vid AF"),
    ("arbetsloshet", "Arbetslöshet"),
    ("ohalsa", "Ohälsa"),
    ("sociala_skal", "Sociala skäl"),
    ("otillracklig_inkomst", "Otillräcklig inkomst"),
    ("annan", "Annan"),
    ("okand", "Okänd"),
    ("saknas", "Uppgift saknas"),
];

const MONTHS: [&str; 12] = [
    "januari",
    "februari",
    "mars",
    "april",
    "maj",
    "juni",
    "juli",
    "augusti",
    "september",
    "oktober",
    "november",
    "december",
];

fn lookup(table: &[(&str, &'static str)], code: &str) -> Option<(usize, &'static str)> {
    table
        .iter()
        .position(|(c, _)| *c == code)
        .map(|i| (i, table[i].1))
}

/// Whether `matt` is a documented measure (it has a label here and a row in
/// docs/figures.md; a test keeps the two together).
pub fn is_known_measure(matt: &str) -> bool {
    lookup(MEASURES, matt).is_some()
}

/// Every documented measure code, in report order.
pub fn known_measures() -> impl Iterator<Item = &'static str> {
    MEASURES.iter().map(|(c, _)| *c)
}

/// Swedish label of a measure code (the code itself when unknown).
pub fn measure_label(matt: &str) -> String {
    lookup(MEASURES, matt).map_or_else(|| matt.to_string(), |(_, l)| l.to_string())
}

/// Sort key of a measure: known measures in report order, then by code.
pub fn measure_order(matt: &str) -> (usize, String) {
    (
        lookup(MEASURES, matt).map_or(usize::MAX, |(i, _)| i),
        matt.to_string(),
    )
}

/// Swedish label of a breakdown name.
pub fn dimension_label(dimension: &str) -> String {
    lookup(DIMENSIONS, dimension).map_or_else(|| dimension.to_string(), |(_, l)| l.to_string())
}

/// Sort key of a breakdown name.
pub fn dimension_order(dimension: &str) -> (usize, String) {
    let index = lookup(DIMENSIONS, dimension).map_or(usize::MAX, |(i, _)| i);
    (index, dimension.to_string())
}

/// Swedish label of a category code ("total" is "Samtliga").
pub fn category_label(kategori: &str) -> String {
    if kategori == "total" {
        return "Samtliga".to_string();
    }
    lookup(CATEGORIES, kategori).map_or_else(|| kategori.to_string(), |(_, l)| l.to_string())
}

/// Sort key of a category: "total" first, known codes in table order, then by code.
pub fn category_order(kategori: &str) -> (usize, String) {
    let index = match kategori {
        "total" => 0,
        _ => lookup(CATEGORIES, kategori).map_or(usize::MAX, |(i, _)| i + 1),
    };
    (index, kategori.to_string())
}

fn parse_band(alder: &str) -> Option<(u32, u32)> {
    let (a, b) = alder.split_once('-')?;
    Some((a.trim().parse().ok()?, b.trim().parse().ok()?))
}

/// Whether `alder` is a single year of age such as "18".
pub fn is_single_age(alder: &str) -> bool {
    !alder.is_empty() && alder.bytes().all(|b| b.is_ascii_digit())
}

/// Swedish label of an age: "16–24 år", "18 år", "Åk 9".
pub fn age_label(alder: &str) -> String {
    if let Some((a, b)) = parse_band(alder) {
        format!("{a}–{b} år")
    } else if is_single_age(alder) {
        format!("{alder} år")
    } else if let Some(grade) = alder.strip_prefix("ak") {
        format!("Åk {grade}")
    } else if alder == "gy" {
        "Gymnasieelever".to_string()
    } else {
        alder.to_string()
    }
}

/// Sort key of an age: bands by start then widest first, then single ages, then others.
pub fn age_order(alder: &str) -> (u8, u32, u32, String) {
    if let Some((a, b)) = parse_band(alder) {
        (0, a, u32::MAX - b, String::new())
    } else if is_single_age(alder) {
        (1, alder.parse().unwrap_or(u32::MAX), 0, String::new())
    } else {
        (2, 0, 0, alder.to_string())
    }
}

/// Months since year 0 of a period; "YYYY" counts as mid-year (July).
pub fn period_month_index(period: &str) -> Option<i64> {
    let (year, month) = match period.split_once('-') {
        Some((y, m)) => (y.parse::<i64>().ok()?, m.parse::<i64>().ok()?),
        None => (period.parse::<i64>().ok()?, 7),
    };
    (1..=12).contains(&month).then_some(year * 12 + month - 1)
}

/// Swedish label of a period: "maj 2015", "2015".
pub fn period_label(period: &str) -> String {
    if let Some((year, month)) = period.split_once('-') {
        let name = month
            .parse::<usize>()
            .ok()
            .and_then(|m| MONTHS.get(m.wrapping_sub(1)));
        if let Some(name) = name {
            return format!("{name} {year}");
        }
    }
    period.to_string()
}

/// Integer with a thin space (U+2009) as thousands separator and a
/// typographic minus: `1234` → "1 234".
pub fn format_int(value: i64) -> String {
    let digits = value.unsigned_abs().to_string();
    let mut out = String::new();
    if value < 0 {
        out.push('−');
    }
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push('\u{2009}');
        }
        out.push(ch);
    }
    out
}

/// Number with at most one decimal and a decimal comma: 451.0 → "451", 12.25 → "12,3".
pub fn format_decimal(value: f64) -> String {
    let tenths = (value * 10.0).round();
    let whole = (tenths / 10.0).trunc();
    let rest = (tenths - whole * 10.0).abs();
    let mut out = format_int(whole as i64);
    if whole == 0.0 && tenths < 0.0 {
        out.insert(0, '−');
    }
    if rest > 0.0 {
        out.push_str(&format!(",{}", rest as i64));
    }
    out
}

/// Share 0..1 as a percentage with one decimal: 0.0962 → "9,6 %".
pub fn format_percent(share: f64) -> String {
    let tenths = (share * 1000.0).round() as i64;
    let sign = if tenths < 0 { "−" } else { "" };
    let abs = tenths.abs();
    format!("{sign}{},{}\u{a0}%", format_int(abs / 10), abs % 10)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_swedish() {
        assert_eq!(format_int(902), "902");
        assert_eq!(format_int(1234), "1\u{2009}234");
        assert_eq!(format_int(-1_234_567), "−1\u{2009}234\u{2009}567");
        assert_eq!(format_percent(0.09623386322415449), "9,6\u{a0}%");
        assert_eq!(format_percent(0.0), "0,0\u{a0}%");
        assert_eq!(format_percent(1.0), "100,0\u{a0}%");
        assert_eq!(format_decimal(451.0), "451");
        assert_eq!(format_decimal(12.25), "12,3");
        assert_eq!(format_decimal(-0.5), "−0,5");
        assert_eq!(format_decimal(-1500.0), "−1\u{2009}500");
    }

    #[test]
    fn labels_and_orders() {
        assert_eq!(
            measure_label("af_inskrivna"),
            "Inskrivna vid Arbetsförmedlingen"
        );
        assert_eq!(measure_label("nytt_matt"), "nytt_matt");
        assert!(measure_order("malgrupp_summa") < measure_order("uvas"));
        assert!(measure_order("uvas") < measure_order("nytt_matt"));
        assert_eq!(age_label("16-24"), "16–24 år");
        assert_eq!(age_label("18"), "18 år");
        assert_eq!(age_label("ak9"), "Åk 9");
        let mut ages = vec!["20", "16-19", "ak9", "16", "20-24", "16-24"];
        ages.sort_by_key(|a| age_order(a));
        assert_eq!(ages, ["16-24", "16-19", "20-24", "16", "20", "ak9"]);
        assert!(category_order("total") < category_order("gymnasial"));
        assert!(category_order("gymnasial") < category_order("saknas"));
        assert_eq!(category_label("Kost"), "Kost");
        assert_eq!(period_label("2015-05"), "maj 2015");
        assert_eq!(period_label("2015"), "2015");
        assert_eq!(period_month_index("2015-05"), Some(2015 * 12 + 4));
        assert_eq!(period_month_index("2015"), Some(2015 * 12 + 6));
        assert_eq!(period_month_index("2015-13"), None);
    }
}
