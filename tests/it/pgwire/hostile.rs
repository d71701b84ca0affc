//! Clients meant to take the PostgreSQL endpoint down: expressions deep enough to
//! overflow a thread's stack, functions asked for gigabytes of output. Each is refused
//! with a SQLSTATE, over the simple (psql) and the extended protocol (a driver), and the
//! server answers the next query.

use super::*;
use crate::common::{closed_by_server, connect_from};

/// `n` copies of `term` joined by `op`.
fn chain(term: &str, op: &str, n: usize) -> String {
    vec![term; n].join(op)
}

/// A server over an empty published folder: these queries need no views.
async fn empty_server() -> (tempfile::TempDir, Server) {
    let dir = tempfile::tempdir().expect("tempdir");
    let published = dir.path().join("published");
    std::fs::create_dir_all(&published).expect("mkdir");
    let s = Server::start(&published, limits(100_000)).await;
    (dir, s)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deep_expressions_are_refused_over_both_protocols() {
    let (_dir, s) = empty_server().await;
    let plus = format!("select {}", chain("1", "+", 5000));
    let ors = format!(
        "select count(*) from generate_series(1, 10) where {}",
        chain("value = 5", " or ", 3000)
    );
    for sql in [&plus, &ors] {
        let r = s.psql(sql).await;
        assert!(r.error().contains("too complex"), "{r:?}");
    }
    let c = driver(s.port).await;
    for sql in [&plus, &ors] {
        let e = c.query(sql.as_str(), &[]).await.expect_err("too deep");
        let (code, msg) = sqlstate(&e);
        assert_eq!(code, "54001", "{msg}");
    }
    let sum = format!("select {}", chain("1", "+", 1001));
    assert_eq!(s.psql(&sum).await.lines(), ["1001"]);
    let row = c.query_one("select 1::bigint", &[]).await.expect("after");
    assert_eq!(row.get::<_, i64>(0), 1);
    assert_eq!(s.psql("select 1").await.lines(), ["1"]);
    drop(c);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn function_output_counts_against_the_memory_limit() {
    let (_dir, s) = empty_server().await;
    let bomb = "select length(repeat('x', 600000000))";
    let r = s.psql(bomb).await;
    assert!(r.error().contains("more memory than the limit"), "{r:?}");
    // `||` is accepted over PostgreSQL (psql's catalog queries use it) and bounded the
    // same way: doubling a string through CTEs stops at the limit.
    let mut doubling = "with s0 as (select repeat('x', 1000000) as s)".to_string();
    for i in 1..=12 {
        doubling.push_str(&format!(", s{i} as (select s || s as s from s{})", i - 1));
    }
    doubling.push_str(" select length(s) from s12");
    let r = s.psql(&doubling).await;
    assert!(r.error().contains("more memory than the limit"), "{r:?}");
    let c = driver(s.port).await;
    let e = c.query(bomb, &[]).await.expect_err("bomb");
    let (code, msg) = sqlstate(&e);
    assert_eq!(code, "53200", "{msg}");
    let e = c
        .query("select length(lpad('x', $1::bigint))", &[&600_000_000i64])
        .await
        .expect_err("bomb with a parameter");
    assert_eq!(sqlstate(&e).0, "53200", "{e}");
    let row = c
        .query_one("select length(repeat('x', 1000))", &[])
        .await
        .expect("small");
    assert_eq!(row.get::<_, i32>(0), 1000);
    assert_eq!(s.psql("select 1").await.lines(), ["1"]);
    drop(c);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_sockets_do_not_lock_out_real_clients() {
    use malgrupp::pgwire::{HANDSHAKE_DEADLINE, HANDSHAKES_PER_PEER, MAX_SESSIONS};
    let (_dir, s) = empty_server().await;
    let addr: std::net::SocketAddr = format!("127.0.0.1:{}", s.port).parse().expect("addr");
    // More sockets than there are session slots, from another loopback address, that
    // connect and never send a startup message.
    let mut silent = Vec::new();
    for _ in 0..MAX_SESSIONS + 36 {
        silent.push(connect_from("127.0.0.2", addr).await);
    }
    let started = Instant::now();
    assert_eq!(s.psql("select 1").await.lines(), ["1"]);
    let c = driver(s.port).await;
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    // All but a few of one address's silent sockets are closed at once …
    let mut open = Vec::new();
    for mut socket in silent {
        if !closed_by_server(&mut socket, Duration::from_millis(300)).await {
            open.push(socket);
        }
    }
    assert_eq!(open.len(), HANDSHAKES_PER_PEER);
    // … and those after the handshake deadline.
    tokio::time::sleep(HANDSHAKE_DEADLINE).await;
    for socket in &mut open {
        assert!(
            closed_by_server(socket, Duration::from_secs(2)).await,
            "still open"
        );
    }
    // Authenticated sessions are what the cap counts: one driver is in already.
    let mut drivers = vec![c];
    for _ in 1..MAX_SESSIONS {
        drivers.push(driver(s.port).await);
    }
    // The next client authenticates, and is then told the server is full (as
    // PostgreSQL does, after authentication) and disconnected.
    let (_client, connection) = tokio_postgres::Config::new()
        .host("127.0.0.1")
        .port(s.port)
        .user(USER)
        .password(PASSWORD)
        .dbname("malgrupp")
        .connect(tokio_postgres::NoTls)
        .await
        .expect("authenticates");
    let refused = tokio::time::timeout(Duration::from_secs(5), connection)
        .await
        .expect("closed at once")
        .expect_err("one session too many");
    assert_eq!(sqlstate(&refused).0, "53300", "{refused}");
    drivers.pop();
    // The freed slot is taken again (the server sees the close shortly after).
    let mut again = None;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if let Ok((client, conn)) = tokio_postgres::Config::new()
            .host("127.0.0.1")
            .port(s.port)
            .user(USER)
            .password(PASSWORD)
            .dbname("malgrupp")
            .connect(tokio_postgres::NoTls)
            .await
        {
            tokio::spawn(conn);
            again = Some(client);
            break;
        }
    }
    let again = again.expect("a freed slot is given to the next client");
    let row = again
        .query_one("select 1::bigint", &[])
        .await
        .expect("query");
    assert_eq!(row.get::<_, i64>(0), 1);
    drop(drivers);
    drop(again);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explain_is_refused_without_internals() {
    let (t, published) = published_lake().await;
    let s = Server::start(&published, limits(100_000)).await;
    let root = t.dir.path().to_string_lossy().into_owned();
    for sql in [
        "explain select * from kartlaggning",
        "explain analyze select count(*) from kartlaggning",
    ] {
        let r = s.psql(sql).await;
        assert!(r.error().contains("EXPLAIN is not offered"), "{r:?}");
        assert!(
            !r.stdout.contains(&root) && !r.stderr.contains(&root),
            "{r:?}"
        );
    }
    let c = driver(s.port).await;
    let e = c
        .query("explain select * from kartlaggning", &[])
        .await
        .expect_err("explain");
    let (code, msg) = sqlstate(&e);
    assert_eq!(code, "0A000", "{msg}");
    assert_eq!(
        s.psql("select count(*) > 0 from kartlaggning")
            .await
            .lines(),
        ["t"]
    );
    drop(c);
    drop(t);
    s.stop().await;
}
