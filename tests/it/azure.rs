//! The lake's object-storage protocol on Azure Blob Storage's API: Azurite (npm
//! `azurite`, installed by `.ci/run` into the git-ignored tests/servers/node_modules) on
//! a free localhost port, its container made with a Shared Key request. Clients open
//! `az://` locations through `ObjectLocation::open` with the environment a deployment
//! would set, so leases and commits travel as Azure's own conditional requests
//! (`If-None-Match: *`, `If-Match: <etag>`).

use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use malgrupp::lake::location::{Location, ObjectLocation};
use object_store::ObjectStore;

use crate::common::TestLake;

/// Azurite's well-known development account and key (public, in Microsoft's docs).
const ACCOUNT: &str = "devstoreaccount1";
const KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

/// An Azurite blob server with one container, `lake`; stopped when dropped.
pub struct Azurite {
    child: std::process::Child,
    endpoint: String,
    _data: tempfile::TempDir,
}

impl Azurite {
    /// Starts the server and creates the container. Panics with what to install when
    /// Azurite is missing: a test that cannot reach the store must fail, not pass.
    pub async fn start() -> Azurite {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let data = tempfile::tempdir().expect("tempdir");
        let bin = std::path::Path::new("tests/servers/node_modules/.bin/azurite-blob");
        let child = Command::new(bin)
            .args(["--blobHost", "127.0.0.1", "--blobPort", &port.to_string()])
            .arg("--location")
            .arg(data.path())
            // The client's API version may be newer than this Azurite knows.
            .args(["--silent", "--skipApiVersionCheck"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "{}: {e} (npm install --prefix tests/servers, as .ci/run does)",
                    bin.display()
                )
            });
        let azurite = Azurite {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
            _data: data,
        };
        let create = r#"
import base64, hashlib, hmac, sys, urllib.request
from email.utils import formatdate
endpoint, account, key = sys.argv[1:4]
headers = {"x-ms-date": formatdate(usegmt=True), "x-ms-version": "2021-08-06"}
signed = "PUT\n" + "\n" * 11 + "".join(f"{k}:{v}\n" for k, v in sorted(headers.items()))
signed += f"/{account}/{account}/lake\nrestype:container"
mac = hmac.new(base64.b64decode(key), signed.encode(), hashlib.sha256).digest()
headers["Authorization"] = f"SharedKey {account}:{base64.b64encode(mac).decode()}"
request = urllib.request.Request(f"{endpoint}/{account}/lake?restype=container",
    method="PUT", headers={**headers, "Content-Length": "0"})
print(urllib.request.urlopen(request).status)
"#;
        for _ in 0..300 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                let out = Command::new("python3")
                    .args(["-c", create, &azurite.endpoint, ACCOUNT, KEY])
                    .output()
                    .expect("python3");
                assert!(
                    out.status.success() && out.stdout.starts_with(b"201"),
                    "creating the container: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
                return azurite;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("Azurite did not answer on {} within 30 s", azurite.endpoint);
    }

    /// The environment a deployment would give `malgrupp` for this account.
    pub fn env(&self) -> Vec<(String, String)> {
        [
            ("AZURE_STORAGE_ACCOUNT_NAME", ACCOUNT.to_string()),
            ("AZURE_STORAGE_ACCOUNT_KEY", KEY.to_string()),
            (
                "AZURE_STORAGE_ENDPOINT",
                format!("{}/{ACCOUNT}", self.endpoint),
            ),
            ("AZURE_ALLOW_HTTP", "true".to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }

    /// A client of `az://lake/<prefix>`, as a separate host would open it.
    pub fn host(&self, prefix: &str) -> (Arc<dyn ObjectStore>, ObjectLocation) {
        let Ok(Location::Object(location)) = Location::parse(&format!("az://lake/{prefix}")) else {
            panic!("az location");
        };
        (location.open(self.env()).expect("client"), location)
    }
}

impl Drop for Azurite {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn a_lease_on_azure_blob_is_held_by_one_host_and_taken_over_only_after_expiry() {
    let azurite = Azurite::start().await;
    crate::object_storage::a_lease_is_held_by_one_host_and_taken_over_only_after_expiry(|| {
        azurite.host("kommun")
    })
    .await;
}

#[tokio::test]
async fn of_hosts_racing_on_azure_blob_for_a_lease_exactly_one_wins() {
    let azurite = Azurite::start().await;
    crate::object_storage::of_hosts_racing_for_a_lease_exactly_one_wins(|| azurite.host("race"))
        .await;
}

/// The lake's tables committed to `az://` as Delta tables: every table at version 0,
/// a sync with nothing new commits nothing, a lease another host holds is respected, and
/// `malgrupp sql --delta az://…` reads the committed rows as the lake has them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lakes_tables_are_committed_to_azure_blob_and_read_back() {
    let azurite = Azurite::start().await;
    let t = TestLake::new();
    let (outcome, out) = t.run(&["kalmar_fs", "kalmar_kaa"]).await;
    assert!(outcome.success(), "{out}");
    let target = Location::parse("az://lake/tables").expect("location");
    let lake = t.lake();
    let sync = || crate::lake_delta::sync_copy(&lake, &target, azurite.env());

    let synced = sync().await.expect("sync");
    let mut committed: Vec<(&str, u64)> = synced
        .committed
        .iter()
        .map(|(t, v)| (t.as_str(), *v))
        .collect();
    committed.sort_unstable();
    assert_eq!(
        committed,
        [
            ("forsorjningsstod", 0),
            ("kaa", 0),
            ("lineage", 0),
            ("runs", 0)
        ]
    );
    assert!(sync().await.expect("again").committed.is_empty());

    // Read back by `malgrupp sql --delta az://…` as the lake has it, newest and as of
    // the last run (through the ledger committed beside the tables).
    let query = "select count(*) as n, count(distinct person_id) as p, min(period) as a, max(period) as b from kaa";
    let (ok, local, err) = crate::object_storage::malgrupp_sql(t.dir.path(), query, &[], &[]);
    assert!(ok && local.lines().count() == 2, "{local}{err}");
    let copy = query.replace("from kaa", "from copy");
    let manifest = malgrupp::lake::manifest::Manifest::load(&t.settings.lake_root).expect("ledger");
    let last = &manifest.runs.last().expect("runs").run_id;
    for as_of in [None, Some(last.as_str())] {
        let mut args = vec!["--delta", "copy=az://lake/tables/kaa"];
        args.extend(as_of.iter().flat_map(|run| ["--as-of", *run]));
        let (ok, read, err) =
            crate::object_storage::malgrupp_sql(t.dir.path(), &copy, &args, &azurite.env());
        assert!(ok, "{err}");
        assert_eq!(read, local, "as of {as_of:?}");
    }
}
