//! `SET malgrupp.as_of`: a PostgreSQL session reads the views as they were published at
//! an earlier moment, as the HTTP API's `as_of` and `malgrupp export --as-of` do, with
//! the real `psql`: a lake published twice, the generations kept beside its link.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_reads_the_views_as_published_at_an_earlier_time() {
    let t = TestLake::new();
    // A second source changes the kartläggning: a new published set.
    let (before, between) = t.publish_twice().await;
    let at =
        |t: chrono::DateTime<chrono::Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);

    let server = Server::start(&malgrupp::publish::dir(&t.lake()), limits(100_000)).await;
    let sum = "select coalesce(sum(antal), 0) from kartlaggning";
    let last = |p: Psql| p.lines().last().map(|l| l.to_string()).expect("a row");
    let now = last(server.psql(sum).await);
    let then = last(
        server
            .psql(&format!("set malgrupp.as_of = '{}'; {sum}", at(between)))
            .await,
    );
    assert_ne!(now, then, "the second run changed the view");
    let shown = server
        .psql(&format!(
            "set malgrupp.as_of = '{}'; show malgrupp.as_of",
            at(between)
        ))
        .await;
    assert_eq!(last(shown), at(between));
    assert_eq!(server.psql("show malgrupp.as_of").await.lines(), [""]);
    // The very set the HTTP API and `export --as-of` read for that moment.
    let generation = malgrupp::publish::generation::as_of(&t.lake(), between)
        .expect("generations")
        .expect("one was live then");
    assert_eq!(
        figure(&generation, sum).await.map(|f| f.to_string()),
        Some(then.clone())
    );
    // Back to the current set within the session; a date is the end of that day.
    let back = format!(
        "set malgrupp.as_of = '{}'; set malgrupp.as_of = default; {sum}",
        at(between)
    );
    assert_eq!(last(server.psql(&back).await), now);
    let today = chrono::Utc::now()
        .with_timezone(&chrono_tz::Europe::Stockholm)
        .format("%Y-%m-%d");
    assert_eq!(
        last(
            server
                .psql(&format!("set malgrupp.as_of = '{today}'; {sum}"))
                .await
        ),
        now
    );

    // A moment nothing kept was published at, and a value that is no moment: refused,
    // saying why.
    let early = server
        .psql(&format!("set malgrupp.as_of = '{}'; {sum}", at(before)))
        .await;
    assert!(
        early.error().contains("nothing published as of"),
        "{}",
        early.stderr
    );
    let wrong = server.psql("set malgrupp.as_of = '10 juni'").await;
    assert!(
        wrong.error().contains("malgrupp.as_of") && wrong.error().contains("expected a time"),
        "{}",
        wrong.stderr
    );
    server.stop().await;
}
