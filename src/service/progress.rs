//! Progress bars of an interactive `malgrupp run`: one line per pipeline showing its
//! stage, bytes downloaded and rows processed (indicatif). When stderr is not a terminal
//! (cron, systemd, CI, a pipe) there are no bars at all and the hooks cost a map lookup.
//!
//! The transport and the mapper report through [`downloaded`] and [`rows`], keyed by the
//! pipeline's name, so progress needs no parameter threaded through every layer; a name
//! without a bar (the service, a test) is ignored.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::pipeline::RunReport;

fn multi() -> &'static Mutex<Option<MultiProgress>> {
    static MULTI: OnceLock<Mutex<Option<MultiProgress>>> = OnceLock::new();
    MULTI.get_or_init(Default::default)
}

/// The log writer: stderr, with the bars (if any) hidden while a line is written.
#[derive(Debug, Clone, Copy)]
pub struct LogWriter;

impl std::io::Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let bars = multi().lock().ok().and_then(|m| m.clone());
        match bars {
            Some(m) => m.suspend(|| std::io::stderr().write(buf)),
            None => std::io::stderr().write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogWriter {
    type Writer = LogWriter;

    fn make_writer(&'a self) -> Self::Writer {
        LogWriter
    }
}

fn bars() -> &'static Mutex<HashMap<String, ProgressBar>> {
    static BARS: OnceLock<Mutex<HashMap<String, ProgressBar>>> = OnceLock::new();
    BARS.get_or_init(Default::default)
}

fn with_bar(pipeline: &str, f: impl FnOnce(&ProgressBar)) {
    if let Ok(map) = bars().lock()
        && let Some(bar) = map.get(pipeline)
    {
        f(bar);
    }
}

/// `bytes` more of an extract of `pipeline` arrived.
pub fn downloaded(pipeline: &str, bytes: u64) {
    with_bar(pipeline, |b| {
        let total = b.position() + bytes;
        b.set_position(total);
        b.set_message(format!("downloading {}", human_bytes(total)));
    });
}

/// `pipeline` entered a stage (`decoding 3 extracts`, `writing 12 partitions`).
pub fn stage(pipeline: &str, message: &str) {
    with_bar(pipeline, |b| b.set_message(message.to_string()));
}

/// `n` more rows of `pipeline` were mapped.
pub fn rows(pipeline: &str, n: u64) {
    with_bar(pipeline, |b| {
        b.set_message(format!("mapping rows: {}", n));
    });
}

/// The bars of one `run` command.
pub struct Progress {
    multi: Option<MultiProgress>,
}

impl Drop for Progress {
    fn drop(&mut self) {
        if let Ok(mut m) = multi().lock() {
            *m = None;
        }
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
        if let Ok(mut m) = multi().lock() {
            m.clone_from(&bars);
        }
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
            if let Ok(mut map) = bars().lock() {
                map.insert(pipeline.to_string(), bar.clone());
            }
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
        if let Ok(mut map) = bars().lock() {
            map.remove(&self.name);
        }
        if let Some(bar) = self.bar {
            bar.finish_with_message(format!(
                "{} — {} rows written, {} quarantined",
                report.status, report.rows_written, report.rows_quarantined
            ));
        }
    }
}

fn human_bytes(n: u64) -> String {
    match n {
        n if n >= 1 << 20 => format!("{:.1} MB", n as f64 / f64::from(1u32 << 20)),
        n if n >= 1 << 10 => format!("{:.0} kB", n as f64 / 1024.0),
        n => format!("{n} B"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hooks_without_a_bar_do_nothing_and_sizes_read_well() {
        downloaded("no-such-pipeline", 10);
        rows("no-such-pipeline", 10);
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(2048), "2 kB");
        assert_eq!(human_bytes(3 << 20), "3.0 MB");
    }
}
