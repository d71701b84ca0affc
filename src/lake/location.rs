//! Where a lake lives: a local directory (the default, also written `file:///…`) or a
//! prefix in an object store (`s3://bucket/prefix` on any S3-compatible endpoint,
//! `az://container/prefix` on Azure Blob Storage), and the client of that store.
//!
//! Credentials never come from the settings file: a location carrying a user, a password
//! or a query string is refused, and the store client takes its endpoint and keys from
//! the environment (`AWS_*`, `AZURE_*`, as the object_store crate names them) or the
//! instance role. The environment is passed in rather than read here, so tests point a
//! client at their own server without touching the process's environment.

use std::path::PathBuf;
use std::sync::Arc;

use object_store::ObjectStore;
use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use object_store::azure::{AzureConfigKey, MicrosoftAzureBuilder};
use object_store::path::Path as StorePath;

/// A lake's location, as written in `[lake] root`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A directory on local disk.
    Local(PathBuf),
    /// A prefix in an object store.
    Object(ObjectLocation),
}

/// The object stores a lake can live in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// Any S3-compatible store (`s3://`).
    S3,
    /// Azure Blob Storage (`az://`).
    Azure,
}

/// A prefix in an object store: `<scheme>://<bucket>/<prefix>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectLocation {
    /// Which kind of store.
    pub scheme: Scheme,
    /// The bucket (S3) or container (Azure).
    pub bucket: String,
    /// The lake's prefix inside it (empty: the whole bucket).
    pub prefix: String,
}

impl Location {
    /// Reads `[lake] root`. A text without `scheme://` is a local path; `Err` says what
    /// was expected.
    pub fn parse(text: &str) -> std::result::Result<Location, String> {
        let Some((scheme, rest)) = text.split_once("://") else {
            return Ok(Location::Local(PathBuf::from(text)));
        };
        let scheme = match scheme.to_ascii_lowercase().as_str() {
            "file" if rest.starts_with('/') => return Ok(Location::Local(PathBuf::from(rest))),
            "file" => {
                return Err(format!(
                    "`{text}`: a file:// root must be an absolute path, as file:///srv/lake"
                ));
            }
            "s3" | "s3a" => Scheme::S3,
            "az" | "azure" | "abfs" | "abfss" => Scheme::Azure,
            other => {
                return Err(format!(
                    "`{text}`: unknown scheme `{other}://`; expected a local path, file:///…, s3://bucket/prefix or az://container/prefix"
                ));
            }
        };
        if rest.contains(['?', '#']) {
            return Err(format!(
                "`{}://…`: options and credentials do not belong in the root; set them in the environment (AWS_*, AZURE_*)",
                scheme.as_str()
            ));
        }
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.contains('@') || bucket.contains(':') {
            return Err(format!(
                "`{}://…`: a user, password or port does not belong in the root; credentials come from the environment or the instance role, the endpoint from AWS_ENDPOINT",
                scheme.as_str()
            ));
        }
        if bucket.is_empty() {
            return Err(format!("`{text}`: the bucket or container name is missing"));
        }
        Ok(Location::Object(ObjectLocation {
            scheme,
            bucket: bucket.to_string(),
            prefix: prefix.trim_matches('/').to_string(),
        }))
    }
}

impl Scheme {
    fn as_str(self) -> &'static str {
        match self {
            Scheme::S3 => "s3",
            Scheme::Azure => "az",
        }
    }
}

impl std::fmt::Display for ObjectLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}://{}/{}",
            self.scheme.as_str(),
            self.bucket,
            self.prefix
        )
    }
}

/// A location opened: its store, the path of its root in that store, how errors name
/// it, and the URL DataFusion registers the store under.
pub struct Opened {
    /// The store client.
    pub store: Arc<dyn ObjectStore>,
    /// The root's path in the store.
    pub root: StorePath,
    /// The root as errors name it (`s3://bucket/prefix`, `file:///dir`).
    pub shown: String,
    /// The store's URL (`s3://bucket`, `file://`).
    pub url: datafusion::execution::object_store::ObjectStoreUrl,
}

impl std::fmt::Display for Location {
    /// As a person wrote it: the directory, or `s3://bucket/prefix`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Location::Local(dir) => write!(f, "{}", dir.display()),
            Location::Object(object) => write!(f, "{object}"),
        }
    }
}

impl Location {
    /// Opens the store of this location (settings from `env`, for an object store). A
    /// local directory must exist.
    pub fn open_store(
        &self,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> crate::error::Result<Opened> {
        use crate::error::Error;
        match self {
            Location::Local(dir) => {
                let abs = std::fs::canonicalize(dir).map_err(|e| Error::io(dir, e))?;
                let root = StorePath::from_filesystem_path(&abs)
                    .map_err(|e| Error::Internal(format!("{}: {e}", abs.display())))?;
                Ok(Opened {
                    store: Arc::new(object_store::local::LocalFileSystem::new()),
                    shown: format!("file:///{root}"),
                    root,
                    url: datafusion::execution::object_store::ObjectStoreUrl::local_filesystem(),
                })
            }
            Location::Object(object) => {
                let store = object.open(env).map_err(|e| Error::Store {
                    object: object.to_string(),
                    source: e,
                })?;
                let url = datafusion::execution::object_store::ObjectStoreUrl::parse(format!(
                    "{}://{}",
                    object.scheme_name(),
                    object.bucket
                ))?;
                Ok(Opened {
                    store,
                    root: object.path(""),
                    shown: object.to_string(),
                    url,
                })
            }
        }
    }
}

impl ObjectLocation {
    /// The scheme as URLs of this store begin (`s3`, `az`).
    pub fn scheme_name(&self) -> &'static str {
        self.scheme.as_str()
    }

    /// A client of the store, configured from `env` (pass `std::env::vars()`): every
    /// `AWS_*` or `AZURE_*` variable the object_store crate knows, e.g. `AWS_ENDPOINT`,
    /// `AWS_ACCESS_KEY_ID`, `AWS_REGION`, `AWS_ALLOW_HTTP`. Unknown variables are ignored,
    /// as object_store's own `from_env` does.
    pub fn open(
        &self,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> std::result::Result<Arc<dyn ObjectStore>, object_store::Error> {
        let store: Arc<dyn ObjectStore> = match self.scheme {
            Scheme::S3 => Arc::new(
                settings::<AmazonS3ConfigKey>(env, "AWS_")
                    .fold(
                        AmazonS3Builder::new().with_bucket_name(&self.bucket),
                        |builder, (key, value)| builder.with_config(key, value),
                    )
                    .build()?,
            ),
            Scheme::Azure => Arc::new(
                settings::<AzureConfigKey>(env, "AZURE_")
                    .fold(
                        MicrosoftAzureBuilder::new().with_container_name(&self.bucket),
                        |builder, (key, value)| builder.with_config(key, value),
                    )
                    .build()?,
            ),
        };
        Ok(store)
    }

    /// The path of `relative` (e.g. `_meta/locks/fs.lease`) under the lake's prefix.
    pub fn path(&self, relative: &str) -> StorePath {
        if self.prefix.is_empty() {
            StorePath::from(relative)
        } else {
            StorePath::from(format!("{}/{relative}", self.prefix))
        }
    }
}

/// The variables of `env` named `<prefix>…` that a store builder knows as a setting
/// (`AWS_ENDPOINT` is `aws_endpoint`); the others are ignored.
fn settings<K: std::str::FromStr>(
    env: impl IntoIterator<Item = (String, String)>,
    prefix: &str,
) -> impl Iterator<Item = (K, String)> {
    env.into_iter().filter_map(move |(name, value)| {
        let key = name
            .starts_with(prefix)
            .then(|| name.to_ascii_lowercase().parse::<K>().ok())??;
        Some((key, value))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(text: &str) -> ObjectLocation {
        match Location::parse(text) {
            Ok(Location::Object(o)) => o,
            other => panic!("{text}: {other:?}"),
        }
    }

    #[test]
    fn paths_and_file_urls_are_local() {
        assert_eq!(Location::parse("data"), Ok(Location::Local("data".into())));
        assert_eq!(
            Location::parse("file:///srv/lake"),
            Ok(Location::Local("/srv/lake".into()))
        );
        assert!(Location::parse("file://srv/lake").is_err());
    }

    #[test]
    fn object_store_roots_name_bucket_and_prefix() {
        let s3 = object("s3://kommun-lake/malgrupp/prod/");
        assert_eq!(
            (s3.scheme, s3.bucket.as_str(), s3.prefix.as_str()),
            (Scheme::S3, "kommun-lake", "malgrupp/prod")
        );
        assert_eq!(
            s3.path("_meta/locks/fs.lease").as_ref(),
            "malgrupp/prod/_meta/locks/fs.lease"
        );
        assert_eq!(s3.to_string(), "s3://kommun-lake/malgrupp/prod");
        let az = object("az://lake");
        assert_eq!((az.scheme, az.prefix.as_str()), (Scheme::Azure, ""));
        assert_eq!(az.path("x").as_ref(), "x");
    }

    #[test]
    fn credentials_options_and_unknown_schemes_are_refused_with_what_was_expected() {
        for bad in [
            "s3://AKIA:secret@bucket/lake",
            "s3://bucket:9000/lake",
            "s3://bucket/lake?access_key=AKIA",
            "s3:///lake",
            "gs://bucket/lake",
        ] {
            let e = Location::parse(bad).expect_err(bad);
            assert!(
                !e.contains("secret") && !e.contains("AKIA"),
                "{bad}: echoes a credential: {e}"
            );
            assert!(
                e.contains("expected") || e.contains("environment") || e.contains("missing"),
                "{bad}: {e}"
            );
        }
    }
}
