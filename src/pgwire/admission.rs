//! Admission to the PostgreSQL endpoint (`serve::admission`): a connection must
//! authenticate within [`HANDSHAKE_DEADLINE`], at most [`HANDSHAKES_PER_PEER`] per IP
//! address and [`MAX_HANDSHAKES`] in all may be authenticating at once, and only an
//! authenticated one takes one of [`MAX_SESSIONS`] session slots; a full server answers
//! it "too many connections" (SQLSTATE 53300).

use std::fmt::Debug;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use datafusion_postgres::pgwire::api::auth::StartupHandler;
use datafusion_postgres::pgwire::api::{ClientInfo, METADATA_USER, PgWireConnectionState};
use datafusion_postgres::pgwire::error::{ErrorInfo, PgWireError, PgWireResult};
use datafusion_postgres::pgwire::messages::{PgWireBackendMessage, PgWireFrontendMessage};
use futures::Sink;

use super::compat::SessionUser;
use crate::serve::admission::{Admission, Standing};

/// Authenticated sessions served at once (each holds a DataFusion session).
pub const MAX_SESSIONS: usize = 64;
/// Connections still authenticating, from all addresses together.
pub const MAX_HANDSHAKES: usize = 128;
/// Connections still authenticating from one IP address.
pub const HANDSHAKES_PER_PEER: usize = 8;
/// Time from accept to a finished authentication; a client that is slower is closed.
pub const HANDSHAKE_DEADLINE: Duration = Duration::from_secs(5);

/// SQLSTATE `too_many_connections`.
const TOO_MANY_CONNECTIONS: &str = "53300";

/// The admission counters of the endpoint.
pub(crate) fn admission() -> Arc<Admission> {
    Admission::new(MAX_SESSIONS, MAX_HANDSHAKES, HANDSHAKES_PER_PEER)
}

/// The authentication of a connection, which takes a session slot once it succeeded.
pub(crate) struct Gate<H> {
    pub(crate) inner: Arc<H>,
    pub(crate) standing: Arc<Standing>,
    /// Where the session's functions read the authenticated user from.
    pub(crate) user: SessionUser,
}

#[async_trait]
impl<H: StartupHandler> StartupHandler for Gate<H> {
    async fn on_startup<C>(
        &self,
        client: &mut C,
        message: PgWireFrontendMessage,
    ) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        self.inner.on_startup(client, message).await?;
        let authenticated = matches!(client.state(), PgWireConnectionState::ReadyForQuery);
        if authenticated && let Some(user) = client.metadata().get(METADATA_USER) {
            self.user.set(user);
        }
        if authenticated && !self.standing.in_session() && !self.standing.enter() {
            tracing::warn!(
                peer = %client.socket_addr(),
                max = MAX_SESSIONS,
                "connection closed: too many sessions"
            );
            return Err(PgWireError::UserError(Box::new(ErrorInfo::new(
                "FATAL".to_string(),
                TOO_MANY_CONNECTIONS.to_string(),
                format!("sorry, too many clients already (at most {MAX_SESSIONS})"),
            ))));
        }
        Ok(())
    }
}
