//! `malgrupp status`: per pipeline, the last run (outcome, duration, rows), the next
//! scheduled run, and freshness — the newest period in the lake against the period that
//! should have arrived by now given the pipeline's `[freshness]` cadence. Stale and
//! failing pipelines are flagged.

use chrono::{DateTime, Datelike, Days, NaiveDate, Utc};
use serde::Serialize;

use crate::config::operations::{Cadence, Freshness};
use crate::config::pipeline::Pipeline;
use crate::lake::manifest::{Manifest, RunRecord};

/// One pipeline's status.
#[derive(Debug, Clone, Serialize)]
pub struct PipelineStatus {
    /// Pipeline name.
    pub pipeline: String,
    /// Cron expression and time zone, when scheduled.
    pub schedule: Option<String>,
    /// Start of the last run (RFC 3339).
    pub last_run: Option<String>,
    /// Its outcome.
    pub last_status: Option<String>,
    /// Its duration in milliseconds.
    pub last_duration_ms: Option<u64>,
    /// Its rows: in, written, quarantined.
    pub last_rows: Option<[usize; 3]>,
    /// Its error, if it failed.
    pub last_error: Option<String>,
    /// Start of the last successful run.
    pub last_success: Option<String>,
    /// Next scheduled run (RFC 3339), when scheduled.
    pub next_run: Option<String>,
    /// Newest period the pipeline has published.
    pub newest_period: Option<String>,
    /// The period that should be there by now (from `[freshness]`).
    pub expected_period: Option<String>,
    /// `fresh`, `stale` or `unknown` (no `[freshness]`).
    pub freshness: &'static str,
    /// The last run failed or was blocked.
    pub failing: bool,
}

impl PipelineStatus {
    /// Needs attention: stale or failing.
    pub fn flagged(&self) -> bool {
        self.failing || self.freshness == "stale"
    }
}

/// The status of every pipeline at `now`.
pub fn compute<'a>(
    pipelines: impl IntoIterator<Item = &'a Pipeline>,
    manifest: &Manifest,
    now: DateTime<Utc>,
) -> Vec<PipelineStatus> {
    pipelines
        .into_iter()
        .map(|p| {
            let last = manifest.last_run(&p.name);
            let last_success = manifest.last_success(&p.name).map(|r| r.started_at.clone());
            let newest_period = newest_period(manifest, &p.name);
            let expected_period = p.freshness.map(|f| expected_period(f, now.date_naive()));
            let freshness = match (&expected_period, &newest_period) {
                (None, _) => "unknown",
                (Some(_), None) => "stale",
                (Some(expected), Some(newest)) if newest >= expected => "fresh",
                (Some(_), Some(_)) => "stale",
            };
            PipelineStatus {
                pipeline: p.name.clone(),
                schedule: p.schedule.as_ref().map(|s| s.schedule.to_string()),
                last_run: last.map(|r| r.started_at.clone()),
                last_status: last.map(|r| r.status.clone()),
                last_duration_ms: last.map(|r| r.duration_ms),
                last_rows: last.map(|r| [r.rows_in, r.rows_written, r.rows_quarantined]),
                last_error: last.and_then(|r| r.message.clone()),
                last_success,
                next_run: p
                    .schedule
                    .as_ref()
                    .and_then(|s| s.schedule.next_after(now))
                    .map(|t| t.to_rfc3339()),
                newest_period,
                expected_period,
                freshness,
                failing: last.is_some_and(RunRecord::failed),
            }
        })
        .collect()
}

/// The newest period `pipeline` put in the lake: of the extracts this lake processed,
/// and of the runs in its ledger (a lake restored from its copy, or one that brought in
/// another host's runs of the pipeline, has their rows without having processed their
/// extracts).
fn newest_period(manifest: &Manifest, pipeline: &str) -> Option<String> {
    let processed = manifest
        .pipelines
        .get(pipeline)
        .into_iter()
        .flat_map(|s| s.extracts.values().flat_map(|e| e.partitions.iter()));
    let recorded = manifest
        .runs
        .iter()
        .filter(|r| r.pipeline == pipeline && r.status == "ok")
        .flat_map(|r| r.lineage.iter().flat_map(|l| l.partitions.iter()));
    processed
        .chain(recorded)
        .map(|(_, period)| period)
        .max()
        .cloned()
}

/// The newest period whose data is due on `today`: monthly `YYYY-MM` or yearly `YYYY`,
/// due `due_after_days` after the period's last day.
pub fn expected_period(f: Freshness, today: NaiveDate) -> String {
    let due = |last_day: NaiveDate| {
        last_day
            .checked_add_days(Days::new(u64::from(f.due_after_days)))
            .is_some_and(|d| d <= today)
    };
    match f.cadence {
        Cadence::Monthly => {
            let (mut y, mut m) = (today.year(), today.month());
            loop {
                // Step back one month, then test whether that month is due.
                if m == 1 {
                    y -= 1;
                    m = 12;
                } else {
                    m -= 1;
                }
                let last_day = NaiveDate::from_ymd_opt(y, m, 1)
                    .and_then(|d| d.checked_add_months(chrono::Months::new(1)))
                    .and_then(|d| d.pred_opt());
                if last_day.is_some_and(due) {
                    return format!("{y:04}-{m:02}");
                }
            }
        }
        Cadence::Yearly => {
            let mut y = today.year() - 1;
            while !NaiveDate::from_ymd_opt(y, 12, 31).is_some_and(due) {
                y -= 1;
            }
            format!("{y:04}")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date")
    }

    /// A lake restored from its copy (or holding another host's runs) knows the periods
    /// from the runs' lineage, without having processed their extracts.
    #[test]
    fn the_newest_period_comes_from_the_runs_too() {
        let pipeline = Pipeline::from_toml(
            std::path::Path::new("kalmar_fs.toml"),
            include_str!("../../pipelines/kalmar_fs.toml"),
        )
        .expect("pipeline");
        let mut run = crate::lake::manifest::RunRecord::marker(
            "kalmar_fs",
            "ok",
            String::new(),
            "manual",
            None,
        );
        run.lineage.push(crate::lake::manifest::Lineage {
            extract_sha256: "0".repeat(64),
            file: "fs_201505.csv".into(),
            table: "forsorjningsstod".into(),
            partitions: vec![
                ("0880".into(), "2015-04".into()),
                ("0880".into(), "2015-05".into()),
            ],
        });
        let mut failed = run.clone();
        failed.status = "failed".into();
        failed.lineage[0].partitions = vec![("0880".into(), "2015-06".into())];
        let manifest = Manifest {
            runs: vec![run, failed],
            ..Default::default()
        };
        let status = compute([&pipeline], &manifest, Utc::now());
        assert_eq!(status[0].newest_period.as_deref(), Some("2015-05"));
    }

    #[test]
    fn monthly_data_is_due_days_after_the_month_ends() {
        let f = Freshness {
            cadence: Cadence::Monthly,
            due_after_days: 10,
        };
        // May ends 31 May; due 10 June.
        assert_eq!(expected_period(f, d("2015-06-09")), "2015-04");
        assert_eq!(expected_period(f, d("2015-06-10")), "2015-05");
        assert_eq!(expected_period(f, d("2016-01-15")), "2015-12");
        let late = Freshness {
            cadence: Cadence::Monthly,
            due_after_days: 45,
        };
        assert_eq!(expected_period(late, d("2015-07-14")), "2015-04");
        assert_eq!(expected_period(late, d("2015-07-15")), "2015-05");
    }

    #[test]
    fn yearly_data_is_due_after_the_year_ends() {
        let f = Freshness {
            cadence: Cadence::Yearly,
            due_after_days: 60,
        };
        assert_eq!(expected_period(f, d("2016-02-28")), "2014");
        assert_eq!(expected_period(f, d("2016-02-29")), "2015");
    }
}
