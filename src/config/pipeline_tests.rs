//! Tests of pipeline validation.
use super::*;

const GOOD: &str = r#"
target = "forsorjningsstod"
[source]
type = "file"
path = "samples/x/*.csv"
[format]
type = "csv"
encoding = "windows-1252"
[fields]
personnummer = "Personnr"
kommun = { constant = "0880" }
period = { file_name = 'fs_(\d{4})(\d{2})', template = "$1-$2" }
orsak = { column = "Orsakskod", values = { "Arbetslöshet" = "arbetsloshet" } }
"#;

#[test]
fn a_good_file_validates() {
    let p = Pipeline::from_toml(Path::new("pipelines/kalmar_fs.toml"), GOOD).expect("valid");
    assert_eq!(p.name, "kalmar_fs");
    assert_eq!(p.target.name, "forsorjningsstod");
    assert_eq!(p.fields.first().map(|f| f.field.name), Some("kommun"));
}

#[test]
fn every_problem_is_reported_at_once() {
    let bad = GOOD
        .replace("\"0880\"", "\"0999\"")
        .replace("\"arbetsloshet\"", "\"unemployed\"")
        .replace("encoding = \"windows-1252\"", "encoding = \"klingon\"")
        .replace("orsak =", "orsk =");
    let err = Pipeline::from_toml(Path::new("pipelines/bad.toml"), &bad).expect_err("invalid");
    let text = err.to_string();
    for needle in [
        "fields.kommun.constant",
        "format.encoding",
        "fields.orsk",
        "fields.orsak",
    ] {
        assert!(text.contains(needle), "missing {needle} in:\n{text}");
    }
    // A trailer pattern without trailing rows, with a group other than `rows`, or broken.
    for (pattern, needle) in [
        ("'^Totalt'", "skip_trailing_rows is 0"),
        ("'^Totalt (?<n>[0-9]+)'", "only named group"),
        ("'^Totalt ('", "not a valid regular expression"),
    ] {
        let bad = GOOD.replace(
            "encoding = \"windows-1252\"",
            &format!("encoding = \"windows-1252\"\ntrailing_row_matches = {pattern}"),
        );
        let text = Pipeline::from_toml(Path::new("pipelines/bad.toml"), &bad)
            .expect_err("invalid trailer")
            .to_string();
        assert!(
            text.contains("format.trailing_row_matches") && text.contains(needle),
            "{text}"
        );
    }
    let bad3 = GOOD.replace("\"0880\" }", "\"0880\", max_days_ahead = 5 }");
    let text = Pipeline::from_toml(Path::new("pipelines/bad3.toml"), &bad3)
        .expect_err("not a date")
        .to_string();
    assert!(
        text.contains("fields.kommun.max_days_ahead") && text.contains("only for date fields"),
        "{text}"
    );
    let bad2 = GOOD.replace("\"0880\"", "\"0880\", colum = 'x'");
    let text = Pipeline::from_toml(Path::new("pipelines/bad2.toml"), &bad2)
        .expect_err("typo")
        .to_string();
    assert!(text.contains("unknown field `colum`"), "{text}");
}

#[test]
fn credentials_must_come_from_the_environment() {
    let http = GOOD.replace(
        "type = \"file\"\npath = \"samples/x/*.csv\"",
        "type = \"http\"\nurl = \"https://example.invalid/x.csv\"\nheaders = { Authorization = { value = \"Bearer abc\" } }",
    );
    let text = Pipeline::from_toml(Path::new("pipelines/h.toml"), &http)
        .expect_err("literal secret")
        .to_string();
    assert!(text.contains("source.headers.Authorization"), "{text}");
}

#[test]
fn cell_refs() {
    assert_eq!(parse_cell_ref("A1"), Some((0, 0)));
    assert_eq!(parse_cell_ref("c12"), Some((11, 2)));
    assert_eq!(parse_cell_ref("AA3"), Some((2, 26)));
    assert_eq!(parse_cell_ref("A0"), None);
    assert_eq!(parse_cell_ref("12"), None);
}

#[test]
fn operational_sections_validate_and_report_every_problem() {
    let good = format!(
        "{GOOD}\n[schedule]\ncron = \"30 2 * * *\"\ncatch_up = \"all\"\ncatch_up_max = 3\n[retry]\nattempts = 1\nbackoff_secs = 5\n[freshness]\ncadence = \"monthly\"\ndue_after_days = 10\n[checks]\nmin_rows = 1\nrow_count_ratio = [0.5, 2.0]\nrequired_values = {{ orsak = [\"arbetsloshet\"] }}\n"
    );
    let p = Pipeline::from_toml(Path::new("pipelines/kalmar_fs.toml"), &good).expect("valid");
    let spec = p.schedule.expect("scheduled");
    assert_eq!(spec.catch_up, crate::schedule::CatchUp::All { cap: 3 });
    assert_eq!(spec.schedule.tz(), chrono_tz::Europe::Stockholm);
    assert_eq!(p.retry.attempts, 1);
    assert_eq!(p.checks.row_count_ratio, Some((0.5, 2.0)));

    let bad = good
        .replace(
            "cron = \"30 2 * * *\"",
            "cron = \"61 2 * *\"\ntimezone = \"Europe/Stokholm\"",
        )
        .replace("catch_up = \"all\"", "catch_up = \"sometimes\"")
        .replace("cadence = \"monthly\"", "cadence = \"weekly\"")
        .replace("[0.5, 2.0]", "[2.0, 0.5]")
        .replace("{ orsak =", "{ nope =")
        .replace("backoff_secs = 5", "backoff_secs = 5\nmax_backoff_secs = 1");
    let err = Pipeline::from_toml(Path::new("pipelines/bad.toml"), &bad).expect_err("invalid");
    let text = err.to_string();
    for needle in [
        "unknown time zone \"Europe/Stokholm\"",
        "schedule.cron: invalid cron expression \"61 2 * *\"",
        "schedule.catch_up: 'sometimes'",
        "freshness.cadence: 'weekly'",
        "checks.row_count_ratio",
        "checks.required_values.nope",
        "retry.max_backoff_secs",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in {text}");
    }
}

/// A provider's register keyed by a customer id: accepted on `deltagare` only, with a
/// kind, never beside a personnummer; kön and birth year only beside it.
#[test]
fn a_person_key_other_than_personnummer_is_checked_at_config_time() {
    let deltagare = r#"
target = "deltagare"
[source]
type = "file"
path = "samples/x/*.csv"
[format]
type = "csv"
[fields]
kommun = { constant = "0880" }
period = { constant = "2015" }
personnyckel = { column = "Kund-id", kind = "kund_id/jobbverket" }
fodelsear = "Födelseår"
kon = { column = "Kön", values = { "Kvinna" = "K", "Man" = "M" } }
insats = "Insats"
startdatum = "Start"
"#;
    let path = Path::new("pipelines/provider.toml");
    let p = Pipeline::from_toml(path, deltagare).expect("a customer id on deltagare is valid");
    assert!(p.warnings().is_empty(), "{:?}", p.warnings());
    // Without kön and birth year the register is valid, and check says what follows.
    let bare = deltagare
        .replace("fodelsear = \"Födelseår\"\n", "")
        .replace(
            "kon = { column = \"Kön\", values = { \"Kvinna\" = \"K\", \"Man\" = \"M\" } }\n",
            "",
        );
    let warnings = Pipeline::from_toml(path, &bare)
        .expect("valid")
        .warnings()
        .join("\n");
    assert!(
        warnings.contains("without fields.kon") && warnings.contains("without fields.fodelsear"),
        "{warnings}"
    );
    let key = p.fields.iter().find(|m| m.field.name == "personnyckel");
    assert_eq!(
        key.and_then(|m| m.kind.as_deref()),
        Some("kund_id/jobbverket")
    );
    for (change, at, needle) in [
        // Without a kind the pseudonyms of two issuers' ids could collide.
        (
            (", kind = \"kund_id/jobbverket\"", ""),
            "fields.personnyckel.kind",
            "say what the identifier is",
        ),
        (
            ("kund_id/jobbverket", "Kund ID"),
            "fields.personnyckel.kind",
            "is not a kind of identifier",
        ),
        // Both keys: a person has one.
        (
            ("fodelsear =", "personnummer = \"Pnr\"\nfodelsear ="),
            "fields.personnyckel",
            "either personnummer or personnyckel",
        ),
        // Neither key.
        (
            (
                "personnyckel = { column = \"Kund-id\", kind = \"kund_id/jobbverket\" }",
                "",
            ),
            "fields.personnummer",
            "required",
        ),
        // A kön map to a code the table does not know.
        (
            ("\"Man\" = \"M\"", "\"Man\" = \"X\""),
            "fields.kon.values",
            "K, M",
        ),
        // A customer id cannot be the same for every row.
        (
            ("{ column = \"Kund-id\",", "{ constant = \"1\","),
            "fields.personnyckel",
            "cannot be a constant",
        ),
    ] {
        let bad = deltagare.replace(change.0, change.1);
        assert_ne!(bad, deltagare, "{change:?} changes nothing");
        let text = Pipeline::from_toml(path, &bad)
            .expect_err("invalid")
            .to_string();
        assert!(
            text.contains(at) && text.contains(needle),
            "{at} / {needle}:\n{text}"
        );
    }
    // kind on another field.
    let bad = deltagare.replace(
        "insats = \"Insats\"",
        "insats = { column = \"Insats\", kind = \"x\" }",
    );
    let text = Pipeline::from_toml(path, &bad)
        .expect_err("invalid")
        .to_string();
    assert!(
        text.contains("fields.insats.kind") && text.contains("only for personnyckel"),
        "{text}"
    );
    // Kön beside a personnummer: it comes from the number.
    let bad = deltagare.replace(
        "personnyckel = { column = \"Kund-id\", kind = \"kund_id/jobbverket\" }",
        "personnummer = \"Pnr\"",
    );
    let text = Pipeline::from_toml(path, &bad)
        .expect_err("invalid")
        .to_string();
    for at in ["fields.fodelsear", "fields.kon"] {
        assert!(
            text.contains(at) && text.contains("comes from the personnummer"),
            "{text}"
        );
    }
    // A register that is counted across registers needs the personnummer that links them.
    let bad = GOOD.replace(
        "personnummer = \"Personnr\"",
        "personnyckel = { column = \"Kund-id\", kind = \"kund_id\" }",
    );
    let text = Pipeline::from_toml(Path::new("pipelines/fs.toml"), &bad)
        .expect_err("invalid")
        .to_string();
    assert!(
        text.contains("fields.personnyckel")
            && text.contains("table forsorjningsstod needs a personnummer")
            && text.contains("fields.personnummer"),
        "{text}"
    );
}
