//! Bearer-token authentication for every route except health: read tokens and admin
//! tokens (which also start runs and read a non-public `/metrics`).
//!
//! Tokens are kept as SHA-256 digests and compared in constant time against every
//! configured token: neither the position of the first differing byte nor the length of a
//! token nor which token matched can be measured from the response time.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use super::App;
use super::encode::ApiError;

/// The accepted tokens, as digests.
pub(crate) struct Tokens(Vec<[u8; 32]>);

impl Tokens {
    pub(crate) fn new(tokens: &[String]) -> Self {
        Tokens(tokens.iter().map(|t| digest(t)).collect())
    }

    /// True when `presented` is one of the tokens. Looks at every token every time.
    pub(crate) fn accepts(&self, presented: &str) -> bool {
        let d = digest(presented);
        let mut any = 0u8;
        for t in &self.0 {
            any |= u8::from(constant_time_eq(t, &d));
        }
        // Keeps the optimizer from turning the loop into an early exit.
        std::hint::black_box(any) == 1
    }
}

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

fn constant_time_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    let diff = a
        .iter()
        .zip(b.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

/// The bearer token of a request, if it carries one.
fn presented(req: &Request) -> Option<&str> {
    req.headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(bearer)
}

/// Middleware: 401 with `WWW-Authenticate: Bearer` unless a read or an admin token is
/// presented.
pub(crate) async fn require_token(
    State(app): State<Arc<App>>,
    req: Request,
    next: Next,
) -> Response {
    match presented(&req) {
        // Both lists are always compared, so the time does not tell which one matched.
        Some(t) if app.tokens.accepts(t) | app.admin_tokens.accepts(t) => next.run(req).await,
        presented => unauthorized(presented.is_some()),
    }
}

/// Middleware inside [`require_token`]: 403 unless the token is an admin token.
pub(crate) async fn require_admin(
    State(app): State<Arc<App>>,
    req: Request,
    next: Next,
) -> Response {
    match presented(&req) {
        Some(t) if app.admin_tokens.accepts(t) => next.run(req).await,
        _ => ApiError::new(
            StatusCode::FORBIDDEN,
            "this needs an admin token (MALGRUPP_ADMIN_TOKENS); read tokens only read",
        )
        .into_response(),
    }
}

/// 401 with `WWW-Authenticate: Bearer`; `presented`: a token came, but not a valid one.
fn unauthorized(presented: bool) -> Response {
    let message = if presented {
        "invalid bearer token"
    } else {
        "missing bearer token: send `Authorization: Bearer <token>`"
    };
    let mut resp = ApiError::new(StatusCode::UNAUTHORIZED, message).into_response();
    resp.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer realm=\"malgrupp\""),
    );
    resp
}

/// The token of an `Authorization` value; the scheme is case-insensitive (RFC 9110).
fn bearer(value: &str) -> Option<&str> {
    let (scheme, rest) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| rest.trim())
        .filter(|t| !t.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_only_configured_tokens() {
        let t = Tokens::new(&["abc".to_string(), "def".to_string()]);
        assert!(t.accepts("abc"));
        assert!(t.accepts("def"));
        assert!(!t.accepts("ab"));
        assert!(!t.accepts("abcd"));
        assert!(!t.accepts(""));
    }

    #[test]
    fn parses_the_bearer_scheme() {
        assert_eq!(bearer("Bearer x1"), Some("x1"));
        assert_eq!(bearer("bearer  x1 "), Some("x1"));
        assert_eq!(bearer("Basic x1"), None);
        assert_eq!(bearer("Bearer "), None);
        assert_eq!(bearer("Bearer"), None);
    }
}
