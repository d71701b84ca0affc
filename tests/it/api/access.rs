//! Who may ask: bearer tokens, refusing to start without them, readiness, CORS and the
//! OpenAPI document.

use super::*;

#[tokio::test]
async fn only_a_valid_bearer_token_opens_the_api() {
    let s = Server::start(limits(1000), vec![]).await;
    let url = |p: &str| format!("{}{p}", s.base);
    for path in [
        "/api/v1/views",
        "/api/v1/views/kartlaggning",
        "/api/v1/openapi.json",
        "/nope",
    ] {
        let none = s.client.get(url(path)).send().await.expect("send");
        assert_eq!(
            none.headers()["www-authenticate"],
            "Bearer realm=\"malgrupp\""
        );
        assert!(error(none, 401).await.contains("missing"), "{path}");
        let wrong = s
            .client
            .get(url(path))
            .bearer_auth("wrong")
            .send()
            .await
            .expect("send");
        assert!(error(wrong, 401).await.contains("invalid"), "{path}");
        let prefix = s
            .client
            .get(url(path))
            .bearer_auth(&TOKEN[..10])
            .send()
            .await
            .expect("send");
        assert_eq!(
            prefix.status(),
            401,
            "{path}: a prefix of a token is not a token"
        );
        let basic = s
            .client
            .get(url(path))
            .header("authorization", format!("Basic {TOKEN}"))
            .send()
            .await
            .expect("send");
        assert_eq!(basic.status(), 401, "{path}");
    }
    let sql = s
        .client
        .post(url("/api/v1/sql"))
        .body(r#"{"sql": "select 1"}"#)
        .send()
        .await
        .expect("send");
    assert_eq!(sql.status(), 401);
    assert_eq!(s.get("/api/v1/views").await.status(), 200);
    let other = s
        .client
        .get(url("/api/v1/views"))
        .bearer_auth("other-token")
        .send()
        .await;
    assert_eq!(
        other.expect("send").status(),
        200,
        "every configured token works"
    );
    assert!(error(s.get("/nope").await, 404).await.contains("openapi"));
    // Health needs no token.
    let h = s.client.get(url("/healthz")).send().await.expect("send");
    assert_eq!(h.status(), 200);
    assert_eq!(h.text().await.expect("body"), "ok");
    assert_eq!(
        s.client
            .get(url("/readyz"))
            .send()
            .await
            .expect("send")
            .status(),
        200
    );
    s.stop().await;
}

#[tokio::test]
async fn refuses_to_start_without_tokens_or_with_a_blank_one() {
    let dir = lake();
    let cfg = |tokens: Vec<String>| ServeConfig {
        published_dir: dir.path().join("published"),
        tokens,
        ..ServeConfig::default()
    };
    let e = malgrupp::serve::router(cfg(vec![]))
        .expect_err("no tokens")
        .to_string();
    assert!(e.contains("token"), "{e}");
    assert!(malgrupp::serve::router(cfg(vec![String::new()])).is_err());
    assert!(malgrupp::serve::router(cfg(vec!["a b".into()])).is_err());
    let mut bad_cors = cfg(vec![TOKEN.into()]);
    bad_cors.cors_origins = vec!["*".into(), "https://a.se".into()];
    assert!(malgrupp::serve::router(bad_cors).is_err(), "`*` only alone");
    let listen = ServeConfig {
        listen: "127.0.0.1:0".parse().expect("addr"),
        ..cfg(vec![])
    };
    assert!(malgrupp::serve::serve(listen, async {}).await.is_err());
}

#[tokio::test]
async fn readyz_fails_while_the_published_dir_is_missing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let published = dir.path().join("published");
    let s = Server::start_at(&published, limits(1000), vec![]).await;
    let ready = s
        .client
        .get(format!("{}/readyz", s.base))
        .send()
        .await
        .expect("send");
    assert_eq!(ready.status(), 503);
    assert_eq!(
        s.client
            .get(format!("{}/healthz", s.base))
            .send()
            .await
            .expect("send")
            .status(),
        200
    );
    assert_eq!(s.get("/api/v1/views").await.status(), 503);
    std::fs::create_dir_all(&published).expect("mkdir");
    write_parquet(
        &published.join("kartlaggning.parquet"),
        &kartlaggning_batch(),
    );
    let ready = s
        .client
        .get(format!("{}/readyz", s.base))
        .send()
        .await
        .expect("send");
    assert_eq!(ready.status(), 200);
    // No cache: the file written after start is served at once.
    assert_eq!(
        s.get("/api/v1/views/kartlaggning").await.headers()["x-total-count"],
        "12"
    );
    s.stop().await;
}

#[tokio::test]
async fn openapi_document_lists_the_paths() {
    let s = Server::start(limits(1000), vec![]).await;
    let doc = json(s.get("/api/v1/openapi.json").await).await;
    assert!(doc["openapi"].as_str().expect("version").starts_with("3.0"));
    let paths = doc["paths"].as_object().expect("paths");
    for p in [
        "/healthz",
        "/readyz",
        "/api/v1/views",
        "/api/v1/views/{name}",
        "/api/v1/sql",
        "/api/v1/openapi.json",
        "/api/v1/reports/{kommun}/{period}",
        "/api/v1/status",
        "/api/v1/runs/{pipeline}",
        "/metrics",
    ] {
        assert!(paths.contains_key(p), "{p} missing");
    }
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    s.stop().await;
}

#[tokio::test]
async fn cors_headers_only_for_configured_origins() {
    let s = Server::start(limits(1000), vec!["https://kommun.example.se".into()]).await;
    let preflight = |origin: &'static str| {
        s.client
            .request(reqwest::Method::OPTIONS, format!("{}/api/v1/views", s.base))
            .header("origin", origin)
            .header("access-control-request-method", "GET")
            .header("access-control-request-headers", "authorization")
            .send()
    };
    let ok = preflight("https://kommun.example.se").await.expect("send");
    assert_eq!(
        ok.headers()["access-control-allow-origin"],
        "https://kommun.example.se"
    );
    let other = preflight("https://evil.example").await.expect("send");
    assert!(other.headers().get("access-control-allow-origin").is_none());
    let get = s
        .client
        .get(format!("{}/api/v1/views/kartlaggning?limit=1", s.base))
        .bearer_auth(TOKEN)
        .header("origin", "https://kommun.example.se")
        .send()
        .await
        .expect("send");
    let exposed = get.headers()["access-control-expose-headers"]
        .to_str()
        .expect("ascii");
    assert!(
        exposed.contains("x-total-count") && exposed.contains("link"),
        "{exposed}"
    );
    s.stop().await;

    let s = Server::start(limits(1000), vec![]).await;
    let get = s
        .client
        .get(format!("{}/api/v1/views", s.base))
        .bearer_auth(TOKEN)
        .header("origin", "https://kommun.example.se")
        .send()
        .await
        .expect("send");
    assert!(get.headers().get("access-control-allow-origin").is_none());
    s.stop().await;
}

#[tokio::test]
async fn read_tokens_read_and_only_admin_tokens_start_runs_or_read_metrics() {
    const ADMIN: &str = "admin-token-0123456789abcdef";
    let dir = lake();
    let cfg = ServeConfig {
        listen: "127.0.0.1:0".parse().expect("addr"),
        published_dir: dir.path().join("published"),
        tokens: vec![TOKEN.into()],
        admin_tokens: vec![ADMIN.into()],
        ..ServeConfig::default()
    };
    let listener = tokio::net::TcpListener::bind(cfg.listen)
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(malgrupp::serve::serve_on(listener, cfg, async {
        let _ = rx.await;
    }));
    let client = reqwest::Client::new();
    let status = |method: reqwest::Method, path: &str, token: &str| {
        client
            .request(method, format!("{base}{path}"))
            .bearer_auth(token)
            .send()
    };
    use reqwest::Method;
    for token in [TOKEN, ADMIN] {
        let r = status(Method::GET, "/api/v1/views", token)
            .await
            .expect("views");
        assert_eq!(r.status(), 200, "both read");
    }
    for (method, path) in [
        (Method::POST, "/api/v1/runs/kalmar_fs"),
        (Method::GET, "/metrics"),
    ] {
        let r = status(method.clone(), path, TOKEN)
            .await
            .expect("read token");
        assert_eq!(r.status(), 403, "{path}");
        let msg = error(r, 403).await;
        assert!(msg.contains("admin token"), "{msg}");
        // Past the scope check; this server runs no pipelines.
        let r = status(method, path, ADMIN).await.expect("admin token");
        assert_eq!(r.status(), 404, "{path}");
        let r = status(Method::GET, path, "wrong").await.expect("bad token");
        assert_eq!(r.status(), 401, "{path}");
    }
    let _ = tx.send(());
    task.await.expect("join").expect("serve ended cleanly");

    // Admin tokens alone are enough to start; they are checked like read tokens.
    let only_admin = ServeConfig {
        published_dir: dir.path().join("published"),
        admin_tokens: vec![ADMIN.into()],
        ..ServeConfig::default()
    };
    assert!(malgrupp::serve::router(only_admin).is_ok());
    let blank = ServeConfig {
        published_dir: dir.path().join("published"),
        tokens: vec![TOKEN.into()],
        admin_tokens: vec!["a b".into()],
        ..ServeConfig::default()
    };
    let e = malgrupp::serve::router(blank)
        .expect_err("blank")
        .to_string();
    assert!(e.contains("admin_tokens[0]"), "{e}");
}
