//! `export`: a published view to Excel (typed cells, Swedish headers) read back with
//! calamine gives the same figures; filters apply; only published views are exportable.

use calamine::{Data, Reader, Xlsx};

use crate::common::TestLake;

#[tokio::test]
async fn excel_export_reads_back_with_the_published_figures() {
    let t = TestLake::new();
    let (outcome, out) = t.run(&["kalmar_fs"]).await;
    assert!(outcome.success(), "{out}");
    let file = t.dir.path().join("bilaga.xlsx");
    let rows = malgrupp::cli::export::execute(
        &t.settings,
        "bilaga1_fs_orsak",
        Some("0880"),
        Some("2015-05"),
        malgrupp::cli::export::ExportFormat::Xlsx,
        &file,
        None,
    )
    .await
    .expect("export");
    assert_eq!(rows, 9);
    let mut wb: Xlsx<_> = calamine::open_workbook(&file).expect("xlsx");
    let sheet = wb
        .worksheet_range("bilaga1_fs_orsak")
        .expect("one sheet per table");
    let header: Vec<String> = sheet
        .rows()
        .next()
        .expect("header")
        .iter()
        .map(|c| c.to_string())
        .collect();
    assert_eq!(
        header[..5],
        ["Kommun", "Period", "Ordning", "Grupp", "Kvinnor"]
    );
    assert!(
        header.contains(&"Män".to_string()) && header.contains(&"Totalt skyddad".to_string()),
        "{header:?}"
    );
    let col = |name: &str| header.iter().position(|h| h == name).expect(name);
    let row = sheet
        .rows()
        .find(|r| r[col("Grupp")] == Data::String("Arbetslöshet".into()))
        .expect("Arbetslöshet row");
    assert_eq!(row[col("Totalt")], Data::Float(64.0), "typed numeric cell");
    assert_eq!(row[col("Män")], Data::Float(47.0));
    // A suppressed cell is an empty cell with its flag set, never a number.
    let waiting = sheet
        .rows()
        .find(|r| r[col("Grupp")] == Data::String("– väntar på ersättning".into()))
        .expect("row");
    assert_eq!(waiting[col("Män")], Data::Empty);
    assert_eq!(waiting[col("Män skyddad")], Data::Bool(true));

    let csv = t.dir.path().join("k.csv");
    let n = malgrupp::cli::export::execute(
        &t.settings,
        "kartlaggning_kon",
        Some("0999"),
        None,
        malgrupp::cli::export::ExportFormat::Csv,
        &csv,
        None,
    )
    .await
    .expect("export");
    assert_eq!(n, 0, "the kommun filter applies");
    let err = malgrupp::cli::export::execute(
        &t.settings,
        "forsorjningsstod",
        None,
        None,
        malgrupp::cli::export::ExportFormat::Csv,
        &csv,
        None,
    )
    .await
    .expect_err("record-level");
    assert!(err.to_string().contains("not a published view"), "{err}");
}

#[tokio::test]
async fn a_view_is_exported_as_it_was_published_at_an_earlier_time() {
    use malgrupp::cli::export::{ExportFormat, execute};
    let t = TestLake::new();
    let before = chrono::Utc::now() - chrono::Duration::seconds(1);
    let (outcome, out) = t.run(&["kalmar_fs"]).await;
    assert!(outcome.success(), "{out}");
    let file = |name: &str| t.dir.path().join(name);
    // `export kartlaggning --format csv --out <name> [--as-of <at>]`.
    let export = |name: &'static str, at: Option<String>| {
        let out = file(name);
        let settings = t.settings.clone();
        async move {
            execute(
                &settings,
                "kartlaggning",
                None,
                None,
                ExportFormat::Csv,
                &out,
                at.as_deref(),
            )
            .await
        }
    };
    export("first.csv", None).await.expect("export");
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let between = chrono::Utc::now();
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    // A second source changes the kartläggning: a new published set.
    let (outcome, out) = t.run(&["kalmar_kaa"]).await;
    assert!(outcome.success(), "{out}");
    export("second.csv", None).await.expect("export");
    let read = |name: &str| std::fs::read_to_string(file(name)).expect("read");
    assert_ne!(
        read("first.csv"),
        read("second.csv"),
        "the second run changed the view"
    );
    let as_of = |at: String, name: &'static str| export(name, Some(at));
    as_of(between.to_rfc3339(), "then.csv")
        .await
        .expect("as of then");
    assert_eq!(read("then.csv"), read("first.csv"));
    as_of(chrono::Utc::now().to_rfc3339(), "now.csv")
        .await
        .expect("as of now");
    assert_eq!(read("now.csv"), read("second.csv"));
    // Before the first publish there was nothing; a version number is not a moment.
    let e = as_of(before.to_rfc3339(), "x.csv")
        .await
        .expect_err("nothing then")
        .to_string();
    assert!(
        e.contains("--as-of") && e.contains("nothing published as of"),
        "{e}"
    );
    let e = as_of("3".into(), "x.csv")
        .await
        .expect_err("a version")
        .to_string();
    assert!(e.contains("expected a time"), "{e}");
}
