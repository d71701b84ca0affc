//! CPU-bound work called from async code (a run's decoding and mapping, publishing's
//! suppression): on a multi-threaded runtime (`serve`) the worker thread is handed over
//! for it, so the API keeps answering meanwhile; elsewhere it simply runs.

/// Runs `work` to completion, handing the tokio worker over when there is one to hand.
pub fn cpu_bound<T>(work: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(tokio::runtime::RuntimeFlavor::MultiThread) => tokio::task::block_in_place(work),
        _ => work(),
    }
}
