//! Disclosure control against an outsider who reads only the published files: the
//! subtractions that once recovered suppressed counts, the independent auditor
//! (`malgrupp audit`) on the demo lake and on a national lake of many small kommuner, and
//! a negative control — primary suppression alone — that the auditor must catch.

use std::collections::HashMap;

use malgrupp::audit;
use malgrupp::publish::{self, cells, suppression};

use crate::common::{TestLake, query_in};

const DEMO: [&str; 5] = [
    "kalmar_af",
    "kalmar_fs",
    "kalmar_kaa",
    "kalmar_timanstallda",
    "scb_befolkning",
];

/// A cell known exactly is one hidden only to protect others: 0 or at least the threshold.
fn pinned_only_outside_the_small_range(a: &audit::TableAudit) {
    for p in &a.pinned {
        assert!(
            p.interval.lo == 0 || p.interval.lo >= 5,
            "{} {}",
            p.cell,
            p.interval
        );
    }
}

/// The published long table by key (kommun … kategori) → (antal, antal_skyddad).
fn published(t: &TestLake) -> HashMap<Vec<String>, (Option<i64>, bool)> {
    let table =
        audit::table::LongTable::read_dir(&publish::dir(&t.lake()).join("kartlaggning"), "parquet")
            .expect("published table");
    (0..table.rows.len())
        .map(|i| {
            let r = &table.rows[i];
            let (kommun, period) = table.partitions[r.partition].clone();
            let mut key = vec![kommun, period];
            key.extend((0..r.key.len()).map(|c| table.value(c, r.key[c]).to_string()));
            (key, (r.antal, r.protected))
        })
        .collect()
}

#[tokio::test]
async fn subtracting_published_measures_recovers_no_suppressed_count() {
    let t = TestLake::new();
    let (outcome, out) = t.run(&DEMO).await;
    assert!(outcome.success(), "{out}");
    let rows = published(&t);
    // The cells an outsider once recovered by subtraction alone: arbetslöshet's
    // sub-reason at a single age (8 − 0 − 7 = 1) and within a breakdown (23 − 8 − 13 = 2),
    // and a reason within a breakdown (40 − 9 − 28 − 0 − 0 = 3). All are small: hidden.
    for (matt, alder, dim, kat) in [
        ("fs_arbetsloshet_vantar_ersattning", "20", "total", "total"),
        (
            "fs_arbetsloshet_vantar_ersattning",
            "16-24",
            "fodelseland",
            "utrikes",
        ),
        ("fs_ohalsa", "16-24", "utbildning", "gymnasial"),
    ] {
        let key: Vec<String> = ["0880", "2015-05", matt, "T", alder, dim, kat]
            .map(String::from)
            .to_vec();
        assert_eq!(
            rows.get(&key).map(|r| r.1),
            Some(true),
            "{key:?} is suppressed"
        );
    }
    // Every instance of the two measure identities, at every kön, age and breakdown: an
    // equation with exactly one hidden cell gives that cell away.
    let families: [(&str, &[&str]); 2] = [
        (
            "fs_arbetsloshet",
            &[
                "fs_arbetsloshet_endast_fs",
                "fs_arbetsloshet_vantar_ersattning",
                "fs_arbetsloshet_otillracklig_ersattning",
            ],
        ),
        (
            "fs_mottagare",
            &[
                "fs_arbetsloshet",
                "fs_sociala_skal",
                "fs_ohalsa",
                "fs_otillracklig_inkomst",
                "fs_annan",
            ],
        ),
    ];
    let mut equations = 0;
    for (key, _) in rows.iter().filter(|(k, _)| k[2] == "fs_mottagare") {
        for (total, parts) in families {
            let at = |matt: &str| {
                let mut k = key.clone();
                k[2] = matt.to_string();
                rows.get(&k).copied()
            };
            let cells: Option<Vec<(Option<i64>, bool)>> = std::iter::once(total)
                .chain(parts.iter().copied())
                .map(at)
                .collect();
            let Some(cells) = cells else { continue };
            equations += 1;
            // With one hidden cell the equation gives it away: it must not be a small
            // count (a cell hidden only to protect others may come out, being large).
            if let [hidden] = cells.iter().filter(|c| c.0.is_none()).collect::<Vec<_>>()[..] {
                let parts_known: i64 = cells[1..].iter().filter_map(|c| c.0).sum();
                let value = match cells[0].0 {
                    Some(total) => total - parts_known,
                    None => parts_known,
                };
                assert!(
                    !(1..5).contains(&value),
                    "{total} = Σ {parts:?} at {key:?} gives away {value}: {cells:?} ({hidden:?})"
                );
            }
        }
    }
    assert!(equations > 100, "only {equations} equations checked");
}

#[tokio::test]
async fn the_auditor_pins_down_nothing_in_the_demo_lake_from_parquet_or_csv() {
    let t = TestLake::new();
    let (outcome, out) = t.run(&DEMO).await;
    assert!(outcome.success(), "{out}");
    let dir = publish::dir(&t.lake());
    let parquet = audit::audit_dir(&dir, 5, false).expect("audit");
    let csv = audit::audit_dir(&dir, 5, true).expect("audit");
    let names: Vec<&str> = parquet.iter().map(|(n, _)| n.as_str()).collect();
    // The follow-up is published too, with no rows: the demo has no programme data.
    assert_eq!(names, ["kartlaggning/", "uppfoljning.parquet"]);
    assert_eq!((parquet[1].1.rows, csv[1].1.rows), (0, 0));
    let (parquet, csv) = (&parquet[..1], &csv[..1]);
    for (name, a) in parquet.iter().chain(csv) {
        assert!(a.suppressed > 200, "{name}: {} suppressed", a.suppressed);
        assert!(a.holds(), "{name}:\n{}", audit::render(parquet, 5, false));
        // Cells hidden only to protect others may be known exactly: never a small count.
        pinned_only_outside_the_small_range(a);
        // It found the table's identities on its own (so "nothing disclosed" means something).
        for identity in [
            "kon: T = K + M",
            "alder: 16-24 = 16 + 17 + 18 + 19 + 20 + 21 + 22 + 23 + 24",
            "matt: fs_arbetsloshet = fs_arbetsloshet_endast_fs + fs_arbetsloshet_otillracklig_ersattning + fs_arbetsloshet_vantar_ersattning",
            "dimension/kategori: total/total = orsak/annan + orsak/arbetsloshet + orsak/ohalsa + orsak/otillracklig_inkomst + orsak/sociala_skal",
        ] {
            assert!(
                a.identities.iter().any(|i| i.starts_with(identity)),
                "{name}: {identity} not found in {:#?}",
                a.identities
            );
        }
    }
    assert_eq!(
        parquet
            .iter()
            .map(|(_, a)| (a.rows, a.suppressed, a.identities.len()))
            .collect::<Vec<_>>(),
        csv.iter()
            .map(|(_, a)| (a.rows, a.suppressed, a.identities.len()))
            .collect::<Vec<_>>(),
        "the CSV files tell the same"
    );
}

#[tokio::test]
async fn without_secondary_suppression_the_auditor_finds_disclosed_counts() {
    let t = TestLake::new();
    let (outcome, out) = t.run(&DEMO).await;
    assert!(outcome.success(), "{out}");
    // The same table with only the small counts hidden, as a publisher without secondary
    // suppression would write it.
    let ctx = t.session().await;
    let truth = cells::read_cells(&query_in(&ctx, &cells::sql(None)).await).expect("cells");
    let primary: Vec<bool> = truth
        .iter()
        .map(|c| c.antal.is_none() || suppression::is_primary(c.antal, 5))
        .collect();
    let batch = cells::long_batch(&truth, &primary).expect("batch");
    let dir = tempfile::tempdir().expect("tempdir");
    let file = std::fs::File::create(dir.path().join("kartlaggning.parquet")).expect("create");
    let mut w = datafusion::parquet::arrow::ArrowWriter::try_new(file, batch.schema(), None)
        .expect("writer");
    w.write(&batch).expect("write");
    w.close().expect("close");
    let audits = audit::audit_dir(dir.path(), 5, false).expect("audit");
    let a = &audits[0].1;
    assert!(!a.holds());
    assert!(
        a.disclosed.len() >= 10,
        "{}",
        audit::render(&audits, 5, false)
    );
    // Each disclosed cell's interval holds its true count.
    let truth_of: HashMap<String, i64> = truth
        .iter()
        .filter_map(|c| {
            let key = cells::KEYS[..7]
                .iter()
                .zip(&c.keys)
                .map(|(n, v)| format!("{n}={v}"))
                .collect::<Vec<_>>()
                .join(" ");
            Some((key, c.antal?))
        })
        .collect();
    for d in &a.disclosed {
        let v = truth_of[&d.cell];
        assert!(
            d.interval.lo <= v && d.interval.hi.is_none_or(|h| v <= h),
            "{} {} holds {v}",
            d.cell,
            d.interval
        );
    }
}

#[tokio::test]
async fn the_auditor_pins_down_nothing_in_a_national_lake_of_small_kommuner() {
    let mut t = TestLake::new();
    // 30 kommuner with 15 recipients each: every count is small or empty.
    crate::national::national(&mut t, 30, 1, 30 * 15);
    let (outcome, out) = t.run(&["national_fs"]).await;
    assert_eq!(outcome.reports[0].status, "ok", "{out}");
    let audits = audit::audit_dir(&publish::dir(&t.lake()), 5, false).expect("audit");
    let a = &audits[0].1;
    assert!(a.suppressed > 30 * 3, "{} suppressed", a.suppressed);
    assert!(
        a.identities.iter().any(|i| i.starts_with("kon: T = K + M")),
        "{:#?}",
        a.identities
    );
    assert!(a.holds(), "{}", audit::render(&audits, 5, false));
    // Cells hidden only to protect others may be known exactly here (where everyone is
    // the same age, a single age equals the band): never a small count.
    pinned_only_outside_the_small_range(a);
}

#[tokio::test]
async fn the_follow_up_is_published_suppressed_with_shares_only_where_both_counts_show() {
    let t = TestLake::new();
    let (outcome, out) = t.run(&["norrkoping_deltagare", "skelleftea_amt"]).await;
    assert!(outcome.success(), "{out}");
    let dir = publish::dir(&t.lake());
    let table = audit::table::LongTable::read(&dir.join("uppfoljning.parquet"))
        .expect("published follow-up");
    // Every count of the follow-up view is there, none visible below the threshold.
    let ctx = t.session().await;
    let truth =
        cells::read_cells(&query_in(&ctx, &cells::sql_of(publish::followup::VIEW, None)).await)
            .expect("cells");
    assert_eq!(table.rows.len(), truth.len());
    assert!(
        table.rows.iter().all(|r| !matches!(r.antal, Some(1..=4))),
        "a small count is visible"
    );
    let suppressed = table.rows.iter().filter(|r| r.protected).count();
    assert!(suppressed > 20, "{suppressed} suppressed");
    // Participants, exits, six-month follow-up, providers and the fact box are all in it.
    let measures: std::collections::BTreeSet<&str> = table
        .rows
        .iter()
        .map(|r| table.value(0, r.key[0]))
        .collect();
    for m in [
        "deltagare",
        "avslut_arbete",
        "sex_man_nadda_H1",
        "anordnare_insatser",
        "faktaruta_i_arbete",
    ] {
        assert!(measures.contains(m), "{m} not published: {measures:?}");
    }
    // A share is published only with its count (a suppressed count's share would
    // reopen it), and shares exist where counts show.
    assert!(table.rows.iter().all(|r| !(r.protected && r.share_shown)));
    assert!(
        table.rows.iter().any(|r| r.share_shown),
        "no share published"
    );
    // The report has the follow-up as a section of its own, from the published table.
    let input = malgrupp::report::load::load(&t.settings, "0581", "2012")
        .await
        .expect("report input");
    let md = malgrupp::report::render(&input, malgrupp::report::ReportFormat::Md).expect("report");
    let md = String::from_utf8(md).expect("utf-8");
    assert!(md.contains("Uppföljning av insatser"), "{md}");
    assert!(md.contains("| Avslut: klar enligt plan"), "{md}");
    assert!(
        md.contains(".."),
        "suppressed cells are marked in the report"
    );
    // The outsider's audit of both tables, Parquet and CSV.
    for csv in [false, true] {
        let audits = audit::audit_dir(&dir, 5, csv).expect("audit");
        let names: Vec<&str> = audits.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names.len(), 2, "{names:?}");
        for (name, a) in &audits {
            assert!(a.holds(), "{name}:\n{}", audit::render(&audits, 5, true));
        }
    }
}
