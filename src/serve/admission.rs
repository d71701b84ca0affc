//! Who may hold a connection to the HTTP API or the PostgreSQL endpoint: a client that
//! has not proven itself yet (sent a request, authenticated) costs a socket only, and
//! only a few per address; the session slots are for clients that have.
//!
//! A cap taken at accept lets sockets that connect and send nothing (or half a request)
//! hold every slot and lock everybody out. So a new connection is first a *handshake*
//! (capped per IP address and in all, and closed by the endpoint after a short deadline)
//! and takes a session slot only once it is admitted.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The counters of the whole endpoint.
#[derive(Debug)]
pub(crate) struct Admission {
    sessions: Arc<Semaphore>,
    handshakes: Mutex<HashMap<IpAddr, usize>>,
    max_handshakes: usize,
    handshakes_per_peer: usize,
}

impl Admission {
    /// At most `sessions` admitted connections, and `handshakes` not yet admitted, of
    /// which `per_peer` from one address.
    pub(crate) fn new(sessions: usize, handshakes: usize, per_peer: usize) -> Arc<Self> {
        Arc::new(Admission {
            sessions: Arc::new(Semaphore::new(sessions)),
            handshakes: Mutex::new(HashMap::new()),
            max_handshakes: handshakes,
            handshakes_per_peer: per_peer,
        })
    }

    /// A handshake for a connection from `peer`, or None when that address or the
    /// server already has as many as allowed.
    pub(crate) fn handshake(self: &Arc<Self>, peer: IpAddr) -> Option<Handshake> {
        // A poisoned lock only means a panic elsewhere; the counts are still whole.
        let mut open = self
            .handshakes
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let total: usize = open.values().sum();
        let mine = open.entry(peer).or_insert(0);
        if *mine >= self.handshakes_per_peer || total >= self.max_handshakes {
            return None;
        }
        *mine += 1;
        Some(Handshake {
            admission: self.clone(),
            peer,
        })
    }

    /// The next connection of `listener` that may start its handshake, with the standing
    /// it holds. A failed accept (out of file descriptors and the like) is logged and
    /// waited out, so the others keep being served; a connection over a cap is logged
    /// with `refused` and closed. Cancel-safe: nothing is lost when another branch of a
    /// `select!` wins.
    pub(crate) async fn next(
        self: &Arc<Self>,
        listener: &TcpListener,
        refused: &str,
    ) -> (TcpStream, SocketAddr, Arc<Standing>) {
        loop {
            let (socket, peer) = match listener.accept().await {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            match self.handshake(peer.ip()) {
                Some(handshake) => return (socket, peer, Standing::new(self.clone(), handshake)),
                None => tracing::warn!(%peer, "{refused}"),
            }
        }
    }
}

/// One connection still authenticating; dropping it frees its place.
#[derive(Debug)]
pub(crate) struct Handshake {
    admission: Arc<Admission>,
    peer: IpAddr,
}

impl Drop for Handshake {
    fn drop(&mut self) {
        let mut open = self
            .admission
            .handshakes
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(n) = open.get_mut(&self.peer) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                open.remove(&self.peer);
            }
        }
    }
}

/// Where one connection stands: handshaking, or admitted and holding a session slot.
#[derive(Debug)]
pub(crate) struct Standing {
    admission: Arc<Admission>,
    handshake: Mutex<Option<Handshake>>,
    session: Mutex<Option<OwnedSemaphorePermit>>,
}

impl Standing {
    pub(crate) fn new(admission: Arc<Admission>, handshake: Handshake) -> Arc<Self> {
        Arc::new(Standing {
            admission,
            handshake: Mutex::new(Some(handshake)),
            session: Mutex::new(None),
        })
    }

    /// Whether the connection has authenticated and holds a session slot.
    pub(crate) fn in_session(&self) -> bool {
        self.session
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_some()
    }

    /// Turns the handshake into a session, if a slot is free.
    pub(crate) fn enter(&self) -> bool {
        let Ok(permit) = self.admission.sessions.clone().try_acquire_owned() else {
            return false;
        };
        *self.session.lock().unwrap_or_else(PoisonError::into_inner) = Some(permit);
        self.handshake
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handshakes_are_capped_per_address_and_freed_on_drop() {
        let a = Admission::new(4, 10, 3);
        let one: IpAddr = [127, 0, 0, 2].into();
        let other: IpAddr = [127, 0, 0, 3].into();
        let held: Vec<Handshake> = (0..3)
            .map(|_| a.handshake(one).expect("under the cap"))
            .collect();
        assert!(a.handshake(one).is_none(), "one address is capped");
        assert!(a.handshake(other).is_some(), "another address is not");
        drop(held);
        assert!(a.handshake(one).is_some(), "places are freed");
        let all: Vec<Handshake> = (0..10u8)
            .filter_map(|i| a.handshake([10, 0, 0, i].into()))
            .collect();
        assert_eq!(all.len(), 10);
        assert!(a.handshake([10, 0, 1, 1].into()).is_none(), "capped in all");
    }

    #[test]
    fn sessions_are_capped_and_freed() {
        let a = Admission::new(4, 10, 10);
        let peer: IpAddr = [127, 0, 0, 1].into();
        let mut standings = Vec::new();
        for i in 0..5 {
            let s = Standing::new(a.clone(), a.handshake(peer).expect("handshake"));
            assert_eq!(s.enter(), i < 4, "session {i}");
            assert_eq!(s.in_session(), i < 4, "session {i}");
            standings.push(s);
        }
        standings.remove(0);
        let s = Standing::new(a.clone(), a.handshake(peer).expect("handshake"));
        assert!(s.enter(), "a slot freed by a closed session");
    }
}
