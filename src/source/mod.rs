//! Transport: getting the bytes of extracts, nothing else (formats decode them).
//!
//! Each transport owns its `[source]` keys, their validation and its fetch, in one file:
//! `file` reads local paths and globs; `http` fetches a URL with the one shared HTTP
//! client (timeouts, retries with backoff and jitter, secrets from the environment);
//! `kolada` pages through Kolada's KPI API after checking each KPI's title; `pxweb`
//! queries SCB's PxWeb (v1 and v2) in requests under the server's cell and rate limits.
//! This file holds only what joins them: the `[source]` enum, read by its `type`, and the
//! one dispatch each for validating and for fetching.

pub mod file;
pub mod http;
pub mod kolada;
pub mod pxweb;

use serde::Deserialize;

use std::path::PathBuf;

use sha2::{Digest, Sha256};

use crate::error::{Error, Problems, Result};

/// `[source]`, chosen by its `type`. A tagged enum cannot collect unknown keys the way
/// the rest of the file does (`serde_ignored`), so each transport's keys deny unknown
/// fields and stop the reading instead.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum RawSource {
    /// Local files.
    File(file::RawFile),
    /// An http(s) URL fetched with the shared client.
    Http(http::RawHttp),
    /// SCB's PxWeb API returning JSON-stat 2.0 (use with `format.type = "jsonstat"`).
    Pxweb(pxweb::RawPxweb),
    /// Kolada's KPI API (v3, or v2 by its base URL), paged, ids chunked by 25.
    Kolada(kolada::RawKolada),
}

/// Where bytes come from: a validated `[source]`.
#[derive(Debug, Clone)]
pub enum Source {
    /// Local path or glob.
    File(file::FileSource),
    /// HTTP(S).
    Http(http::HttpSource),
    /// Kolada's KPI API.
    Kolada(kolada::KoladaSource),
    /// SCB's PxWeb API (v1 or v2), JSON-stat 2.0 responses.
    Pxweb(pxweb::PxwebSource),
}

/// Validates `[source]` of the pipeline file `pipeline_file`, every problem into `p`
/// (the source is returned even with problems, so that the rest of the file is checked too).
pub fn validate(raw: RawSource, pipeline_file: &str, p: &mut Problems) -> Source {
    match raw {
        RawSource::File(r) => Source::File(file::validate(r, pipeline_file, p)),
        RawSource::Http(r) => Source::Http(http::validate(r, pipeline_file, p)),
        RawSource::Pxweb(r) => Source::Pxweb(pxweb::validate(r, pipeline_file, p)),
        RawSource::Kolada(r) => Source::Kolada(kolada::validate(r, pipeline_file, p)),
    }
}

/// One extract: its content in memory, or — for a local file — the file to read it from
/// when the run comes to it, so that a night of large files is never held at once.
#[derive(Debug, Clone)]
pub struct Extract {
    /// File name (last path segment), used by `file_name` fields and in messages.
    pub name: String,
    /// Full path or URL (without query string), for messages.
    pub location: String,
    /// Content (empty for an extract listed from a local file: it is read from `file`).
    pub bytes: Vec<u8>,
    /// The local file the content is read from, when it was listed rather than fetched.
    pub file: Option<PathBuf>,
}

impl Extract {
    /// An extract whose content was fetched into memory.
    pub fn in_memory(name: String, location: String, bytes: Vec<u8>) -> Self {
        Extract {
            name,
            location,
            bytes,
            file: None,
        }
    }

    /// An extract in the local file `path`, read when the run comes to it.
    pub fn listed(name: String, location: String, path: PathBuf) -> Self {
        Extract {
            name,
            location,
            bytes: Vec::new(),
            file: Some(path),
        }
    }

    /// The content's size in bytes: a listed file's from its metadata (None when that
    /// cannot be read; reading will say why).
    pub fn size(&self) -> Option<u64> {
        match self.listed_file() {
            Some(path) => std::fs::metadata(path).ok().map(|m| m.len()),
            None => Some(self.bytes.len() as u64),
        }
    }

    /// SHA-256 of the content, as hex; a listed file is read through, not held.
    pub fn sha256(&self, pipeline: &str) -> Result<String> {
        let mut hasher = Sha256::new();
        std::io::copy(&mut self.open(pipeline)?, &mut hasher)
            .map_err(|e| self.read_error(pipeline, e))?;
        Ok(hex::encode(hasher.finalize()))
    }

    /// The content as it is read, a block at a time. It must still be the content whose
    /// hash is `sha`: a file rewritten while the run reads it fails its last read (a
    /// retry reads it again) instead of being recorded under the other content's hash.
    /// Its reading errors become the run's through [`Extract::read_error`].
    pub fn content(&self, pipeline: &str, sha: &str) -> Result<Content<'_>> {
        Ok(Content {
            inner: self.open(pipeline)?,
            hasher: Sha256::new(),
            sha: sha.to_string(),
        })
    }

    fn listed_file(&self) -> Option<&PathBuf> {
        self.file.as_ref().filter(|_| self.bytes.is_empty())
    }

    fn open(&self, pipeline: &str) -> Result<Box<dyn std::io::Read + Send + '_>> {
        Ok(match self.listed_file() {
            Some(path) => {
                Box::new(std::fs::File::open(path).map_err(|e| self.read_error(pipeline, e))?)
            }
            None => Box::new(self.bytes.as_slice()),
        })
    }

    /// The run's error for a failure to read the content: a file that changed while
    /// it was read is worth a retry, other failures are not.
    pub fn read_error(&self, pipeline: &str, e: std::io::Error) -> Error {
        if e.get_ref().is_some_and(|inner| inner.is::<Changed>()) {
            return Error::Source {
                pipeline: pipeline.into(),
                location: self.location.clone(),
                message: Changed.to_string(),
                transient: true,
            };
        }
        Error::Source {
            pipeline: pipeline.into(),
            location: self.location.clone(),
            message: format!("{}: {e}", self.location),
            transient: false,
        }
    }
}

/// An extract's content being read ([`Extract::content`]): hashed as it is read, and at
/// its end compared with the hash the run knows it by.
pub struct Content<'a> {
    inner: Box<dyn std::io::Read + Send + 'a>,
    hasher: Sha256,
    sha: String,
}

impl std::io::Read for Content<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n > 0 {
            self.hasher.update(&buf[..n]);
        } else if !buf.is_empty() && hex::encode(self.hasher.clone().finalize()) != self.sha {
            return Err(std::io::Error::other(Changed));
        }
        Ok(n)
    }
}

/// The content read is not the content hashed before.
#[derive(Debug, thiserror::Error)]
#[error("the file changed while the run read it; the next run reads it again")]
struct Changed;

/// Fetches every extract of the pipeline named `pipeline` from `source`, sorted by name.
pub async fn fetch(
    pipeline: &str,
    source: &Source,
    client: &reqwest::Client,
) -> Result<Vec<Extract>> {
    match source {
        Source::File(f) => file::read_glob(pipeline, &f.pattern),
        Source::Http(h) => Ok(vec![
            http::get(client, pipeline, &h.url, h.timeout, h.retries, &h.headers).await?,
        ]),
        Source::Kolada(k) => kolada::fetch(client, pipeline, k).await,
        Source::Pxweb(x) => pxweb::fetch(client, pipeline, x).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads `content` to its end, as the run does.
    fn read_all(extract: &Extract, sha: &str) -> Result<Vec<u8>> {
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut extract.content("p", sha)?, &mut bytes)
            .map_err(|e| extract.read_error("p", e))?;
        Ok(bytes)
    }

    #[test]
    fn a_listed_file_is_read_when_its_content_is_and_a_file_rewritten_in_between_fails_the_run() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("fs_201505.csv");
        std::fs::write(&path, b"a;b\n1;2\n").expect("write");
        let pattern = dir.path().join("fs_*.csv").display().to_string();
        let listed = file::read_glob("p", &pattern).expect("listed");
        assert_eq!(listed.len(), 1);
        assert!(listed[0].bytes.is_empty(), "a listed file is not held");
        let sha = listed[0].sha256("p").expect("hash");
        let in_memory = Extract::in_memory("x".into(), "x".into(), b"a;b\n1;2\n".to_vec());
        assert_eq!(sha, in_memory.sha256("p").expect("hash"));
        assert_eq!(read_all(&listed[0], &sha).expect("read"), b"a;b\n1;2\n");
        assert_eq!(read_all(&in_memory, &sha).expect("read"), b"a;b\n1;2\n");

        std::fs::write(&path, b"a;b\n1;3\n").expect("rewrite");
        match read_all(&listed[0], &sha) {
            Err(Error::Source {
                transient: true,
                message,
                ..
            }) => assert!(
                message.contains("changed while the run read it"),
                "{message}"
            ),
            other => panic!("a rewritten file was read as the listed one: {other:?}"),
        }
        std::fs::remove_file(&path).expect("remove");
        assert!(matches!(
            listed[0].sha256("p"),
            Err(Error::Source {
                transient: false,
                ..
            })
        ));
    }
}
