//! Prometheus metrics of the service, in the text exposition format (`GET /metrics`).
//!
//! Counters of runs by outcome count what this process ran since it started (as
//! Prometheus expects of counters); the per-pipeline gauges — last run's duration and
//! rows, last success — come from the run ledger, so they also cover runs made by other
//! processes on the same lake (a `malgrupp run` from a timer, a backfill).

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;

use crate::lake::manifest::Manifest;
use crate::pipeline::RunReport;

/// In-process counters.
#[derive(Debug, Default)]
pub struct Metrics {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    /// (pipeline, outcome) → runs.
    runs: BTreeMap<(String, String), u64>,
    /// pipeline → rows (in, written, quarantined) summed over this process's runs.
    rows: BTreeMap<String, [u64; 3]>,
    /// Pipelines running now.
    running: BTreeMap<String, bool>,
    /// This process's last refresh after runs: when it ended and its problems.
    refresh: Option<(chrono::DateTime<chrono::Utc>, usize)>,
    /// Looks in the lake's copy for other hosts' runs (`[lake] poll_seconds`): how many
    /// succeeded and failed, and when the last one succeeded.
    polls: Option<([u64; 2], Option<chrono::DateTime<chrono::Utc>>)>,
}

impl Metrics {
    /// A run of `pipeline` started.
    pub fn started(&self, pipeline: &str) {
        if let Ok(mut m) = self.inner.lock() {
            m.running.insert(pipeline.to_string(), true);
        }
    }

    /// A refresh after runs (views, publishing, the Delta commits) ended at `at` with
    /// `problems`.
    pub fn refreshed(&self, at: chrono::DateTime<chrono::Utc>, problems: usize) {
        if let Ok(mut m) = self.inner.lock() {
            m.refresh = Some((at, problems));
        }
    }

    /// A look in the lake's copy for other hosts' runs ended at `at`, `ok` or failed.
    pub fn polled(&self, at: chrono::DateTime<chrono::Utc>, ok: bool) {
        if let Ok(mut m) = self.inner.lock() {
            let (counts, last_ok) = m.polls.get_or_insert(([0; 2], None));
            counts[usize::from(!ok)] += 1;
            if ok {
                *last_ok = Some(at);
            }
        }
    }

    /// A run (or a skipped trigger) ended.
    pub fn observe(&self, report: &RunReport) {
        let Ok(mut m) = self.inner.lock() else { return };
        *m.runs
            .entry((report.pipeline.clone(), report.status.to_string()))
            .or_default() += 1;
        if report.status != "skipped" {
            m.running.insert(report.pipeline.clone(), false);
            let rows = m.rows.entry(report.pipeline.clone()).or_default();
            rows[0] += report.rows_in as u64;
            rows[1] += report.rows_written as u64;
            rows[2] += report.rows_quarantined as u64;
        }
    }

    /// Runs of `pipeline` with `outcome` seen by this process.
    pub fn runs(&self, pipeline: &str, outcome: &str) -> u64 {
        self.inner
            .lock()
            .ok()
            .and_then(|m| {
                m.runs
                    .get(&(pipeline.to_string(), outcome.to_string()))
                    .copied()
            })
            .unwrap_or(0)
    }

    /// The exposition text for `pipelines`, with the ledger's gauges from `manifest`.
    pub fn render(&self, pipelines: &[String], manifest: &Manifest) -> String {
        let mut out = String::new();
        let Ok(m) = self.inner.lock() else {
            return out;
        };
        let family = |out: &mut String, name: &str, kind: &str, help: &str| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        };
        family(
            &mut out,
            "malgrupp_runs_total",
            "counter",
            "Pipeline runs by outcome (ok, unchanged, failed, blocked, skipped) since the service started.",
        );
        for ((p, outcome), n) in &m.runs {
            let _ = writeln!(
                out,
                "malgrupp_runs_total{{pipeline=\"{}\",outcome=\"{outcome}\"}} {n}",
                label(p)
            );
        }
        family(
            &mut out,
            "malgrupp_rows_total",
            "counter",
            "Rows read, written and quarantined by this process's runs.",
        );
        for (p, rows) in &m.rows {
            for (kind, n) in ["in", "written", "quarantined"].iter().zip(rows) {
                let _ = writeln!(
                    out,
                    "malgrupp_rows_total{{pipeline=\"{}\",kind=\"{kind}\"}} {n}",
                    label(p)
                );
            }
        }
        family(
            &mut out,
            "malgrupp_run_in_progress",
            "gauge",
            "1 while a run of the pipeline is in progress in this process.",
        );
        for p in pipelines {
            let running = m.running.get(p).copied().unwrap_or(false);
            let _ = writeln!(
                out,
                "malgrupp_run_in_progress{{pipeline=\"{}\"}} {}",
                label(p),
                u8::from(running)
            );
        }
        let gauges = [
            (
                "malgrupp_last_run_duration_seconds",
                "Duration of the pipeline's last run (ledger).",
            ),
            (
                "malgrupp_last_run_rows_quarantined",
                "Rows quarantined by the pipeline's last run (ledger).",
            ),
            (
                "malgrupp_last_run_rows_written",
                "Rows written by the pipeline's last run (ledger).",
            ),
            (
                "malgrupp_last_run_success",
                "1 if the pipeline's last run succeeded (ok or unchanged), else 0 (ledger).",
            ),
            (
                "malgrupp_last_success_timestamp_seconds",
                "Unix time of the start of the pipeline's last successful run (ledger).",
            ),
        ];
        for (name, help) in gauges {
            family(&mut out, name, "gauge", help);
            for p in pipelines {
                let last = manifest.last_run(p);
                let value = match name {
                    "malgrupp_last_run_duration_seconds" => {
                        last.map(|r| r.duration_ms as f64 / 1000.0)
                    }
                    "malgrupp_last_run_rows_quarantined" => last.map(|r| r.rows_quarantined as f64),
                    "malgrupp_last_run_rows_written" => last.map(|r| r.rows_written as f64),
                    "malgrupp_last_run_success" => last.map(|r| f64::from(u8::from(r.succeeded()))),
                    _ => manifest
                        .last_success(p)
                        .and_then(|r| chrono::DateTime::parse_from_rfc3339(&r.started_at).ok())
                        .map(|t| t.timestamp() as f64),
                };
                if let Some(v) = value {
                    let _ = writeln!(out, "{name}{{pipeline=\"{}\"}} {v}", label(p));
                }
            }
        }
        // What runs alone do not show: a publish, or a Delta commit of `[publish] delta`
        // or `[lake] delta`, that failed after the runs succeeded (the log says which).
        if let Some((at, problems)) = m.refresh {
            family(
                &mut out,
                "malgrupp_last_refresh_problems",
                "gauge",
                "Problems of this process's last refresh after runs (views, publishing, the Delta commits of [publish] delta and [lake] delta); 0 when all went well.",
            );
            let _ = writeln!(out, "malgrupp_last_refresh_problems {problems}");
            family(
                &mut out,
                "malgrupp_last_refresh_timestamp_seconds",
                "gauge",
                "Unix time this process's last refresh after runs ended.",
            );
            let _ = writeln!(
                out,
                "malgrupp_last_refresh_timestamp_seconds {}",
                at.timestamp()
            );
        }
        // A replica that stopped following its copy serves ever older figures without
        // any run failing: only these show it.
        if let Some((counts, last_ok)) = m.polls {
            family(
                &mut out,
                "malgrupp_lake_polls_total",
                "counter",
                "Looks in the lake's copy for runs other hosts committed ([lake] poll_seconds), by result.",
            );
            for (result, n) in ["ok", "failed"].iter().zip(counts) {
                let _ = writeln!(out, "malgrupp_lake_polls_total{{result=\"{result}\"}} {n}");
            }
            if let Some(at) = last_ok {
                family(
                    &mut out,
                    "malgrupp_last_lake_poll_success_timestamp_seconds",
                    "gauge",
                    "Unix time this process last looked in the lake's copy successfully.",
                );
                let _ = writeln!(
                    out,
                    "malgrupp_last_lake_poll_success_timestamp_seconds {}",
                    at.timestamp()
                );
            }
        }
        out
    }
}

/// A label value escaped as the exposition format requires.
fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposition_has_counters_and_ledger_gauges() {
        let m = Metrics::default();
        let mut r = RunReport::new("kalmar_fs", "ok");
        r.rows_in = 10;
        r.rows_written = 9;
        r.rows_quarantined = 1;
        m.started("kalmar_fs");
        m.observe(&r);
        m.observe(&RunReport::new("kalmar_fs", "skipped"));
        let mut manifest = Manifest::default();
        manifest.runs.push(crate::lake::manifest::RunRecord {
            run_id: "x".into(),
            pipeline: "kalmar_fs".into(),
            started_at: "2026-11-23T01:30:00+00:00".into(),
            duration_ms: 1500,
            status: "ok".into(),
            message: None,
            files_read: 1,
            rows_in: 10,
            rows_written: 9,
            rows_quarantined: 1,
            lineage: Vec::new(),
            trigger: "schedule".into(),
            scheduled_for: None,
            attempt: 1,
        });
        // No refresh yet: no refresh gauges (an alert on them does not fire on a start).
        assert!(!m.render(&[], &manifest).contains("refresh"));
        let at = chrono::DateTime::from_timestamp(1_795_397_500, 0).expect("time");
        m.refreshed(at, 2);
        let text = m.render(&["kalmar_fs".into()], &manifest);
        for line in [
            "malgrupp_last_refresh_problems 2",
            "malgrupp_last_refresh_timestamp_seconds 1795397500",
            "malgrupp_runs_total{pipeline=\"kalmar_fs\",outcome=\"ok\"} 1",
            "malgrupp_runs_total{pipeline=\"kalmar_fs\",outcome=\"skipped\"} 1",
            "malgrupp_rows_total{pipeline=\"kalmar_fs\",kind=\"quarantined\"} 1",
            "malgrupp_run_in_progress{pipeline=\"kalmar_fs\"} 0",
            "malgrupp_last_run_duration_seconds{pipeline=\"kalmar_fs\"} 1.5",
            "malgrupp_last_success_timestamp_seconds{pipeline=\"kalmar_fs\"} 1795397400",
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line} in\n{text}");
        }
        assert_eq!(label("a\"b"), "a\\\"b");
        // Polls shown only once there were some (a host without a copy has none).
        assert!(!text.contains("poll"), "{text}");
        m.polled(at, false);
        let text = m.render(&[], &manifest);
        for line in [
            "malgrupp_lake_polls_total{result=\"ok\"} 0",
            "malgrupp_lake_polls_total{result=\"failed\"} 1",
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line} in\n{text}");
        }
        assert!(!text.contains("poll_success"), "{text}");
        m.polled(at, true);
        let text = m.render(&[], &manifest);
        for line in [
            "malgrupp_lake_polls_total{result=\"ok\"} 1",
            "malgrupp_lake_polls_total{result=\"failed\"} 1",
            "malgrupp_last_lake_poll_success_timestamp_seconds 1795397500",
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line} in\n{text}");
        }
    }
}
