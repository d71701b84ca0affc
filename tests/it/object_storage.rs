//! The lake's object-storage protocol against a real S3 API: moto's server (PyPI
//! `moto[server]`, installed by `.ci/run`) on a free localhost port. Each test opens its
//! clients through `ObjectLocation::open` with the environment a deployment would set, so
//! the conditional PUTs travel as real `If-None-Match` / `If-Match` headers.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use malgrupp::lake::lease::Lease;
use malgrupp::lake::location::{Location, ObjectLocation};
use object_store::ObjectStore;

/// A moto S3 server with one bucket, `lake`; stopped when dropped.
pub struct Moto {
    child: std::process::Child,
    endpoint: String,
}

impl Moto {
    /// Starts the server and creates the bucket. Panics with what to install when moto is
    /// missing: a test that cannot reach S3 must fail, not pass silently.
    pub async fn start() -> Moto {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let child = std::process::Command::new("python3")
            .args([
                "-m",
                "moto.server",
                "-H",
                "127.0.0.1",
                "-p",
                &port.to_string(),
            ])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("python3 -m moto.server (pip install 'moto[server]', as .ci/run does)");
        let moto = Moto {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
        };
        let client = reqwest::Client::new();
        for _ in 0..300 {
            // moto does not check signatures: an unsigned PUT creates the bucket.
            if let Ok(r) = client.put(format!("{}/lake", moto.endpoint)).send().await {
                assert!(
                    r.status().is_success(),
                    "creating the bucket: {}",
                    r.status()
                );
                return moto;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!(
            "moto did not answer on {} within 30 s (is moto[server] installed?)",
            moto.endpoint
        );
    }

    /// The environment a deployment would give `malgrupp` for this endpoint.
    pub fn env(&self) -> Vec<(String, String)> {
        [
            ("AWS_ENDPOINT", self.endpoint.as_str()),
            ("AWS_ALLOW_HTTP", "true"),
            ("AWS_ACCESS_KEY_ID", "malgrupp-test"),
            ("AWS_SECRET_ACCESS_KEY", "malgrupp-test"),
            ("AWS_REGION", "eu-north-1"),
            ("HOME", "/nonexistent"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    /// A client of `s3://lake/<prefix>`, as a separate host would open it.
    pub fn host(&self, prefix: &str) -> (Arc<dyn ObjectStore>, ObjectLocation) {
        let Ok(Location::Object(location)) = Location::parse(&format!("s3://lake/{prefix}")) else {
            panic!("s3 location");
        };
        (location.open(self.env()).expect("client"), location)
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const TTL: Duration = Duration::from_secs(60);

#[tokio::test]
async fn a_pipeline_lease_on_s3_is_held_by_one_host_and_taken_over_only_after_expiry() {
    let moto = Moto::start().await;
    let (store_a, lake) = moto.host("kommun");
    let (store_b, _) = moto.host("kommun");
    let now = Utc::now();
    let take = |store: &Arc<dyn ObjectStore>, who: &'static str, at| {
        Lease::try_acquire(store.clone(), &lake, "fs", who, TTL, at)
    };
    let mut a = take(&store_a, "host a", now)
        .await
        .expect("s3")
        .expect("free");
    let busy = take(&store_b, "host b", now)
        .await
        .expect("s3")
        .expect_err("held by a");
    assert!(
        busy.text.starts_with("host a (lease until "),
        "{}",
        busy.text
    );
    a.renew(now + chrono::Duration::seconds(50))
        .await
        .expect("s3")
        .expect("still a's");
    take(&store_b, "host b", now + chrono::Duration::seconds(100))
        .await
        .expect("s3")
        .expect_err("renewed");
    // Host a stops renewing: once expired, host b takes over, and a learns it at renewal.
    let later = now + chrono::Duration::seconds(111);
    let b = take(&store_b, "host b", later)
        .await
        .expect("s3")
        .expect("expired: taken over");
    let lost = a.renew(later).await.expect("s3").expect_err("lost to b");
    assert!(lost.text.starts_with("host b "), "{}", lost.text);
    // a's release after losing leaves b's lease in force; b's own release frees it.
    a.release().await.expect("s3");
    take(&store_a, "host c", later)
        .await
        .expect("s3")
        .expect_err("still b's");
    b.release().await.expect("s3");
    take(&store_a, "host c", later)
        .await
        .expect("s3")
        .expect("released");
}

#[tokio::test]
async fn of_hosts_racing_on_s3_for_a_free_or_an_expired_lease_exactly_one_wins() {
    let moto = Moto::start().await;
    let (_, lake) = moto.host("race");
    let start = Utc::now();
    for (round, now) in [(0, start), (1, start + chrono::Duration::seconds(1000))] {
        // Every racer has its own client, as separate hosts would.
        let racers = (0..8).map(|i| {
            let (store, lake) = (moto.host("race").0, lake.clone());
            tokio::spawn(async move {
                let who = format!("host {round}-{i}");
                Lease::try_acquire(store, &lake, "publish", &who, TTL, now)
                    .await
                    .expect("s3")
                    .is_ok()
            })
        });
        let mut winners = 0;
        for racer in racers {
            winners += usize::from(racer.await.expect("join"));
        }
        assert_eq!(winners, 1, "round {round}");
    }
}

#[tokio::test]
async fn an_unreachable_store_is_an_error_naming_the_object_not_a_free_lease() {
    // Nothing listens on the port of a server that has been stopped.
    let moto = Moto::start().await;
    let (store, lake) = moto.host("gone");
    drop(moto);
    let e = Lease::try_acquire(store, &lake, "fs", "host a", TTL, Utc::now())
        .await
        .expect_err("no store");
    assert!(
        e.to_string()
            .contains("s3://lake/gone/_meta/locks/fs.lease"),
        "{e}"
    );
}
