//! What a PostgreSQL client sends reaches the log only scrubbed: refused statements, the
//! user names of failed logins and `SET malgrupp.as_of` values carrying an identity
//! number, in every spelling `scrub` knows, against the real `malgrupp serve` and its
//! JSON log.

use malgrupp::normalize::personnummer::{contains_valid_personnummer, spellings};

use super::*;
use crate::daemon::{Service, Site};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_clients_send_is_scrubbed_before_it_is_logged() {
    let pipelines = tempfile::tempdir().expect("tempdir");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let site = Site::new(
        pipelines.path(),
        &format!("pg_listen = \"127.0.0.1:{port}\""),
    );
    let users = format!("{USER}:{PASSWORD}");
    let service = Service::start_with(
        &site,
        // Everything at debug: the crates under the endpoint log what clients send too.
        &[("MALGRUPP_PG_USERS", &users), ("MALGRUPP_LOG", "debug")],
    );
    let port = port.to_string();
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(format!("127.0.0.1:{port}")).is_err() {
        assert!(
            Instant::now() < deadline,
            "the PostgreSQL endpoint never listened"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let spelled = spellings("199410212386");
    for s in &spelled {
        let delete = format!("delete from kartlaggning where person = '{s}'");
        let r = run_psql(&port, USER, PASSWORD, &delete);
        assert!(r.error().contains("read-only"), "{r:?}");
        // A session parameter whose value is no moment: refused, the value not logged.
        let set = format!("set malgrupp.as_of = '{s}'");
        let r = run_psql(&port, USER, PASSWORD, &set);
        assert!(r.error().contains("malgrupp.as_of"), "{r:?}");
        let r = run_psql(&port, s, PASSWORD, "select 1");
        assert!(
            r.error().contains("password authentication failed"),
            "{r:?}"
        );
    }
    let (status, log) = service.terminate(Duration::from_secs(60));
    assert!(status.success(), "{status:?}");
    let refused = log
        .iter()
        .filter(|l| l.contains("statement refused"))
        .count();
    let failed = log
        .iter()
        .filter(|l| l.contains("password authentication failed"))
        .count();
    assert_eq!(
        (refused, failed),
        (spelled.len(), spelled.len()),
        "{log:#?}"
    );
    for line in &log {
        assert!(!contains_valid_personnummer(line), "logged: {line}");
    }
}
