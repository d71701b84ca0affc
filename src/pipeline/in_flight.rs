//! How many extracts a run decodes side by side: while their sizes together stay under a
//! cap, one alone always. Decoding an extract held it whole, bytes and text, about four
//! times its size: a national year in twelve 77 MB files peaked at 1342 MB decoded two
//! at a time, against 829 MB one at a time, while twelve 15 MB files gain a fifth of
//! their ingest time from going side by side. A CSV extract is now read a block at a
//! time (`format::csv`), so what decoding it holds no longer follows its size; the
//! workbook and JSON formats still read theirs whole, and for them the cap still bounds
//! what is held.

use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};

/// Bytes of extracts being decoded, up to a cap.
pub(super) struct InFlight {
    cap: usize,
    bytes: Mutex<usize>,
    freed: Condvar,
}

/// An extract's place among those being decoded; its bytes are given back when dropped.
pub(super) struct Pass<'a> {
    gate: &'a InFlight,
    size: usize,
}

impl InFlight {
    /// A cap of `cap` bytes of extracts decoded at the same time.
    pub(super) fn new(cap: usize) -> Self {
        InFlight {
            cap,
            bytes: Mutex::new(0),
            freed: Condvar::new(),
        }
    }

    /// Waits until an extract of `size` bytes may be decoded: when nothing else is, or
    /// when it fits under the cap with what is.
    pub(super) fn enter(&self, size: usize) -> Pass<'_> {
        let mut bytes = self.lock();
        while !admits(*bytes, size, self.cap) {
            bytes = self
                .freed
                .wait(bytes)
                .unwrap_or_else(PoisonError::into_inner);
        }
        *bytes += size;
        Pass { gate: self, size }
    }

    fn lock(&self) -> MutexGuard<'_, usize> {
        self.bytes.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Drop for Pass<'_> {
    fn drop(&mut self) {
        *self.gate.lock() -= self.size;
        self.gate.freed.notify_all();
    }
}

/// Whether an extract of `size` bytes may start while `in_flight` bytes are decoded.
fn admits(in_flight: usize, size: usize, cap: usize) -> bool {
    in_flight == 0 || in_flight.saturating_add(size) <= cap
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;
    use std::time::Duration;

    #[test]
    fn small_extracts_go_side_by_side_a_large_one_alone() {
        assert!(admits(0, 500, 100), "alone, whatever its size");
        assert!(admits(40, 60, 100));
        assert!(!admits(40, 61, 100));
        assert!(!admits(1, usize::MAX, 100));
    }

    #[test]
    fn an_extract_waits_until_the_bytes_before_it_are_given_back() {
        let gate = InFlight::new(100);
        let first = gate.enter(60);
        let second = gate.enter(40);
        let (entered, seen) = mpsc::channel();
        std::thread::scope(|s| {
            s.spawn(|| {
                let _third = gate.enter(70);
                entered.send(()).expect("send");
            });
            assert!(
                seen.recv_timeout(Duration::from_millis(200)).is_err(),
                "entered over the cap"
            );
            drop(first);
            assert!(
                seen.recv_timeout(Duration::from_millis(200)).is_err(),
                "40 + 70 is over the cap too"
            );
            drop(second);
            seen.recv_timeout(Duration::from_secs(10))
                .expect("entered once alone");
        });
        assert_eq!(*gate.lock(), 0, "every pass gave its bytes back");
    }
}
