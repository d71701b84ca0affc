//! Service settings (`malgrupp.toml`): where the lake, pipelines, views and key live.
//!
//! Every setting has a default, so the demo runs without a settings file. Relative
//! paths are relative to the directory of the settings file (or the working directory
//! when there is none).

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::{Error, Problems, Result};
use crate::lake::location::Location;
use crate::normalize::pseudonym::KeySource;

/// `malgrupp.toml` as written by the user.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSettings {
    /// Where the Parquet lake lives.
    #[serde(default)]
    pub lake: RawLake,
    /// Where pipeline files and SQL views live.
    #[serde(default)]
    pub paths: RawPaths,
    /// Where the pseudonymization key comes from.
    #[serde(default)]
    pub pseudonymization: RawPseudonymization,
    /// Rules for published outputs.
    #[serde(default)]
    pub publish: RawPublish,
    /// The HTTP API of `malgrupp serve`.
    #[serde(default)]
    pub serve: RawServe,
}

/// `[serve]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawServe {
    /// Address to listen on (default `127.0.0.1:8080`).
    pub listen: Option<std::net::SocketAddr>,
    /// Environment variable holding the accepted bearer tokens, comma-separated (default
    /// `MALGRUPP_API_TOKENS`). Tokens never go in this file.
    pub tokens_env: Option<String>,
    /// Environment variable holding the admin bearer tokens, comma-separated (default
    /// `MALGRUPP_ADMIN_TOKENS`): only they start runs and read a non-public `/metrics`.
    pub admin_tokens_env: Option<String>,
    /// Origins allowed by CORS (e.g. `https://dashboard.kommun.se`); default none.
    #[serde(default)]
    pub cors_origins: Vec<String>,
    /// Memory for all API queries together, MiB (default 256).
    pub memory_mb: Option<usize>,
    /// Per-query timeout in seconds (default 30).
    pub timeout_secs: Option<u64>,
    /// Largest result a query may return, rows (default 100 000).
    pub max_rows: Option<usize>,
    /// Environment variable holding a webhook URL called when a run fails and when a
    /// pipeline recovers, and under `serve` when a refresh or a look in the lake's copy
    /// fails and recovers (default `MALGRUPP_WEBHOOK_URL`; unset: no webhook).
    pub webhook_env: Option<String>,
    /// Serve `/metrics` without a token (default false: Prometheus sends the bearer token).
    pub metrics_public: Option<bool>,
    /// Address of the PostgreSQL wire-protocol endpoint for BI tools (e.g.
    /// `127.0.0.1:5432`); unset: no such endpoint.
    pub pg_listen: Option<std::net::SocketAddr>,
    /// Environment variable with its users as `user:password`, comma-separated (default
    /// `MALGRUPP_PG_USERS`). Passwords never go in this file.
    pub pg_users_env: Option<String>,
    /// How long shutdown waits for running pipelines to finish, seconds (default 120);
    /// a run still going after that is abandoned before it publishes.
    pub shutdown_grace_secs: Option<u64>,
}

/// `[lake]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLake {
    /// Root of the lake (default `data`): a directory (also written `file:///…`), or
    /// `s3://bucket/prefix` / `az://container/prefix` (credentials from the environment,
    /// never here): the lake is then committed there as Delta tables with its ledger
    /// (as `delta` would), and each host works in a local cache of it (`cache`), brought
    /// in from the store when empty.
    pub root: Option<PathBuf>,
    /// With `root` on object storage: this host's working directory of the lake (default
    /// `.malgrupp/lake`). Its raw extracts and quarantine go to the store too.
    pub cache: Option<PathBuf>,
    /// Mapped rows one run holds in memory, MiB (default 256); beyond it they are
    /// spilled to `<root>/_spill/` until the run stages them, so a run's memory does not
    /// grow with the size of its extracts. Extracts are decoded side by side (one per
    /// core) while their bytes together stay under a quarter of it.
    pub ingest_memory_mb: Option<usize>,
    /// Where the lake's tables are also committed as Delta tables, one per table,
    /// partitioned by kommun and period, for cluster engines (Spark, Trino, Databricks,
    /// Fabric): `s3://bucket/prefix`, `az://container/prefix` or a directory
    /// (credentials from the environment, never here). Pseudonymized rows are personal
    /// data: give the target the lake's access control. Unset: the lake stays local
    /// only (src/lake/mirror/).
    pub delta: Option<String>,
    /// Days a replaced version of those tables is kept (default 30).
    pub delta_keep_days: Option<u32>,
    /// With `delta` on object storage, hosts sharing that prefix take turns at each
    /// pipeline through a lease there, held for the whole run; it lasts this many seconds
    /// without a renewal (default 120, at least 3; renewed every third of it). A host
    /// killed mid-run holds its pipelines this long for the others (started again on
    /// the same machine, it takes them back at once).
    pub pipeline_lease_seconds: Option<u64>,
    /// With `delta` (or a root on object storage), how often `serve` looks there for runs
    /// other hosts sharing it committed, bringing them in and republishing when it finds
    /// some (default 300; 0: only at this host's own refreshes).
    pub poll_seconds: Option<u64>,
}

/// `[paths]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPaths {
    /// Directory of pipeline files, one `*.toml` per pipeline (default `pipelines`).
    pub pipelines: Option<PathBuf>,
    /// Directory of SQL views, one `*.sql` per view (default `sql`).
    pub sql: Option<PathBuf>,
    /// Directory of local agreements, one `*.toml` per agreement (default `agreements`).
    pub agreements: Option<PathBuf>,
}

/// `[pseudonymization]`: set at most one of the two.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPseudonymization {
    /// File with the key as 64 hex digits. Must exist when set.
    pub key_file: Option<PathBuf>,
    /// Environment variable with the key as 64 hex digits. Must be set when named.
    pub key_env: Option<String>,
}

/// Bytes of mapped rows a run holds in memory when `[lake] ingest_memory_mb` is not set.
pub const DEFAULT_INGEST_MEMORY_BYTES: usize = 256 * 1024 * 1024;

/// `[publish]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPublish {
    /// Counts from 1 up to this value minus one are suppressed in published views
    /// (default 5, so 1–4 are suppressed; 0 disables suppression).
    pub suppress_below: Option<u32>,
    /// Kommun-months whose cells are computed and held together while publishing
    /// (default 72: six kommuner with their months of up to twelve periods computed
    /// together). A chunk is whole kommuner; a kommun with more months than this is cut
    /// between its months. Lower takes less memory and more queries (docs/performance.md:
    /// 144 took 34.9 s and 1039 MB for a national year, 72 took 36.2 s and 766 MB).
    pub kommun_months_per_chunk: Option<usize>,
    /// Lake rows a chunk of kommun-months is computed from, at most (default 100,000;
    /// a kommun-month over it alone is a chunk of its own). A chunk's memory follows its
    /// rows: this bounds publishing when kommun-months are large (docs/performance.md).
    pub rows_per_chunk: Option<u64>,
    /// Days a published set is kept after it was replaced (default 30), so that
    /// `malgrupp export --as-of` can say what was published at any moment of them; 0
    /// keeps only the set before the current one.
    pub keep_days: Option<u32>,
    /// Where each publish is also committed as Delta tables, one per view, for
    /// engines and BI tools in the cloud: `s3://bucket/prefix`, `az://container/prefix`
    /// or a directory (credentials from the environment, never here). Unset: beside the
    /// lake's tables when its root is on object storage (`<root>/published`), else only
    /// the local `published/` (src/publish/delta.rs).
    pub delta: Option<String>,
}

/// Validated settings.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The settings file, if one was read.
    pub file: Option<PathBuf>,
    /// Lake root.
    pub lake_root: PathBuf,
    /// Bytes of mapped rows a run holds in memory before spilling (at least 1 MiB).
    pub ingest_memory_bytes: usize,
    /// Pipeline directory.
    pub pipelines_dir: PathBuf,
    /// SQL view directory.
    pub sql_dir: PathBuf,
    /// Agreement directory.
    pub agreements_dir: PathBuf,
    /// Pseudonymization key source.
    pub key_source: KeySource,
    /// Suppression threshold for published outputs.
    pub suppress_below: u32,
    /// Kommun-months computed and held together while publishing (at least 1).
    pub kommun_months_per_chunk: usize,
    /// Lake rows a publish's chunk is computed from, at most (at least 1).
    pub rows_per_chunk: u64,
    /// Days a replaced published set is kept (`[publish] keep_days`).
    pub published_keep_days: u32,
    /// Where the published views are committed as Delta tables (`[publish] delta`).
    pub published_delta: Option<Location>,
    /// Where the lake's tables are committed as Delta tables (`[lake] delta`, or `[lake]
    /// root` on object storage).
    pub lake_delta: Option<Location>,
    /// `[lake] root` on object storage: `lake_root` is then this host's cache of it
    /// (`[lake] cache`), brought in from it when empty.
    pub lake_store: Option<Location>,
    /// Days a replaced version of those is kept (`[lake] delta_keep_days`).
    pub lake_delta_keep_days: u32,
    /// How long a run's pipeline lease on `lake_delta`'s object store lasts without a
    /// renewal (`[lake] pipeline_lease_seconds`).
    pub pipeline_lease: std::time::Duration,
    /// How often `serve` brings in runs other hosts committed to `lake_delta`
    /// (`[lake] poll_seconds`); `None` without `lake_delta` or when 0.
    pub lake_poll: Option<std::time::Duration>,
    /// `[serve]` as written (turned into the API's configuration by `malgrupp serve`).
    pub serve: ServeSettings,
}

/// Validated `[serve]` settings.
#[derive(Debug, Clone)]
pub struct ServeSettings {
    /// Listen address.
    pub listen: std::net::SocketAddr,
    /// Environment variable with the (read-only) tokens.
    pub tokens_env: String,
    /// Environment variable with the admin tokens.
    pub admin_tokens_env: String,
    /// CORS origins.
    pub cors_origins: Vec<String>,
    /// Memory limit in bytes.
    pub memory_bytes: usize,
    /// Query timeout.
    pub timeout: std::time::Duration,
    /// Row limit.
    pub max_rows: usize,
    /// Environment variable with the webhook URL.
    pub webhook_env: String,
    /// `/metrics` without a token.
    pub metrics_public: bool,
    /// Grace period for running pipelines at shutdown.
    pub shutdown_grace: std::time::Duration,
    /// PostgreSQL endpoint address, if enabled.
    pub pg_listen: Option<std::net::SocketAddr>,
    /// Environment variable with the PostgreSQL users.
    pub pg_users_env: String,
}

/// Default key location: beside the lake, never inside it (nothing under it is published).
pub const DEFAULT_KEY_FILE: &str = ".malgrupp/pseudonym.key";

impl Settings {
    /// Reads `path` if given (it must exist), else `./malgrupp.toml` if present, else defaults.
    pub fn load(path: Option<&Path>) -> Result<Self> {
        let (file, raw) = match path {
            Some(p) => (Some(p.to_path_buf()), read(p)?),
            None if Path::new("malgrupp.toml").exists() => (
                Some(PathBuf::from("malgrupp.toml")),
                read(Path::new("malgrupp.toml"))?,
            ),
            None => (None, RawSettings::default()),
        };
        let base = file
            .as_deref()
            .and_then(Path::parent)
            .map(Path::to_path_buf)
            .unwrap_or_default();
        Self::validate(raw, file, &base)
    }

    /// Settings rooted at `base` with defaults (tests and the embedded demo).
    pub fn defaults_at(base: &Path) -> Self {
        // Defaults cannot fail validation.
        Self::validate(RawSettings::default(), None, base)
            .unwrap_or_else(|_| unreachable!("defaults are valid"))
    }

    fn validate(raw: RawSettings, file: Option<PathBuf>, base: &Path) -> Result<Self> {
        let mut problems = Problems::default();
        let name = file
            .as_ref()
            .map_or("malgrupp.toml (defaults)".to_string(), |f| {
                f.display().to_string()
            });
        let at = |p: PathBuf| {
            if p.is_absolute() || base.as_os_str().is_empty() {
                p
            } else {
                base.join(p)
            }
        };
        let key_source = match (raw.pseudonymization.key_file, raw.pseudonymization.key_env) {
            (Some(_), Some(_)) => {
                problems.push(
                    &name,
                    "pseudonymization",
                    "set either key_file or key_env, not both",
                );
                KeySource::Env(String::new())
            }
            (Some(f), None) => KeySource::File {
                path: at(f),
                explicit: true,
            },
            (None, Some(v)) if v.trim().is_empty() => {
                problems.push(
                    &name,
                    "pseudonymization.key_env",
                    "must name an environment variable",
                );
                KeySource::Env(v)
            }
            (None, Some(v)) => KeySource::Env(v),
            (None, None) => KeySource::File {
                path: at(PathBuf::from(DEFAULT_KEY_FILE)),
                explicit: false,
            },
        };
        let mut lake_store = None;
        let lake_root = match raw.lake.root {
            None => PathBuf::from("data"),
            Some(root) => match Location::parse(&root.to_string_lossy()) {
                Ok(Location::Local(path)) => path,
                Ok(object) => {
                    lake_store = Some(object);
                    raw.lake
                        .cache
                        .clone()
                        .unwrap_or_else(|| PathBuf::from(".malgrupp/lake"))
                }
                Err(e) => {
                    problems.push(&name, "lake.root", e);
                    PathBuf::new()
                }
            },
        };
        if lake_store.is_none() && raw.lake.cache.is_some() {
            problems.push(
                &name,
                "lake.cache",
                "only for a lake whose root is on object storage (s3://, az://); a lake in a directory is worked on where it is",
            );
        }
        // A Delta target: an object store as given, a directory beside the settings file.
        let mut delta_target = |raw: Option<&str>, key: &str| match raw.map(Location::parse) {
            None => None,
            Some(Ok(Location::Local(dir))) => Some(Location::Local(at(dir))),
            Some(Ok(object)) => Some(object),
            Some(Err(e)) => {
                problems.push(&name, key, e);
                None
            }
        };
        // With the lake's root on object storage, the published views go beside its
        // tables (`<root>/published/<view>`) unless given a place of their own.
        let published_delta =
            delta_target(raw.publish.delta.as_deref(), "publish.delta").or_else(|| {
                let store = lake_store.as_ref()?;
                Location::parse(&format!("{store}/published")).ok()
            });
        let mut lake_delta = delta_target(raw.lake.delta.as_deref(), "lake.delta");
        if let Some(store) = &lake_store {
            if lake_delta.is_some() {
                problems.push(
                    &name,
                    "lake.delta",
                    format!("the lake's root `{store}` is where its tables are committed as Delta tables already; remove `delta`"),
                );
            }
            lake_delta = Some(store.clone());
        }
        // One prefix holding both would mix views and record-level tables, and each sync
        // would take the other's tables for its own.
        if let (Some(lake), Some(published)) = (&lake_delta, &published_delta)
            && lake.to_string() == published.to_string()
        {
            problems.push(
                &name,
                "lake.delta",
                format!("`{lake}` is also `[publish] delta`: give the lake's tables and the published views prefixes of their own"),
            );
        }
        let pipeline_lease = raw.lake.pipeline_lease_seconds.unwrap_or(120);
        if pipeline_lease < 3 {
            problems.push(
                &name,
                "lake.pipeline_lease_seconds",
                format!(
                    "{pipeline_lease}: expected at least 3 (the lease is renewed every third of it)"
                ),
            );
        }
        let lake_poll = match raw.lake.poll_seconds.unwrap_or(300) {
            0 => None,
            _ if lake_delta.is_none() => None,
            seconds => Some(std::time::Duration::from_secs(seconds)),
        };
        let settings = Settings {
            file,
            lake_root: at(lake_root),
            ingest_memory_bytes: raw
                .lake
                .ingest_memory_mb
                .map_or(DEFAULT_INGEST_MEMORY_BYTES, |mb| mb.max(1) * 1024 * 1024),
            pipelines_dir: at(raw
                .paths
                .pipelines
                .unwrap_or_else(|| PathBuf::from("pipelines"))),
            sql_dir: at(raw.paths.sql.unwrap_or_else(|| PathBuf::from("sql"))),
            agreements_dir: at(raw
                .paths
                .agreements
                .unwrap_or_else(|| PathBuf::from("agreements"))),
            key_source,
            suppress_below: raw.publish.suppress_below.unwrap_or(5),
            kommun_months_per_chunk: raw.publish.kommun_months_per_chunk.unwrap_or(72).max(1),
            rows_per_chunk: raw.publish.rows_per_chunk.unwrap_or(100_000).max(1),
            published_keep_days: raw.publish.keep_days.unwrap_or(30),
            published_delta,
            lake_delta,
            lake_store,
            lake_delta_keep_days: raw.lake.delta_keep_days.unwrap_or(30),
            pipeline_lease: std::time::Duration::from_secs(pipeline_lease),
            lake_poll,
            serve: ServeSettings {
                listen: raw
                    .serve
                    .listen
                    .unwrap_or_else(|| std::net::SocketAddr::from(([127, 0, 0, 1], 8080))),
                tokens_env: raw
                    .serve
                    .tokens_env
                    .unwrap_or_else(|| "MALGRUPP_API_TOKENS".into()),
                admin_tokens_env: raw
                    .serve
                    .admin_tokens_env
                    .unwrap_or_else(|| "MALGRUPP_ADMIN_TOKENS".into()),
                cors_origins: raw.serve.cors_origins,
                memory_bytes: raw.serve.memory_mb.unwrap_or(256) * 1024 * 1024,
                timeout: std::time::Duration::from_secs(raw.serve.timeout_secs.unwrap_or(30)),
                max_rows: raw.serve.max_rows.unwrap_or(100_000),
                webhook_env: raw
                    .serve
                    .webhook_env
                    .unwrap_or_else(|| "MALGRUPP_WEBHOOK_URL".into()),
                metrics_public: raw.serve.metrics_public.unwrap_or(false),
                pg_listen: raw.serve.pg_listen,
                pg_users_env: raw
                    .serve
                    .pg_users_env
                    .unwrap_or_else(|| "MALGRUPP_PG_USERS".into()),
                shutdown_grace: std::time::Duration::from_secs(
                    raw.serve.shutdown_grace_secs.unwrap_or(120),
                ),
            },
        };
        problems.into_result(settings)
    }
}

fn read(path: &Path) -> Result<RawSettings> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    toml::from_str(&text).map_err(|e| {
        let mut p = Problems::default();
        p.push(
            path.display().to_string(),
            "",
            e.to_string().trim().to_string(),
        );
        Error::Config(p)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_need_no_file() {
        let s = Settings::defaults_at(Path::new(""));
        assert_eq!(s.lake_root, PathBuf::from("data"));
        assert_eq!(s.suppress_below, 5);
        assert!(matches!(
            s.key_source,
            KeySource::File {
                explicit: false,
                ..
            }
        ));
    }

    #[test]
    fn unknown_keys_and_conflicts_are_reported() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("malgrupp.toml");
        std::fs::write(&p, "[lake]\nrot = 'x'\n").expect("write");
        let e = Settings::load(Some(&p)).expect_err("unknown key");
        assert!(e.to_string().contains("unknown field `rot`"), "{e}");
        std::fs::write(&p, "[pseudonymization]\nkey_file = 'k'\nkey_env = 'K'\n").expect("write");
        let e = Settings::load(Some(&p)).expect_err("both");
        assert!(e.to_string().contains("not both"), "{e}");
        std::fs::write(
            &p,
            "[lake]\nroot = 'lake'\n[pseudonymization]\nkey_env = 'K'\n",
        )
        .expect("write");
        let s = Settings::load(Some(&p)).expect("valid");
        assert_eq!(s.lake_root, dir.path().join("lake"));
        assert_eq!(s.key_source, KeySource::Env("K".into()));
    }

    #[test]
    fn a_lake_root_url_is_read_as_a_location_not_as_a_directory_named_after_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("malgrupp.toml");
        std::fs::write(&p, "[lake]\nroot = 'file:///srv/lake'\n").expect("write");
        assert_eq!(
            Settings::load(Some(&p)).expect("valid").lake_root,
            PathBuf::from("/srv/lake")
        );
        // Every problem is reported together, each naming the key and what is expected.
        for (root, expected) in [
            ("s3://AKIA:secret@kommun-lake/x", "environment"),
            ("gs://kommun-lake", "expected a local path"),
        ] {
            std::fs::write(
                &p,
                format!(
                    "[lake]\nroot = '{root}'\n[pseudonymization]\nkey_file = 'k'\nkey_env = 'K'\n"
                ),
            )
            .expect("write");
            let e = Settings::load(Some(&p)).expect_err(root).to_string();
            assert!(
                e.contains("lake.root") && e.contains(expected) && e.contains("not both"),
                "{root}: {e}"
            );
            assert!(!e.contains("secret"), "{e}");
        }
        assert!(!dir.path().join("s3:").exists());
    }

    #[test]
    fn a_lake_root_on_object_storage_is_committed_there_and_worked_on_in_a_cache() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("malgrupp.toml");
        let load = |lake: &str| {
            std::fs::write(&p, format!("[lake]\n{lake}")).expect("write");
            Settings::load(Some(&p))
        };
        let s = load("root = 's3://kommun-lake/kalmar'\n").expect("valid");
        assert_eq!(s.lake_root, dir.path().join(".malgrupp/lake"));
        let store = Location::parse("s3://kommun-lake/kalmar").expect("location");
        assert_eq!(s.lake_store, Some(store.clone()));
        assert_eq!(s.lake_delta, Some(store));
        // The published views beside the tables, unless given a place of their own.
        let published = |s: Settings| s.published_delta.map(|l| l.to_string());
        assert_eq!(
            published(s).as_deref(),
            Some("s3://kommun-lake/kalmar/published")
        );
        let own = load("root = 's3://b/x'\n[publish]\ndelta = 's3://c/views'\n").expect("valid");
        assert_eq!(published(own).as_deref(), Some("s3://c/views"));
        let bucket = load("root = 's3://b'\n").expect("valid");
        assert_eq!(published(bucket).as_deref(), Some("s3://b/published"));
        assert_eq!(published(load("").expect("valid")), None);
        let s = load("root = 'az://lake/kalmar'\ncache = '/var/cache/malgrupp'\n").expect("valid");
        assert_eq!(s.lake_root, PathBuf::from("/var/cache/malgrupp"));
        // A second copy, or a cache of a lake in a directory, is refused with the reason.
        for (lake, key, expected) in [
            (
                "root = 's3://b/x'\ndelta = 's3://b/y'\n",
                "lake.delta",
                "remove `delta`",
            ),
            (
                "root = 'data'\ncache = 'c'\n",
                "lake.cache",
                "only for a lake",
            ),
        ] {
            let e = load(lake).expect_err(lake).to_string();
            assert!(e.contains(key) && e.contains(expected), "{lake}: {e}");
        }
        let s = load("cache = 'c'\n");
        assert!(s.is_err(), "a cache without a root on object storage");
    }

    #[test]
    fn a_publish_delta_target_is_a_location_and_a_relative_directory_is_beside_the_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("malgrupp.toml");
        let load = |delta: &str| {
            std::fs::write(&p, format!("[publish]\ndelta = '{delta}'\n")).expect("write");
            Settings::load(Some(&p)).map(|s| s.published_delta)
        };
        assert_eq!(
            load("cloud").expect("valid"),
            Some(Location::Local(dir.path().join("cloud")))
        );
        assert!(matches!(
            load("s3://kommun/published").expect("valid"),
            Some(Location::Object(o)) if o.bucket == "kommun" && o.prefix == "published"
        ));
        let e = load("s3://AKIA:secret@kommun/p")
            .expect_err("credentials")
            .to_string();
        assert!(
            e.contains("publish.delta") && e.contains("environment") && !e.contains("secret"),
            "{e}"
        );
    }
}
