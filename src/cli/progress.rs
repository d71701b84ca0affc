//! The progress bars of an interactive `malgrupp run`: one line per pipeline showing its
//! stage, bytes downloaded and rows processed (indicatif), fed by the hooks of
//! [`crate::progress`]. When stderr is not a terminal (cron, systemd, CI, a pipe) there
//! are no bars at all.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::pipeline::RunReport;
use crate::progress;

/// The bars of one `run` command.
pub struct Progress {
    multi: Option<MultiProgress>,
}

impl Drop for Progress {
    fn drop(&mut self) {
        progress::set_bars(None);
    }
}

/// The bar of one pipeline; removed when finished.
pub struct PipelineBar {
    name: String,
    bar: Option<ProgressBar>,
}

impl Progress {
    /// Bars for `pipelines` runs when stderr is a terminal, otherwise nothing.
    pub fn new(pipelines: usize) -> Progress {
        let tty = std::io::stderr().is_terminal();
        let bars = (tty && pipelines > 0)
            .then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr()));
        progress::set_bars(bars.clone());
        Progress { multi: bars }
    }

    /// Starts the bar of `pipeline`.
    pub fn pipeline(&self, pipeline: &str) -> PipelineBar {
        let bar = self.multi.as_ref().map(|m| {
            let bar = m.add(ProgressBar::new_spinner());
            let style = ProgressStyle::with_template("{spinner} {prefix:<24} {elapsed:>4} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner());
            bar.set_style(style);
            bar.set_prefix(pipeline.to_string());
            bar.set_message("fetching");
            bar.enable_steady_tick(Duration::from_millis(120));
            progress::register(pipeline, bar.clone());
            bar
        });
        PipelineBar {
            name: pipeline.to_string(),
            bar,
        }
    }
}

impl PipelineBar {
    /// Ends the bar with the run's outcome.
    pub fn finish(self, report: &RunReport) {
        progress::unregister(&self.name);
        if let Some(bar) = self.bar {
            bar.finish_with_message(format!(
                "{} — {} rows written, {} quarantined",
                report.status, report.rows_written, report.rows_quarantined
            ));
        }
    }
}
