//! `malgrupp check` reports every problem of every pipeline file and view at once, with
//! file and field, and exits non-zero; valid files are still listed.

use std::process::Command;

#[test]
fn check_reports_all_problems_at_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pipelines = dir.path().join("pipelines");
    let sql = dir.path().join("sql");
    std::fs::create_dir_all(&pipelines).expect("mkdir");
    std::fs::create_dir_all(&sql).expect("mkdir");
    std::fs::copy("pipelines/kalmar_kaa.toml", pipelines.join("good.toml")).expect("copy");
    let good = std::fs::read_to_string("pipelines/kalmar_fs.toml").expect("read");
    std::fs::write(
        pipelines.join("typo.toml"),
        good.replace("orsak = {", "orsk = {")
            .replace("\"0880\"", "\"0999\""),
    )
    .expect("write");
    std::fs::write(pipelines.join("syntax.toml"), "target = \n").expect("write");
    // Four problems in one file, each in its own section: all four are reported.
    std::fs::write(
        pipelines.join("four.toml"),
        good.replace("decimal = \",\"", "decimal = \",\"\nskip_trailing_row = 1")
            .replace("\"30 2 * * *\"", "\"30 25 * * *\"")
            .replace("\"Sverige\" = \"inrikes\"", "\"Sverige\" = \"svensk\"")
            .replace(
                "'fs_(\\d{4})(\\d{2})\\.csv$'",
                "'fs_(\\d{4}(\\d{2})\\.csv$'",
            ),
    )
    .expect("write");
    std::fs::write(
        sql.join("broken_view.sql"),
        "select no_such_column from kaa",
    )
    .expect("write");
    std::fs::write(sql.join("depends.sql"), "select * from broken_view").expect("write");
    let cfg = dir.path().join("malgrupp.toml");
    std::fs::write(
        &cfg,
        format!(
            "[paths]\npipelines = '{}'\nsql = '{}'\n[pseudonymization]\nkey_file = '{}'\n",
            pipelines.display(),
            sql.display(),
            dir.path().join("missing.key").display()
        ),
    )
    .expect("config");
    let out = Command::new(env!("CARGO_BIN_EXE_malgrupp"))
        .args(["--config", cfg.to_str().expect("utf-8"), "check"])
        .output()
        .expect("spawn");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    for needle in [
        "pipeline good",
        "typo.toml: fields.orsk",
        "typo.toml: fields.kommun.constant",
        "typo.toml: fields.orsak: required",
        "syntax.toml",
        "broken_view.sql",
        "depends.sql: depends on view broken_view",
        "four.toml: format.skip_trailing_row: unknown key",
        "four.toml: schedule",
        "four.toml: fields.fodelseland",
        "four.toml: fields.period",
        // A key `run` could not load is a problem of the settings, found before any run.
        "pseudonymization.key_file",
    ] {
        assert!(text.contains(needle), "missing '{needle}' in:\n{text}");
    }
}

#[test]
fn the_shipped_configuration_is_valid() {
    let out = Command::new(env!("CARGO_BIN_EXE_malgrupp"))
        .arg("check")
        .output()
        .expect("spawn");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let shipped = std::fs::read_dir("pipelines")
        .expect("pipelines")
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "toml"))
        .count();
    assert_eq!(text.matches("ok  pipeline").count(), shipped, "{text}");
}

#[tokio::test]
async fn bench_prints_its_figures() {
    let settings = malgrupp::config::Settings::defaults_at(std::path::Path::new(""));
    let mut out = Vec::new();
    malgrupp::cli::bench::execute(&settings, 600, 3, &mut out)
        .await
        .expect("bench runs");
    let text = String::from_utf8(out).expect("utf-8");
    assert!(
        text.contains("600 rows") && text.contains("rows/s") && text.contains("3 partitions"),
        "{text}"
    );
    assert!(text.matches("best of 3").count() == 4, "{text}");
}
