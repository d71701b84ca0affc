//! The keyed pseudonym that replaces every identity number at ingestion.
//!
//! `person_id = hex(HMAC-SHA256(key, normalized 12-digit number))`. A register keyed by
//! another identifier (a customer id) gets `hex(HMAC-SHA256(key, "malgrupp person key"
//! NUL kind NUL value))`: its input never is twelve digits, and the kind (which holds no
//! NUL) separates ids of different kinds, so no two kinds can share a pseudonym short of
//! an HMAC collision. A plain hash would
//! be reversible by enumerating the few million possible numbers; the secret key makes
//! that impossible for anyone without it. The key lives outside the lake (default
//! `.malgrupp/pseudonym.key`, mode 0600) or in an environment variable.
//!
//! Rules: a key that is *configured* but missing or unreadable is an error (never a
//! silent fallback). Only when nothing is configured does the first run create a random
//! key at the default path, and it says so. Rotating the key changes every pseudonym, so
//! a rotation means reprocessing every extract (the manifest records a fingerprint of the
//! key and treats a new key as a change of every pipeline).

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::personnummer::Personnummer;
use crate::error::{Error, Problems, Result};

type HmacSha256 = Hmac<Sha256>;

/// What a person key's MAC input starts with (a personnummer's is twelve digits).
const KEY_DOMAIN: &[u8] = b"malgrupp person key\0";

/// Where the key comes from (validated settings).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// A file holding 64 hex digits. `explicit` is false for the built-in default path,
    /// the only case in which a missing file is created.
    File {
        /// Path of the key file.
        path: PathBuf,
        /// Whether the user configured this path.
        explicit: bool,
    },
    /// An environment variable holding 64 hex digits.
    Env(String),
}

/// A 32-byte secret key, held as the HMAC state after absorbing the key: each
/// pseudonym clones that state instead of hashing the key's pads again.
#[derive(Clone)]
pub struct PseudonymKey(HmacSha256);

impl fmt::Debug for PseudonymKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PseudonymKey(fingerprint {})", self.fingerprint())
    }
}

impl PseudonymKey {
    /// A key from raw bytes (tests and benchmarks).
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        // HMAC accepts keys of any length, so a 32-byte key cannot be refused.
        PseudonymKey(
            <HmacSha256 as Mac>::new_from_slice(&bytes).expect("HMAC takes any key length"),
        )
    }

    /// Loads (or, for the unconfigured default, creates) the key. The second value is a
    /// notice for the operator when a key was created.
    pub fn load(source: &KeySource) -> Result<(Self, Option<String>)> {
        match source {
            KeySource::Env(var) => {
                let value = std::env::var(var).map_err(|_| config_error("pseudonymization.key_env", format!("environment variable {var} is not set (it must hold the 64-hex-digit pseudonymization key)")))?;
                Ok((
                    parse_hex(&value).ok_or_else(|| {
                        config_error(
                            "pseudonymization.key_env",
                            format!("environment variable {var} must hold exactly 64 hex digits"),
                        )
                    })?,
                    None,
                ))
            }
            KeySource::File { path, explicit } => match std::fs::read_to_string(path) {
                Ok(text) => {
                    let key = parse_hex(&text).ok_or_else(|| {
                        config_error(
                            "pseudonymization.key_file",
                            format!("{} must hold exactly 64 hex digits", path.display()),
                        )
                    })?;
                    Ok((key, None))
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound && !explicit => {
                    let key = create_key_file(path)?;
                    let notice = format!(
                        "created a new pseudonymization key at {} (keep it secret and backed up: losing or rotating it changes every person_id)",
                        path.display()
                    );
                    Ok((key, Some(notice)))
                }
                Err(e) => Err(config_error(
                    "pseudonymization.key_file",
                    format!(
                        "cannot read the configured key file {}: {e}",
                        path.display()
                    ),
                )),
            },
        }
    }

    /// What [`load`](Self::load) would refuse, found without creating the default key
    /// file: what `check` reports, so that `check` passing means `run` can start.
    pub fn validate(source: &KeySource) -> Result<()> {
        match source {
            KeySource::File {
                path,
                explicit: false,
            } if !path.exists() => Ok(()),
            s => Self::load(s).map(|_| ()),
        }
    }

    /// The pseudonym of a validated identity number: 64 lowercase hex digits.
    pub fn pseudonymize(&self, pnr: &Personnummer) -> String {
        hex::encode(self.mac(pnr.normalized().as_bytes()))
    }

    /// The pseudonym of a person key of `kind` that is not a personnummer (see the
    /// module's header for the domain separation): 64 lowercase hex digits.
    pub fn pseudonymize_key(&self, kind: &str, value: &str) -> String {
        let mut mac = self.0.clone();
        for part in [KEY_DOMAIN, kind.as_bytes(), b"\0", value.as_bytes()] {
            mac.update(part);
        }
        hex::encode(mac.finalize().into_bytes())
    }

    /// A short, non-secret fingerprint of the key (recorded in the manifest so that a
    /// rotated key is noticed).
    pub fn fingerprint(&self) -> String {
        hex::encode(&self.mac(b"malgrupp key fingerprint")[..6])
    }

    fn mac(&self, data: &[u8]) -> [u8; 32] {
        let mut mac = self.0.clone();
        mac.update(data);
        mac.finalize().into_bytes().into()
    }
}

fn config_error(field: &str, message: String) -> Error {
    let mut p = Problems::default();
    p.push("malgrupp.toml", field, message);
    Error::Config(p)
}

fn parse_hex(text: &str) -> Option<PseudonymKey> {
    let bytes = hex::decode(text.trim()).ok()?;
    Some(PseudonymKey::from_bytes(bytes.try_into().ok()?))
}

fn create_key_file(path: &Path) -> Result<PseudonymKey> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| {
        Error::Internal(format!(
            "no system randomness for the pseudonymization key: {e}"
        ))
    })?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(|e| Error::io(path, e))?;
    file.write_all(hex::encode(bytes).as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|e| Error::io(path, e))?;
    Ok(PseudonymKey::from_bytes(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    #[test]
    fn pseudonym_is_keyed_and_stable() {
        let r = NaiveDate::from_ymd_opt(2015, 5, 31).expect("date");
        let a = Personnummer::parse("199401012399", r).expect("valid");
        let b = Personnummer::parse("940101-2399", r).expect("valid");
        let k1 = PseudonymKey::from_bytes([1; 32]);
        let k2 = PseudonymKey::from_bytes([2; 32]);
        assert_eq!(
            k1.pseudonymize(&a),
            k1.pseudonymize(&b),
            "all forms of one number give one pseudonym"
        );
        assert_ne!(
            k1.pseudonymize(&a),
            k2.pseudonymize(&a),
            "another key, another pseudonym"
        );
        assert_eq!(k1.pseudonymize(&a).len(), 64);
        assert!(!k1.pseudonymize(&a).contains("2399"));
    }

    #[test]
    fn person_keys_are_separated_by_kind_and_from_personnummer() {
        let k = PseudonymKey::from_bytes([7; 32]);
        let r = NaiveDate::from_ymd_opt(2015, 5, 31).expect("date");
        let pnr = Personnummer::parse("199401012399", r).expect("valid");
        // The same text as a personnummer, as a customer id of two issuers, and split
        // differently between kind and value: four different pseudonyms.
        let all = [
            k.pseudonymize(&pnr),
            k.pseudonymize_key("kund_id/a", "199401012399"),
            k.pseudonymize_key("kund_id/b", "199401012399"),
            k.pseudonymize_key("kund_id/a1", "99401012399"),
        ];
        let distinct: std::collections::BTreeSet<&String> = all.iter().collect();
        assert_eq!(distinct.len(), 4, "{all:?}");
        assert_eq!(
            k.pseudonymize_key("kund_id/a", "K-1001"),
            k.pseudonymize_key("kund_id/a", "K-1001")
        );
        assert_ne!(
            k.pseudonymize_key("kund_id/a", "K-1001"),
            PseudonymKey::from_bytes([8; 32]).pseudonymize_key("kund_id/a", "K-1001")
        );
    }

    #[test]
    fn default_key_is_created_once_with_private_mode() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("k/pseudonym.key");
        let source = KeySource::File {
            path: path.clone(),
            explicit: false,
        };
        let (k1, notice) = PseudonymKey::load(&source).expect("created");
        assert!(notice.is_some());
        let (k2, notice) = PseudonymKey::load(&source).expect("read back");
        assert!(notice.is_none());
        assert_eq!(k1.fingerprint(), k2.fingerprint());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).expect("meta").permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
    }

    #[test]
    fn configured_key_missing_is_an_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let source = KeySource::File {
            path: dir.path().join("absent.key"),
            explicit: true,
        };
        let err = PseudonymKey::load(&source).expect_err("must not fall back");
        assert!(
            err.to_string()
                .contains("cannot read the configured key file"),
            "{err}"
        );
        assert!(!dir.path().join("absent.key").exists());
        let bad = dir.path().join("bad.key");
        std::fs::write(&bad, "not hex").expect("write");
        let err = PseudonymKey::load(&KeySource::File {
            path: bad,
            explicit: true,
        })
        .expect_err("bad content");
        assert!(err.to_string().contains("64 hex digits"));
        let err = PseudonymKey::load(&KeySource::Env("MALGRUPP_TEST_UNSET_KEY_VAR".into()))
            .expect_err("unset env");
        assert!(err.to_string().contains("is not set"));
    }
}
