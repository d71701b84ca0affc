//! The Bilaga 1 report end to end: the shipped pipelines publish, `serve` renders the
//! report at its URL, and Debian's headless Chromium opens it: no console message (the
//! page has no scripts, so any message is an error or a failed resource), every figure in
//! its tables equal to the published `kartlaggning`, suppressed cells shown as such, and
//! a screenshot left in `target/test-artifacts/`. The xlsx and Markdown forms carry the
//! same figures.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use datafusion::arrow::array::{Array, BooleanArray, Int64Array, StringArray};
use malgrupp::serve::ServeConfig;

use crate::common::{TestLake, query_in};

const TOKEN: &str = "report-test-token";
const CHROMIUM: &str = "/usr/bin/chromium";

fn artifacts() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/test-artifacts");
    std::fs::create_dir_all(&dir).expect("artifact dir");
    dir
}

/// Runs headless Chromium on `page` with `args`; returns stdout and the console lines.
fn chromium(page: &Path, args: &[&str]) -> (String, Vec<String>) {
    let profile = tempfile::tempdir().expect("profile");
    let out = Command::new(CHROMIUM)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(args)
        .arg(format!("file://{}", page.display()))
        .output()
        .unwrap_or_else(|e| panic!("{CHROMIUM} must be installed (apt-get install chromium): {e}"));
    assert!(
        out.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let console = String::from_utf8_lossy(&out.stderr)
        .lines()
        .filter(|l| l.contains(":CONSOLE"))
        .map(str::to_string)
        .collect();
    (String::from_utf8_lossy(&out.stdout).into_owned(), console)
}

/// `(matt, kon, alder, dimension, kategori)` → (antal, skyddad) of the published table.
async fn published(t: &TestLake) -> HashMap<[String; 5], (Option<i64>, bool)> {
    let ctx = datafusion::prelude::SessionContext::new();
    malgrupp::published::open(&malgrupp::publish::dir(&t.lake()))
        .await
        .expect("published")
        .register(&ctx)
        .await;
    let sql = "select matt, kon, alder, dimension, kategori, antal, antal_skyddad from kartlaggning where kommun = '0880' and period = '2015-05'";
    let mut out = HashMap::new();
    for b in query_in(&ctx, sql).await {
        let s = |i: usize| {
            let a = datafusion::arrow::compute::cast(
                b.column(i),
                &datafusion::arrow::datatypes::DataType::Utf8,
            )
            .expect("cast");
            a.as_any()
                .downcast_ref::<StringArray>()
                .expect("text")
                .clone()
        };
        let cols: Vec<StringArray> = (0..5).map(s).collect();
        let antal = b
            .column(5)
            .as_any()
            .downcast_ref::<Int64Array>()
            .expect("antal")
            .clone();
        let skyddad = b
            .column(6)
            .as_any()
            .downcast_ref::<BooleanArray>()
            .expect("flag")
            .clone();
        for i in 0..b.num_rows() {
            let key = [0, 1, 2, 3, 4].map(|c| cols[c].value(i).to_string());
            let v = (!antal.is_null(i)).then(|| antal.value(i));
            out.insert(key, (v, skyddad.value(i)));
        }
    }
    out
}

/// The `data-*` attributes of every `<td` carrying a figure in `dom`.
fn figure_cells(dom: &str) -> Vec<HashMap<String, String>> {
    let attr = regex::Regex::new(r#"data-([a-z_]+)="([^"]*)""#).expect("regex");
    dom.split("<td")
        .skip(1)
        .filter_map(|cell| {
            let tag = &cell[..cell.find('>')?];
            let attrs: HashMap<String, String> = attr
                .captures_iter(tag)
                .map(|c| (c[1].to_string(), c[2].to_string()))
                .collect();
            attrs.contains_key("matt").then_some(attrs)
        })
        .collect()
}

#[tokio::test]
async fn the_served_report_renders_in_chromium_with_the_published_figures() {
    let t = TestLake::new();
    let (outcome, out) = t.run(&[]).await;
    assert!(outcome.success(), "{out}");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let cfg = ServeConfig {
        published_dir: t.lake().root().join("published"),
        tokens: vec![TOKEN.into()],
        report_settings: Some(Arc::new(t.settings.clone())),
        ..ServeConfig::default()
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(malgrupp::serve::serve_on(listener, cfg, async {
        let _ = stopped.await;
    }));
    let url = format!("http://{addr}/api/v1/reports/0880/2015-05");
    let client = reqwest::Client::new();
    assert_eq!(client.get(&url).send().await.expect("get").status(), 401);
    let resp = client
        .get(&url)
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("get");
    assert_eq!(resp.status(), 200);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .expect("type")
            .starts_with("text/html")
    );
    let html = resp.text().await.expect("body");
    let missing = client
        .get(format!("http://{addr}/api/v1/reports/0880/2031-01"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("get");
    assert_eq!(missing.status(), 404);
    // A wrong request is the client's (400); nothing to show is 404.
    let not_a_kommun = client
        .get(format!("http://{addr}/api/v1/reports/9999/2015-05"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("get");
    assert_eq!(not_a_kommun.status(), 400);
    let _ = stop.send(());
    server.await.expect("join").expect("served");

    // A broken agreement is the server's configuration, not a missing report: it must
    // not be answered as 404 (the served handler answers it 500 and logs it).
    let broken = tempfile::tempdir().expect("tempdir");
    std::fs::write(broken.path().join("0880.toml"), "kommun = ").expect("write");
    let mut settings = t.settings.clone();
    settings.agreements_dir = broken.path().to_path_buf();
    let err = malgrupp::report::load::build(
        &settings,
        "0880",
        "2015-05",
        malgrupp::report::ReportFormat::Html,
    )
    .await
    .expect_err("a broken agreement");
    assert!(matches!(err, malgrupp::Error::Config(_)), "{err:?}");
    let err = malgrupp::report::load::build(
        &t.settings,
        "0880",
        "2031-01",
        malgrupp::report::ReportFormat::Html,
    )
    .await
    .expect_err("no data");
    assert!(matches!(err, malgrupp::Error::NotFound(_)), "{err:?}");

    let page = artifacts().join("bilaga1_0880_2015-05.html");
    std::fs::write(&page, &html).expect("write page");
    let (dom, console) = chromium(&page, &["--dump-dom"]);
    assert!(console.is_empty(), "console messages: {console:#?}");
    let cells = figure_cells(&dom);
    assert!(
        cells.len() > 300,
        "figure cells in the rendered DOM: {}",
        cells.len()
    );
    let figures = published(&t).await;
    let mut compared = 0;
    for c in cells.iter().filter(|c| {
        c.get("field").map(String::as_str) == Some("antal")
            && c.get("period").map(String::as_str) == Some("2015-05")
    }) {
        let key = ["matt", "kon", "alder", "dimension", "kategori"]
            .map(|k| c.get(k).cloned().unwrap_or_default());
        let Some((antal, skyddad)) = figures.get(&key) else {
            panic!("a figure the published table does not have: {c:?}");
        };
        if *skyddad {
            assert_eq!(c.get("skyddad").map(String::as_str), Some("true"), "{c:?}");
            assert!(
                !c.contains_key("value"),
                "a suppressed cell shows no number: {c:?}"
            );
        } else if let Some(v) = antal {
            assert_eq!(c.get("value"), Some(&v.to_string()), "{c:?}");
        }
        compared += 1;
    }
    assert!(compared > 300, "compared {compared} figures");

    let shot = artifacts().join("bilaga1_0880_2015-05.png");
    let _ = std::fs::remove_file(&shot);
    let (_, console) = chromium(
        &page,
        &[
            &format!("--screenshot={}", shot.display()),
            "--window-size=1200,3000",
        ],
    );
    assert!(console.is_empty(), "{console:#?}");
    let png = std::fs::read(&shot).expect("screenshot written");
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 20_000,
        "a real screenshot: {} bytes",
        png.len()
    );
}

#[test]
fn the_console_check_catches_a_script_error() {
    // The negative control of the check above: a page with an error is caught.
    let dir = tempfile::tempdir().expect("tempdir");
    let page = dir.path().join("bad.html");
    std::fs::write(
        &page,
        "<html><body><script>missing();</script></body></html>",
    )
    .expect("write");
    let (_, console) = chromium(&page, &["--dump-dom"]);
    assert!(
        console.iter().any(|l| l.contains("missing is not defined")),
        "{console:?}"
    );
}

#[tokio::test]
async fn xlsx_and_markdown_reports_carry_the_same_figures() {
    let t = TestLake::new();
    let (outcome, out) = t
        .run(&[
            "kalmar_fs",
            "kalmar_af",
            "kalmar_kaa",
            "kalmar_timanstallda",
        ])
        .await;
    assert!(outcome.success(), "{out}");
    let dir = tempfile::tempdir().expect("tempdir");
    let xlsx = malgrupp::cli::report::execute(
        &t.settings,
        "0880",
        "2015-05",
        "xlsx",
        Some(&dir.path().join("r.xlsx")),
    )
    .await
    .expect("xlsx");
    let md = malgrupp::cli::report::execute(
        &t.settings,
        "0880",
        "2015-05",
        "md",
        Some(&dir.path().join("r.md")),
    )
    .await
    .expect("md");
    let figures = published(&t).await;
    let total = |matt: &str, alder: &str| {
        figures[&[matt, "T", alder, "total", "total"].map(String::from)]
            .0
            .expect("count")
    };
    let malgrupp = total("malgrupp_summa", "16-24");
    // The workbook: typed numbers, the målgrupp total among them.
    use calamine::{Reader, open_workbook_auto};
    let mut book = open_workbook_auto(&xlsx).expect("open xlsx");
    let mut numbers = Vec::new();
    for name in book.sheet_names() {
        let range = book.worksheet_range(&name).expect("sheet");
        numbers.extend(range.rows().flatten().filter_map(|c| match c {
            calamine::Data::Float(f) => Some(*f as i64),
            calamine::Data::Int(i) => Some(*i),
            _ => None,
        }));
    }
    assert!(
        numbers.contains(&malgrupp),
        "målgrupp {malgrupp} in the workbook"
    );
    assert!(numbers.contains(&total("kaa_inskrivna", "16-20")));
    let text = std::fs::read_to_string(&md).expect("md");
    assert!(
        text.contains(&format!("| {malgrupp} |")) || text.contains(&format!(" {malgrupp} ")),
        "{}",
        &text[..500.min(text.len())]
    );
    assert!(text.contains(".."), "suppressed cells are marked");
    // The binary without --out writes into the current directory, and to stdout with `-`.
    let cfg = dir.path().join("malgrupp.toml");
    let sql = std::fs::canonicalize("sql").expect("sql");
    let agreements = std::fs::canonicalize(&t.settings.agreements_dir).expect("agreements");
    std::fs::write(
        &cfg,
        format!(
            "[lake]\nroot = '{}'\n[paths]\nsql = '{}'\nagreements = '{}'\n",
            t.settings.lake_root.display(),
            sql.display(),
            agreements.display()
        ),
    )
    .expect("config");
    let report = |out: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_malgrupp"))
            .current_dir(dir.path())
            .args(["--config", cfg.to_str().expect("utf-8")])
            .args([
                "report", "--kommun", "0880", "--period", "2015-05", "--format", "md",
            ])
            .args(out)
            .output()
            .expect("spawn")
    };
    let default = report(&[]);
    assert!(
        default.status.success(),
        "{}",
        String::from_utf8_lossy(&default.stderr)
    );
    let written = std::fs::read_to_string(dir.path().join("bilaga1_0880_2015-05.md"))
        .expect("written to the current directory");
    // Equal but for the time the report was made.
    let undated = |s: &str| -> String {
        s.lines()
            .filter(|l| !l.starts_with("Rapporten skapades"))
            .collect()
    };
    assert_eq!(undated(&written), undated(&text));
    let piped = report(&["--out", "-"]);
    assert!(piped.status.success());
    assert_eq!(
        undated(&String::from_utf8_lossy(&piped.stdout)),
        undated(&text)
    );
}
