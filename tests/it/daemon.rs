//! The service as operators run it: the real `malgrupp` binary as separate processes on
//! one lake. `serve` on a free port is scraped, triggered and stopped with SIGTERM mid-run
//! (the run finishes within the grace period, or is abandoned before it publishes); the
//! scheduler fires a 6-field cron and catches up a missed run; `run` is refused while
//! another process holds the pipeline's lock and takes over a lock left by a dead one.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use malgrupp::lake::lock::LakeLock;
use malgrupp::lake::manifest::{Manifest, RunRecord};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::common::files_under;
use crate::common::http_pipeline;

const BIN: &str = env!("CARGO_BIN_EXE_malgrupp");
pub(crate) const TOKEN: &str = "daemon-test-token";
/// The admin token: starts runs and reads `/metrics`.
pub(crate) const ADMIN: &str = "daemon-admin-token-0123456789";

/// A lake directory with a settings file; pipelines from `pipelines`.
pub(crate) struct Site {
    dir: tempfile::TempDir,
}

impl Site {
    pub(crate) fn new(pipelines: &Path, extra: &str) -> Site {
        let dir = tempfile::tempdir().expect("tempdir");
        let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
        std::fs::write(dir.path().join("key"), "7".repeat(64)).expect("key");
        let settings = format!(
            "[lake]\nroot = \"{lake}\"\n[paths]\npipelines = \"{p}\"\nsql = \"{sql}\"\nagreements = \"{agr}\"\n[pseudonymization]\nkey_file = \"{key}\"\n[serve]\n{extra}\n",
            lake = dir.path().join("data").display(),
            p = pipelines.display(),
            sql = repo.join("sql").display(),
            agr = repo.join("agreements").display(),
            key = dir.path().join("key").display(),
        );
        std::fs::write(dir.path().join("malgrupp.toml"), settings).expect("settings");
        Site { dir }
    }

    pub(crate) fn root(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub(crate) fn command(&self) -> Command {
        let mut c = Command::new(BIN);
        c.current_dir(env!("CARGO_MANIFEST_DIR"))
            .env("MALGRUPP_API_TOKENS", TOKEN)
            .env("MALGRUPP_ADMIN_TOKENS", ADMIN)
            .arg("--config")
            .arg(self.dir.path().join("malgrupp.toml"));
        c
    }

    fn runs(&self, pipeline: &str) -> Vec<RunRecord> {
        Manifest::load(&self.root())
            .expect("manifest")
            .runs
            .into_iter()
            .filter(|r| r.pipeline == pipeline)
            .collect()
    }

    /// Waits until a ledger record satisfies `f`.
    fn wait_for_run(
        &self,
        pipeline: &str,
        f: impl Fn(&RunRecord) -> bool,
        within: Duration,
    ) -> RunRecord {
        let started = Instant::now();
        loop {
            if let Some(r) = self.runs(pipeline).into_iter().find(|r| f(r)) {
                return r;
            }
            assert!(
                started.elapsed() < within,
                "no such run of {pipeline}: {:?}",
                self.runs(pipeline)
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// A running `serve` process with its stderr drained (a full pipe would block it).
pub(crate) struct Service {
    child: Child,
    addr: String,
    log: mpsc::Receiver<String>,
}

impl Service {
    fn start(site: &Site) -> Service {
        Self::start_with(site, &[])
    }

    /// [`Service::start`] with more environment variables.
    pub(crate) fn start_with(site: &Site, env: &[(&str, &str)]) -> Service {
        let mut command = site.command();
        for (k, v) in env {
            command.env(k, v);
        }
        let mut child = command
            .args(["--log-format", "json", "serve", "--listen", "127.0.0.1:0"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn serve");
        let stderr = child.stderr.take().expect("stderr");
        let (tx, log) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        // The API logs the address it bound.
        let deadline = Instant::now() + Duration::from_secs(60);
        let addr = loop {
            let line = log
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
                .expect("serve logs its address");
            let v: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
            if let Some(a) = v["fields"]["addr"].as_str() {
                break a.to_string();
            }
        };
        Service { child, addr, log }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub(crate) async fn metrics(&self) -> String {
        reqwest::Client::new()
            .get(self.url("/metrics"))
            .bearer_auth(ADMIN)
            .send()
            .await
            .expect("metrics")
            .text()
            .await
            .expect("text")
    }

    /// The peak resident memory of the process so far (`VmHWM`), in bytes.
    pub(crate) fn peak_rss(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .expect("/proc/<pid>/status");
        let kb = status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .expect("VmHWM");
        kb * 1024
    }

    /// SIGTERM, then the exit status (within `within`) and everything it logged.
    pub(crate) fn terminate(mut self, within: Duration) -> (std::process::ExitStatus, Vec<String>) {
        let kill = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(kill.success());
        let started = Instant::now();
        let status = loop {
            if let Some(s) = self.child.try_wait().expect("wait") {
                break s;
            }
            if started.elapsed() > within {
                let _ = self.child.kill();
                panic!("serve did not stop within {within:?} of SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        (status, self.log.try_iter().collect())
    }
}

/// A service a test did not stop (it ended early, or failed) is killed with it: left
/// running, it would go on polling and publishing beside the tests after it.
impl Drop for Service {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

async fn slow_source(delay: Duration) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/hr.csv"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_bytes(
                    std::fs::read("samples/kalmar/timanstallda_2015-05.csv").expect("sample"),
                )
                .set_delay(delay),
        )
        .mount(&server)
        .await;
    server
}

fn no_temp_files(root: &Path) {
    let temp: Vec<_> = files_under(root)
        .into_iter()
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with(".tmp-"))
        })
        .collect();
    assert!(temp.is_empty(), "temporary files left: {temp:?}");
}

#[tokio::test]
async fn sigterm_mid_run_lets_the_run_finish_and_records_it() {
    let server = slow_source(Duration::from_secs(3)).await;
    let pipelines = tempfile::tempdir().expect("tempdir");
    http_pipeline(
        pipelines.path(),
        &format!("{}/hr.csv", server.uri()),
        30,
        0,
        0,
    );
    let site = Site::new(pipelines.path(), "");
    let service = Service::start(&site);
    let client = reqwest::Client::new();
    assert_eq!(
        client
            .get(service.url("/metrics"))
            .send()
            .await
            .expect("get")
            .status(),
        401,
        "metrics need the token"
    );
    // The container HEALTHCHECK's probe: no settings, no token.
    let health = |url: String| {
        Command::new(BIN)
            .args(["health", "--url", &url])
            .output()
            .expect("health")
    };
    assert!(health(service.url("/healthz")).status.success());
    let refused = health("http://127.0.0.1:9/healthz".into());
    assert_eq!(refused.status.code(), Some(1), "{refused:?}");
    // Ready once the start-up catch-up and the republishing are done.
    let deadline = Instant::now() + Duration::from_secs(60);
    while client
        .get(service.url("/readyz"))
        .send()
        .await
        .expect("readyz")
        .status()
        != 200
    {
        assert!(Instant::now() < deadline, "never ready");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        crate::common::is_published(&site.root().join("published"), "kartlaggning"),
        "republished at start-up"
    );
    let before = service.metrics().await;
    assert!(
        before.contains("malgrupp_run_in_progress{pipeline=\"hr\"} 0"),
        "{before}"
    );
    let trigger = |token: &'static str| {
        client
            .post(service.url("/api/v1/runs/hr"))
            .bearer_auth(token)
            .send()
    };
    // Reading is not running: a read token may not start runs nor read the metrics.
    assert_eq!(trigger(TOKEN).await.expect("trigger").status(), 403);
    let metrics_read = client
        .get(service.url("/metrics"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("metrics");
    assert_eq!(metrics_read.status(), 403);
    let started = trigger(ADMIN).await.expect("trigger");
    assert_eq!(started.status(), 202);
    // While that run is queued or running, more requests are refused and not recorded.
    for _ in 0..20 {
        assert_eq!(trigger(ADMIN).await.expect("trigger").status(), 409);
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while !service
        .metrics()
        .await
        .contains("malgrupp_run_in_progress{pipeline=\"hr\"} 1")
    {
        assert!(
            Instant::now() < deadline,
            "the run never showed as in progress"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(trigger(ADMIN).await.expect("trigger").status(), 409);
    let (status, log) =
        tokio::task::spawn_blocking(move || service.terminate(Duration::from_secs(60)))
            .await
            .expect("join");
    assert!(
        status.success(),
        "exit 0 after SIGTERM: {status:?}\n{}",
        log.join("\n")
    );
    let api_runs: Vec<RunRecord> = site
        .runs("hr")
        .into_iter()
        .filter(|r| r.trigger == "api")
        .collect();
    assert_eq!(api_runs.len(), 1, "one row for 22 requests: {api_runs:?}");
    let run = &api_runs[0];
    assert_eq!(run.status.as_str(), "ok", "{run:?}");
    assert!(
        site.root()
            .join("timanstallda/kommun=0880/period=2015-05/hr.parquet")
            .is_file()
    );
    assert!(
        crate::common::is_published(&site.root().join("published"), "kartlaggning"),
        "views republished after the run"
    );
    no_temp_files(&site.root());
}

#[tokio::test]
async fn a_run_past_the_grace_period_is_abandoned_before_it_publishes() {
    let server = slow_source(Duration::from_secs(30)).await;
    let pipelines = tempfile::tempdir().expect("tempdir");
    http_pipeline(
        pipelines.path(),
        &format!("{}/hr.csv", server.uri()),
        60,
        0,
        0,
    );
    let site = Site::new(pipelines.path(), "shutdown_grace_secs = 1");
    let service = Service::start(&site);
    let resp = reqwest::Client::new()
        .post(service.url("/api/v1/runs/hr"))
        .bearer_auth(ADMIN)
        .send()
        .await
        .expect("trigger");
    assert_eq!(resp.status(), 202);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !service
        .metrics()
        .await
        .contains("malgrupp_run_in_progress{pipeline=\"hr\"} 1")
    {
        assert!(Instant::now() < deadline, "the run never started");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (status, log) =
        tokio::task::spawn_blocking(move || service.terminate(Duration::from_secs(20)))
            .await
            .expect("join");
    assert!(status.success(), "{status:?}\n{}", log.join("\n"));
    let run = site.runs("hr").pop().expect("recorded");
    assert_eq!(run.status, "abandoned", "{run:?}");
    assert!(
        !site
            .root()
            .join("timanstallda/kommun=0880/period=2015-05/hr.parquet")
            .exists(),
        "nothing of the run was written"
    );
    no_temp_files(&site.root());
}

#[tokio::test]
async fn the_scheduler_fires_and_catches_up_a_missed_run() {
    let pipelines = tempfile::tempdir().expect("tempdir");
    let shipped = std::fs::read_to_string("pipelines/kalmar_timanstallda.toml").expect("shipped");
    // Every two seconds; and one whose last scheduled run is an hour old.
    let every = shipped.replace("cron = \"50 2 * * *\"", "cron = \"*/2 * * * * *\"");
    assert_ne!(every, shipped);
    std::fs::write(pipelines.path().join("tim.toml"), &every).expect("write");
    let hourly = shipped.replace(
        "cron = \"50 2 * * *\"",
        "cron = \"0 0 * * * *\"\ncatch_up = \"latest\"",
    );
    std::fs::write(pipelines.path().join("hourly.toml"), &hourly).expect("write");
    let site = Site::new(pipelines.path(), "");
    let missed_since = chrono::Utc::now() - chrono::Duration::hours(3);
    Manifest::update(&site.root(), |m| {
        m.runs.push(RunRecord {
            run_id: "earlier-hourly".into(),
            pipeline: "hourly".into(),
            started_at: missed_since.to_rfc3339(),
            duration_ms: 1,
            status: "ok".into(),
            message: None,
            files_read: 0,
            rows_in: 0,
            rows_written: 0,
            rows_quarantined: 0,
            lineage: Vec::new(),
            trigger: "schedule".into(),
            scheduled_for: Some(missed_since.to_rfc3339()),
            attempt: 1,
        });
    })
    .expect("ledger");
    let service = Service::start(&site);
    let fired = site.wait_for_run("tim", |r| r.trigger == "schedule", Duration::from_secs(30));
    assert!(fired.scheduled_for.is_some(), "{fired:?}");
    let caught = site.wait_for_run(
        "hourly",
        |r| r.trigger == "catch-up",
        Duration::from_secs(30),
    );
    // `latest`: only the newest missed hour, once.
    let at = chrono::DateTime::parse_from_rfc3339(caught.scheduled_for.as_deref().expect("time"))
        .expect("rfc3339");
    assert!(
        chrono::Utc::now().signed_duration_since(at) < chrono::Duration::hours(1),
        "{caught:?}"
    );
    let (status, _) =
        tokio::task::spawn_blocking(move || service.terminate(Duration::from_secs(60)))
            .await
            .expect("join");
    assert!(status.success());
    let catch_ups = site
        .runs("hourly")
        .iter()
        .filter(|r| r.trigger == "catch-up")
        .count();
    assert_eq!(catch_ups, 1, "{:?}", site.runs("hourly"));
}

#[test]
fn a_second_process_is_refused_while_the_lock_is_held_and_a_dead_holder_is_taken_over() {
    let site = Site::new(&Path::new(env!("CARGO_MANIFEST_DIR")).join("pipelines"), "");
    let lock = LakeLock::try_acquire(&site.root(), "pipeline-kalmar_fs")
        .expect("io")
        .expect("free");
    let out = site
        .command()
        .args(["run", "kalmar_fs"])
        .output()
        .expect("run");
    let stdout = String::from_utf8_lossy(&out.stdout);
    // Skipped is not a failure (the pipeline is being run): exit 0, the status printed.
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("skipped"), "{stdout}");
    let skipped = site.runs("kalmar_fs").pop().expect("recorded");
    assert_eq!(skipped.status, "skipped");
    assert!(
        skipped
            .message
            .as_deref()
            .unwrap_or("")
            .contains("holds its lock"),
        "{skipped:?}"
    );
    drop(lock);
    // What a killed process leaves behind: its holder line, no kernel lock.
    let file = malgrupp::lake::lock::path(&site.root(), "pipeline-kalmar_fs");
    std::fs::write(&file, "pid 4194304 on elsewhere since 2026-01-01T00:00:00Z").expect("write");
    let out = site
        .command()
        .args(["run", "kalmar_fs"])
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("taking over a lock"), "{stderr}");
    assert_eq!(site.runs("kalmar_fs").pop().expect("run").status, "ok");
}

#[tokio::test]
async fn scheduled_runs_of_one_pipeline_never_overlap() {
    // Fired every second, each run waits two seconds for its source: the triggers that
    // come while a run is going are skipped and recorded, and no two runs overlap.
    let server = slow_source(Duration::from_secs(2)).await;
    let pipelines = tempfile::tempdir().expect("tempdir");
    http_pipeline(
        pipelines.path(),
        &format!("{}/hr.csv", server.uri()),
        30,
        0,
        0,
    );
    let file = pipelines.path().join("hr.toml");
    let text = std::fs::read_to_string(&file).expect("read");
    std::fs::write(
        &file,
        format!("{text}\n[schedule]\ncron = \"* * * * * *\"\n"),
    )
    .expect("write");
    let site = Site::new(pipelines.path(), "");
    let service = Service::start(&site);
    site.wait_for_run(
        "hr",
        |r| r.status == "skipped" && r.trigger == "schedule",
        Duration::from_secs(30),
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while site
        .runs("hr")
        .iter()
        .filter(|r| r.status != "skipped")
        .count()
        < 2
    {
        assert!(Instant::now() < deadline, "{:?}", site.runs("hr"));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (status, _) =
        tokio::task::spawn_blocking(move || service.terminate(Duration::from_secs(60)))
            .await
            .expect("join");
    assert!(status.success());
    let mut spans: Vec<(
        chrono::DateTime<chrono::FixedOffset>,
        chrono::DateTime<chrono::FixedOffset>,
    )> = site
        .runs("hr")
        .iter()
        .filter(|r| r.status != "skipped")
        .map(|r| {
            let start = chrono::DateTime::parse_from_rfc3339(&r.started_at).expect("time");
            (
                start,
                start + chrono::Duration::milliseconds(r.duration_ms as i64),
            )
        })
        .collect();
    spans.sort();
    assert!(spans.len() >= 2, "{spans:?}");
    for w in spans.windows(2) {
        assert!(w[0].1 <= w[1].0, "runs overlap: {:?} and {:?}", w[0], w[1]);
    }
}
