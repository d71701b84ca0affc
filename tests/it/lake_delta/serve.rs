//! `serve` with a lake's copy it cannot reach: the failed commit and looks counted in
//! `/metrics` and told to the webhook, once per change of state for the looks, and the
//! recoveries told when the store is back.

/// Under `serve`, a Delta commit that fails after the runs is what operators alert on:
/// `/metrics` counts the last refresh's problems (the log names them) and the looks in
/// the copy for other hosts' runs that failed; the webhook hears of each failed
/// refresh, of the failing looks once, and of both recoveries once the store is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_serve_a_failed_delta_commit_shows_in_the_metrics_and_the_webhook() {
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};
    let hook = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/hook"))
        .respond_with(ResponseTemplate::new(204))
        .mount(&hook)
        .await;
    // The events the webhook got, in order, with their problems.
    let told = || async {
        hook.received_requests()
            .await
            .unwrap_or_default()
            .iter()
            .map(|r| {
                let body: serde_json::Value = serde_json::from_slice(&r.body).expect("json");
                (
                    body["event"].as_str().unwrap_or_default().to_string(),
                    body["problems"].to_string(),
                )
            })
            .collect::<Vec<_>>()
    };
    let site =
        crate::daemon::Site::new(&std::fs::canonicalize("pipelines").expect("pipelines"), "");
    let ran = site
        .command()
        .args(["run", "kalmar_fs"])
        .output()
        .expect("run");
    assert!(
        ran.status.success(),
        "{}",
        String::from_utf8_lossy(&ran.stderr)
    );
    let settings = site.root().parent().expect("dir").join("malgrupp.toml");
    let text = std::fs::read_to_string(&settings)
        .expect("settings")
        .replacen(
            "[lake]\n",
            "[lake]\ndelta = 's3://lake/tables'\npoll_seconds = 1\n",
            1,
        );
    std::fs::write(&settings, text).expect("settings");
    // Nothing listens on the port of a server that has been stopped.
    let gone = crate::object_storage::Moto::start().await;
    let (env, port) = (gone.env(), gone.port());
    drop(gone);
    let hook_url = format!("{}/hook", hook.uri());
    let mut env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    env.push(("MALGRUPP_WEBHOOK_URL", &hook_url));
    let service = crate::daemon::Service::start_with(&site, &env);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    loop {
        let metrics = service.metrics().await;
        let failed_polls = metrics
            .lines()
            .find_map(|l| l.strip_prefix("malgrupp_lake_polls_total{result=\"failed\"} "))
            .and_then(|n| n.parse::<u64>().ok())
            .unwrap_or(0);
        if metrics.contains("malgrupp_last_refresh_timestamp_seconds") && failed_polls > 2 {
            assert!(
                metrics
                    .lines()
                    .any(|l| l == "malgrupp_last_refresh_problems 1"),
                "{metrics}"
            );
            assert!(
                metrics
                    .lines()
                    .any(|l| l == "malgrupp_lake_polls_total{result=\"ok\"} 0"),
                "{metrics}"
            );
            assert!(!metrics.contains("poll_success"), "{metrics}");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no refresh: {metrics}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    // The webhook heard of the failed refresh, and of the failing looks once, not at
    // every poll.
    let events = told().await;
    let of = |event: &str| events.iter().filter(|(e, _)| e == event).count();
    assert_eq!(
        (of("refresh_failure"), of("poll_failure")),
        (1, 1),
        "{events:?}"
    );
    assert!(
        events
            .iter()
            .any(|(e, p)| e == "refresh_failure"
                && p.contains("could not be committed as Delta tables")),
        "{events:?}"
    );

    // The store is back: the looks work again, and the refresh after the next run
    // commits; each recovery is told once.
    let _back = crate::object_storage::Moto::start_on(port).await;
    let client = reqwest::Client::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    let mut triggered = false;
    loop {
        let events = told().await;
        let of = |event: &str| events.iter().filter(|(e, _)| e == event).count();
        if of("poll_recovery") == 1 && !triggered {
            let started = client
                .post(service.url("/api/v1/runs/kalmar_fs"))
                .bearer_auth(crate::daemon::ADMIN)
                .send()
                .await
                .expect("trigger");
            assert!(started.status().is_success(), "{}", started.status());
            triggered = true;
        }
        if of("refresh_recovery") == 1 {
            assert_eq!(
                (
                    of("refresh_failure"),
                    of("poll_failure"),
                    of("poll_recovery")
                ),
                (1, 1, 1),
                "{events:?}"
            );
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no recovery told: {events:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let metrics = service.metrics().await;
    assert!(
        metrics
            .lines()
            .any(|l| l == "malgrupp_last_refresh_problems 0"),
        "{metrics}"
    );
}
