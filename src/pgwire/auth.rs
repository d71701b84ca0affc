//! Password authentication with SCRAM-SHA-256: the password never crosses the wire, and
//! the server keeps only salted hashes of it.

use std::collections::HashMap;
use std::fmt;

use async_trait::async_trait;
use datafusion_postgres::pgwire::api::auth::sasl::scram::{SCRAM_ITERATIONS, gen_salted_password};
use datafusion_postgres::pgwire::api::auth::{AuthSource, LoginInfo, Password};
use datafusion_postgres::pgwire::error::PgWireResult;

use crate::error::{Error, Result};

/// The users the server accepts: per user a random salt and the salted password.
pub(crate) struct Users {
    by_name: HashMap<String, Password>,
    /// Answered for unknown users, so that they fail like a wrong password does and
    /// the answer does not tell which user names exist.
    nobody: Password,
}

impl fmt::Debug for Users {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut names: Vec<&String> = self.by_name.keys().collect();
        names.sort();
        f.debug_struct("Users").field("names", &names).finish()
    }
}

fn salted(password: &str) -> Result<Password> {
    let mut salt = vec![0u8; 16];
    getrandom::fill(&mut salt)
        .map_err(|e| Error::Internal(format!("no randomness for a password salt: {e}")))?;
    let hash = gen_salted_password(password, &salt, SCRAM_ITERATIONS);
    Ok(Password::new(Some(salt), hash))
}

impl Users {
    pub(crate) fn new(users: &[(String, String)]) -> Result<Self> {
        let mut by_name = HashMap::new();
        for (name, password) in users {
            by_name.insert(name.clone(), salted(password)?);
        }
        let mut random = [0u8; 32];
        getrandom::fill(&mut random)
            .map_err(|e| Error::Internal(format!("no randomness for a password salt: {e}")))?;
        Ok(Users {
            by_name,
            nobody: salted(&hex::encode(random))?,
        })
    }
}

#[async_trait]
impl AuthSource for Users {
    async fn get_password(&self, login: &LoginInfo) -> PgWireResult<Password> {
        Ok(login
            .user()
            .and_then(|u| self.by_name.get(u))
            .unwrap_or(&self.nobody)
            .clone())
    }
}
