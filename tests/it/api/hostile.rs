//! Requests meant to take the server down: expressions deep enough to overflow a
//! thread's stack, functions asked for gigabytes of output. Each is refused with a clear
//! error, and the server answers the next request.

use super::*;
use crate::common::{closed_by_server, connect_from};

/// `n` copies of `term` joined by `op`.
fn chain(term: &str, op: &str, n: usize) -> String {
    vec![term; n].join(op)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deep_expressions_are_refused_and_the_server_stays_up() {
    let s = Server::start(limits(100), vec![]).await;
    let plus = format!("select {} as n", chain("1", "+", 5000));
    let ors = format!(
        "select count(*) as n from kartlaggning where {}",
        chain("antal = 5", " or ", 3000)
    );
    for sql in [&plus, &ors] {
        let msg = error(s.sql(sql, "json").await, 400).await;
        assert!(msg.contains("too complex"), "{msg}");
        assert!(msg.contains("IN ("), "{msg}");
    }
    // Up to the limit the query is answered, on the 2 MiB worker stacks of this runtime.
    let sum = format!("select {} as n", chain("1", "+", 1001));
    assert_eq!(
        json(s.sql(&sum, "json").await).await,
        serde_json::json!([{ "n": 1001 }])
    );
    let ors = format!(
        "select count(*) as n from kartlaggning where {}",
        chain("antal = 10", " or ", 500)
    );
    assert_eq!(
        json(s.sql(&ors, "json").await).await,
        serde_json::json!([{ "n": 1 }])
    );
    let ok = s
        .sql("select count(*) as n from kartlaggning", "json")
        .await;
    assert_eq!(json(ok).await, serde_json::json!([{ "n": 12 }]));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn function_output_counts_against_the_memory_limit() {
    let s = Server::start(limits(100), vec![]).await;
    for sql in [
        "select length(repeat('x', 600000000)) as n",
        "select length(lpad('x', 600000000)) as n",
        "select length(rpad(kommun, 600000000, 'ab')) as n from kartlaggning",
        "select length(replace(repeat('a', 100000), 'a', repeat('b', 100000))) as n",
        "select length(regexp_replace(repeat('a', 100000), 'a', repeat('b', 100000), 'g')) as n",
        "select length(repeat(kommun, cast(antal as bigint) * 10000000)) as n from kartlaggning",
    ] {
        let msg = error(s.sql(sql, "json").await, 413).await;
        assert!(msg.contains("more memory than the limit"), "{sql}: {msg}");
    }
    // Builders of arbitrarily long lists are not offered.
    for sql in [
        "select cardinality(range(1, 600000000)) as n",
        "select cardinality(array_repeat(1, 600000000)) as n",
        "select cardinality(list_repeat(1, 600000000)) as n",
    ] {
        let msg = error(s.sql(sql, "json").await, 400).await;
        assert!(msg.contains("function"), "{sql}: {msg}");
    }
    // Within the limit the functions work as before.
    let ok = s
        .sql(
            "select length(repeat('x', 1000)) as a, lpad('7', 3, '0') as b, \
             replace('a-b', '-', '--') as c, concat_ws('/', 'x', 'y') as d",
            "json",
        )
        .await;
    assert_eq!(
        json(ok).await,
        serde_json::json!([{ "a": 1000, "b": "007", "c": "a--b", "d": "x/y" }])
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_sent_requests_do_not_lock_out_real_clients() {
    use malgrupp::serve::{HANDSHAKES_PER_PEER, HEADER_READ_TIMEOUT, MAX_HANDSHAKES};
    use tokio::io::AsyncWriteExt;
    let s = Server::start(limits(100), vec![]).await;
    let addr: std::net::SocketAddr = s.base.trim_start_matches("http://").parse().expect("addr");
    // More half-sent requests than the server keeps waiting, from another address.
    let mut slow = Vec::new();
    for _ in 0..MAX_HANDSHAKES + 44 {
        let mut socket = connect_from("127.0.0.2", addr).await;
        // The head never ends: no blank line.
        let _ = socket
            .write_all(b"GET /api/v1/views HTTP/1.1\r\nHost: x\r\nX-Slow: 1\r\n")
            .await;
        slow.push(socket);
    }
    let started = std::time::Instant::now();
    let ok = s.get("/api/v1/views").await;
    assert_eq!(ok.status(), 200);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    // All but a few from that address are closed at once …
    let mut open = Vec::new();
    for mut socket in slow {
        if !closed_by_server(&mut socket, std::time::Duration::from_millis(300)).await {
            open.push(socket);
        }
    }
    assert_eq!(open.len(), HANDSHAKES_PER_PEER);
    // … and those when their head has not arrived in time.
    tokio::time::sleep(HEADER_READ_TIMEOUT).await;
    for socket in &mut open {
        assert!(
            closed_by_server(socket, std::time::Duration::from_secs(3)).await,
            "still open"
        );
    }
    assert_eq!(s.get("/api/v1/views").await.status(), 200);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_body_that_never_arrives_is_answered_408_and_closed() {
    use malgrupp::serve::BODY_READ_TIMEOUT;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let s = Server::start(limits(100), vec![]).await;
    let addr: std::net::SocketAddr = s.base.trim_start_matches("http://").parse().expect("addr");
    // A client with a token sends a complete head announcing 64 bytes, and only the start
    // of them: the request holds a session slot while the handler waits for the rest.
    let mut socket = connect_from("127.0.0.2", addr).await;
    let head = format!(
        "POST /api/v1/sql HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\nContent-Type: application/json\r\nContent-Length: 64\r\n\r\n{{\"sql\": \"sel"
    );
    socket.write_all(head.as_bytes()).await.expect("write");
    let mut answer = Vec::new();
    let read = tokio::time::timeout(
        BODY_READ_TIMEOUT + std::time::Duration::from_secs(5),
        socket.read_to_end(&mut answer),
    )
    .await;
    assert!(
        read.is_ok(),
        "the server still waits for the body {:?} after it began",
        BODY_READ_TIMEOUT + std::time::Duration::from_secs(5)
    );
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("request body"), "{answer}");
    assert_eq!(s.get("/api/v1/views").await.status(), 200);
    s.stop().await;
}

#[tokio::test]
async fn explain_is_refused_without_internals() {
    let s = Server::start(limits(100), vec![]).await;
    for sql in [
        "explain select * from kartlaggning",
        "explain analyze select count(*) from kartlaggning",
        "EXPLAIN VERBOSE select 1",
    ] {
        let msg = error(s.sql(sql, "json").await, 400).await;
        assert!(msg.contains("EXPLAIN is not offered"), "{sql}: {msg}");
        assert!(
            !msg.contains(".parquet") && !msg.contains('/'),
            "{sql}: {msg}"
        );
    }
    s.stop().await;
}

/// The real `serve` (memory limit 256 MiB): what function bombs, alone and at once, and
/// ten large but allowed results do to its peak resident memory. Unbounded, one bomb
/// alone took 600 MB and more.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn function_bombs_keep_the_process_under_its_memory_limit() {
    use crate::daemon::{Service, Site};
    let pipelines = tempfile::tempdir().expect("tempdir");
    let site = Site::new(pipelines.path(), "memory_mb = 256");
    std::fs::create_dir_all(site.root().join("published")).expect("published");
    let service = Service::start_with(&site, &[]);
    let client = reqwest::Client::new();
    let sql = |text: &'static str| {
        client
            .post(service.url("/api/v1/sql"))
            .bearer_auth(crate::daemon::TOKEN)
            .header("content-type", "application/json")
            .body(serde_json::json!({ "sql": text }).to_string())
            .send()
    };
    assert_eq!(sql("select 1 as n").await.expect("warm up").status(), 200);
    let before = service.peak_rss();
    let bomb = "select length(repeat('x', 600000000)) as n";
    assert_eq!(sql(bomb).await.expect("bomb").status(), 413);
    // Ten at once, each under the per-call limit: answered, within the margin.
    let big = "select length(repeat('x', 10000000)) as n";
    let answers = futures::future::join_all((0..10).map(|_| sql(big))).await;
    for r in answers {
        assert_eq!(r.expect("big").status(), 200);
    }
    let (a, b, c) = tokio::join!(sql(bomb), sql(bomb), sql(bomb));
    for r in [a, b, c] {
        assert_eq!(r.expect("bomb").status(), 413);
    }
    let grown = service.peak_rss().saturating_sub(before);
    assert!(
        grown < (256 + 128) * 1024 * 1024,
        "peak RSS grew by {grown} bytes"
    );
    let (status, _) = service.terminate(std::time::Duration::from_secs(30));
    assert!(status.success(), "{status:?}");
}

#[tokio::test]
async fn concatenation_by_operator_is_refused_and_concat_is_bounded() {
    let s = Server::start(limits(100), vec![]).await;
    // Each CTE level would multiply the text by eight.
    let chain = "with a as (select repeat('x', 1000000) as s), \
                 b as (select s || s || s || s || s || s || s || s as s from a), \
                 c as (select s || s || s || s || s || s || s || s as s from b) \
                 select length(s) as n from c";
    let msg = error(s.sql(chain, "json").await, 400).await;
    assert!(msg.contains("concat("), "{msg}");
    let nested = "with a as (select repeat('x', 1000000) as s), \
                  b as (select concat(s, s, s, s, s, s, s, s) as s from a), \
                  c as (select concat(s, s, s, s, s, s, s, s) as s from b) \
                  select length(s) as n from c";
    let msg = error(s.sql(nested, "json").await, 413).await;
    assert!(msg.contains("one call may"), "{msg}");
    // Each encode doubles: 2^9 times 64 kB would be 32 MB. Refused at the call that
    // would pass 16 MiB, quickly (a failing constant fold used to be retried for every
    // enclosing call: time exponential in the depth).
    let mut hex = "repeat('x', 65536)".to_string();
    for _ in 0..9 {
        hex = format!("encode({hex}, 'hex')");
    }
    let started = std::time::Instant::now();
    let msg = error(
        s.sql(&format!("select length({hex}) as n"), "json").await,
        413,
    )
    .await;
    assert!(msg.contains("one call may"), "{msg}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    let ok = s
        .sql(
            "select concat(kommun, '-', period) as k from kartlaggning limit 1",
            "json",
        )
        .await;
    assert_eq!(json(ok).await, serde_json::json!([{ "k": "0880-2015-05" }]));
    s.stop().await;
}
