//! Progress hooks: the transport, the mapper and the run report through [`downloaded`],
//! [`stage`] and [`rows`], keyed by the pipeline's name, so progress needs no parameter
//! threaded through every layer. This module is on the ground floor: it knows no stage,
//! and the stages know only these hooks. Whoever draws (the CLI's bars in
//! `cli::progress`) registers a bar per pipeline; a name without a bar (the service, a
//! test) is ignored, so without a terminal a hook costs a map lookup.
//!
//! The log writer lives here too: log lines and bars share stderr.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use indicatif::{MultiProgress, ProgressBar};

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

/// Draws `pipeline`'s progress on `bar` from now on.
pub fn register(pipeline: &str, bar: ProgressBar) {
    if let Ok(mut map) = bars().lock() {
        map.insert(pipeline.to_string(), bar);
    }
}

/// Stops drawing `pipeline`'s progress.
pub fn unregister(pipeline: &str) {
    if let Ok(mut map) = bars().lock() {
        map.remove(pipeline);
    }
}

/// The bars log lines must be written around (None: no bars).
pub fn set_bars(bars: Option<MultiProgress>) {
    if let Ok(mut m) = multi().lock() {
        *m = bars;
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
