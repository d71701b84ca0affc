//! Published views: small counts suppressed with secondary suppression that an attacker
//! cannot undo with the published totals, flags instead of fake numbers, nothing
//! record-level published, and threshold 0 disabling suppression.

use datafusion::arrow::array::{Array, BooleanArray, Int64Array, StringArray};
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use malgrupp::publish::{self, suppression};

use crate::common::{TestLake, period_files};

/// (keys, antal, antal_skyddad) of the published long table, in period and file order.
fn published_long(published: &std::path::Path) -> Vec<(Vec<String>, Option<i64>, bool)> {
    let files = period_files(published, "kartlaggning", "parquet");
    assert!(!files.is_empty(), "kartlaggning is published per period");
    let batches = files.iter().flat_map(|path| {
        let file = std::fs::File::open(path).expect("published file");
        ParquetRecordBatchReaderBuilder::try_new(file)
            .expect("parquet")
            .build()
            .expect("reader")
    });
    let mut rows = Vec::new();
    for b in batches {
        let b = b.expect("batch");
        let s = |n: &str| {
            b.column(b.schema().index_of(n).expect(n))
                .as_any()
                .downcast_ref::<StringArray>()
                .expect("text")
                .clone()
        };
        let keys: Vec<StringArray> = publish::cells::KEYS[..7].iter().map(|n| s(n)).collect();
        let antal = b
            .column(b.schema().index_of("antal").expect("antal"))
            .as_any()
            .downcast_ref::<Int64Array>()
            .expect("int")
            .clone();
        let flag = b
            .column(b.schema().index_of("antal_skyddad").expect("flag"))
            .as_any()
            .downcast_ref::<BooleanArray>()
            .expect("bool")
            .clone();
        for r in 0..b.num_rows() {
            rows.push((
                keys.iter().map(|k| k.value(r).to_string()).collect(),
                (!antal.is_null(r)).then(|| antal.value(r)),
                flag.value(r),
            ));
        }
    }
    rows
}

#[tokio::test]
async fn published_counts_are_suppressed_and_cannot_be_recovered() {
    let t = TestLake::new();
    let (outcome, out) = t
        .run(&[
            "kalmar_af",
            "kalmar_fs",
            "kalmar_kaa",
            "kalmar_timanstallda",
            "scb_befolkning",
        ])
        .await;
    assert!(outcome.success(), "{out}");
    let dir = publish::dir(&t.lake());
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .expect("published dir")
        .flatten()
        .map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            if e.path().is_dir() {
                format!("{name}/")
            } else {
                name
            }
        })
        .collect();
    files.sort();
    assert_eq!(
        files,
        [
            // When the set was published (for `export --as-of`).
            "_published_at",
            // Which lake state the set was built from: kommun-months and fingerprints.
            "_state.json",
            // The per-kommun-month views: one file per period.
            "bilaga1_fs_orsak/",
            "kartlaggning/",
            "kartlaggning_kon/",
            "uppfoljning.csv",
            "uppfoljning.parquet"
        ],
        "only aggregate views (and the state they were built from) are published"
    );
    // Each view directory holds a Parquet and a CSV file per period, the same periods
    // for all three.
    let periods = |view: &str| -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir.join(view))
            .expect("view dir")
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    };
    let kartlaggning = periods("kartlaggning");
    assert!(!kartlaggning.is_empty());
    for pair in kartlaggning.chunks(2) {
        let stem = pair[0].strip_suffix(".csv").expect("csv first");
        assert_eq!(pair, [format!("{stem}.csv"), format!("{stem}.parquet")]);
        assert!(
            malgrupp::publish::state::is_period(stem) && stem.len() == 7,
            "{stem}"
        );
    }
    assert_eq!(periods("kartlaggning_kon"), kartlaggning);
    assert_eq!(periods("bilaga1_fs_orsak"), kartlaggning);

    let published = published_long(&dir);
    assert!(
        published.iter().all(|(_, v, _)| !matches!(v, Some(1..=4))),
        "no count 1–4 is visible"
    );
    assert!(
        published.iter().any(|(_, _, f)| *f),
        "Kalmar has small cells, so something is suppressed"
    );
    let visible = |matt: &str, kon: &str, alder: &str| {
        published
            .iter()
            .find(|(k, _, _)| k[2] == matt && k[3] == kon && k[4] == alder && k[5] == "total")
            .and_then(|(_, v, _)| *v)
    };
    assert_eq!(
        visible("malgrupp_summa", "T", "16-24"),
        Some(902),
        "large totals stay visible"
    );

    // The attacker: the true values (from the lake), the published flags, and every
    // additivity the published table has; each suppressed small count must stay hidden.
    let (ctx, _) =
        malgrupp::query::open(&t.lake(), &t.settings.sql_dir, &t.settings.agreements_dir)
            .await
            .expect("open");
    let batches = ctx
        .sql(&publish::cells::sql(None))
        .await
        .expect("plan")
        .collect()
        .await
        .expect("run");
    let mut truth = Vec::new();
    for b in &batches {
        let n = b
            .column(9)
            .as_any()
            .downcast_ref::<Int64Array>()
            .expect("antal");
        for r in 0..b.num_rows() {
            truth.push((!n.is_null(r)).then(|| n.value(r)));
        }
    }
    assert_eq!(truth.len(), published.len());
    let cells: Vec<publish::Cell> = published
        .iter()
        .zip(&truth)
        .map(|((k, _, _), v)| publish::Cell {
            keys: [
                k[0].clone(),
                k[1].clone(),
                k[2].clone(),
                k[3].clone(),
                k[4].clone(),
                k[5].clone(),
                k[6].clone(),
                String::new(),
                String::new(),
            ],
            antal: *v,
            befolkning: None,
            andel_kalla: None,
        })
        .collect();
    let constraints = publish::constraints(&cells);
    assert!(
        constraints.len() > 100,
        "the table's additivity is modelled ({} constraints)",
        constraints.len()
    );
    let flags: Vec<bool> = published
        .iter()
        .zip(&truth)
        .map(|((_, _, f), v)| *f || v.is_none())
        .collect();
    assert!(
        suppression::is_protected(&truth, &flags, &constraints, 5),
        "an attacker can recover a suppressed count"
    );
    // Removing the secondary suppressions must expose something (the check can fail).
    let primary_only: Vec<bool> = truth
        .iter()
        .map(|v| v.is_none() || matches!(v, Some(1..=4)))
        .collect();
    assert!(
        !suppression::is_protected(&truth, &primary_only, &constraints, 5),
        "primary suppression alone must be recoverable here"
    );
}

#[tokio::test]
async fn threshold_zero_publishes_every_count() {
    let mut t = TestLake::new();
    t.settings.suppress_below = 0;
    let (outcome, out) = t.run(&["kalmar_fs"]).await;
    assert!(outcome.success(), "{out}");
    let published = published_long(&publish::dir(&t.lake()));
    assert!(published.iter().all(|(_, _, f)| !*f));
    assert!(published.iter().any(|(_, v, _)| matches!(v, Some(1..=4))));
}
