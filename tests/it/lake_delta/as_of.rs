//! `malgrupp sql --as-of` without `--delta`: the lake's own tables, ledger and views read
//! from the lake's copy as they stood once a run was committed, or at a time.

use std::process::Command;

use super::run_ids;
use crate::common::TestLake;
use crate::lake::{private_fs_pipeline, without_first_data_row, write_config};

/// `malgrupp sql --as-of` without `--delta` reads the lake's own tables, its ledger and
/// the views over them from the lake's copy: the figures as they stood once a run was
/// committed, or at a time. What the copy cannot answer is refused, not answered with
/// today's rows.
#[test]
fn the_lakes_tables_and_views_are_read_as_of_a_run_from_its_copy() {
    let mut t = TestLake::new();
    let extract = private_fs_pipeline(&mut t);
    let cfg = write_config(t.dir.path(), &t.settings.pipelines_dir);
    let data = t.dir.path().join("data");
    let plain = std::fs::read_to_string(&cfg).expect("config");
    let with_copy = plain.replacen(
        "[lake]\n",
        &format!(
            "[lake]\ndelta = '{}'\n",
            t.dir.path().join("cloud").display()
        ),
        1,
    );
    std::fs::write(&cfg, &with_copy).expect("config");
    let run = || {
        let out = Command::new(env!("CARGO_BIN_EXE_malgrupp"))
            .args(["--config", cfg.to_str().expect("utf-8 path"), "run", "fs"])
            .output()
            .expect("spawn");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let sql = |query: &str, args: &[&str]| {
        crate::object_storage::malgrupp_sql(t.dir.path(), query, args, &[])
    };
    // Counts of the table and the ledger, and the view's rows in a stable order.
    let figures = |args: &[&str]| {
        let (ok, counts, err) = sql(
            "select (select count(*) from forsorjningsstod) as fs, (select count(*) from runs) as runs, (select count(*) from lineage) as lineage",
            args,
        );
        assert!(ok, "{err}");
        let (ok, view, err) = sql("select * from kartlaggning_fs", args);
        assert!(ok, "{err}");
        let mut lines: Vec<&str> = view.lines().collect();
        lines.sort_unstable();
        assert!(lines.len() > 10, "{view}");
        (counts, lines.join("\n"))
    };

    run();
    let first = figures(&[]);
    std::fs::write(&extract, without_first_data_row(&extract)).expect("write");
    run();
    let second = figures(&[]);
    assert_ne!(first.0, second.0);
    let runs = run_ids(&data);
    assert_eq!(runs.len(), 2, "{runs:?}");

    // As of each run: the rows, the ledger and the view as that run left them.
    assert_eq!(figures(&["--as-of", &runs[0]]), first);
    assert_eq!(figures(&["--as-of", &runs[1]]), second);
    let now = chrono::Utc::now().to_rfc3339();
    assert_eq!(figures(&["--as-of", &now]), second);

    // The quarantine is not in the copy; a version number names one table's version; a
    // moment before the lake's first commit has nothing to read; all say so.
    let (ok, _, err) = sql("select count(*) from quarantine", &[]);
    assert!(ok, "{err}");
    for (args, expected) in [
        (
            vec!["--as-of", runs[0].as_str()],
            "the quarantine is not kept in the lake's copy",
        ),
        (
            vec!["--as-of", "0"],
            "read as of a time, a date or a run id",
        ),
        (vec!["--as-of", "2000-01-01"], "holds no run committed by"),
    ] {
        let (ok, out, err) = sql("select count(*) from quarantine", &args);
        assert!(!ok && err.contains(expected), "{args:?}: {out}{err}");
    }

    // Without a copy the lake has no history: refused rather than read as it is now.
    std::fs::write(&cfg, &plain).expect("config");
    let (ok, out, err) = sql(
        "select count(*) from forsorjningsstod",
        &["--as-of", &runs[0]],
    );
    assert!(!ok && err.contains("`[lake] delta`"), "{out}{err}");
}
