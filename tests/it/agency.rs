//! Agency formats end to end: Arbetsförmedlingen's Excel under its old (before
//! 2022-05-25) and new labels maps to the same measures through the shipped pipeline's
//! value maps, with `<5` kept as suppressed.

use rust_xlsxwriter::{Format, Workbook};

use crate::common::TestLake;

/// The shipped AF pipeline as `af`, reading the workbooks in `extracts`.
fn private_af_pipeline(t: &mut TestLake, extracts: &std::path::Path) {
    let pipelines = t.dir.path().join("pipelines");
    std::fs::create_dir_all(&pipelines).expect("mkdir");
    let text = std::fs::read_to_string("pipelines/kalmar_af.toml")
        .expect("shipped")
        .replace(
            "samples/kalmar/af_inskrivna_*.xlsx",
            &format!("{}/af_inskrivna_*.xlsx", extracts.display()),
        );
    std::fs::write(pipelines.join("af.toml"), text).expect("pipeline");
    t.settings.pipelines_dir = pipelines;
}

/// The rows above AF's data: the title merged over the sheet, "Antal" over the kön
/// columns, the column names.
fn af_sheet_head(ws: &mut rust_xlsxwriter::Worksheet, month: &str, plain: &Format) {
    ws.merge_range(
        0,
        0,
        0,
        5,
        &format!("Inskrivna arbetssökande 16–24 år, Kalmar kommun (0880), {month}"),
        plain,
    )
    .expect("title");
    ws.merge_range(1, 3, 1, 5, "Antal", plain)
        .expect("group header");
    for (c, h) in ["Mått", "Ålder", "Kategori", "Kvinnor", "Män", "Totalt"]
        .iter()
        .enumerate()
    {
        ws.write_string(2, c as u16, *h).expect("header");
    }
}

fn af_workbook(month: &str, rows: &[(&str, &str, &str, &str)]) -> Vec<u8> {
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    ws.set_name("Kalmar").expect("sheet name");
    let plain = Format::new();
    af_sheet_head(ws, month, &plain);
    for (i, (label, k, m, t)) in rows.iter().enumerate() {
        let r = 3 + i as u32;
        ws.write_string(r, 0, *label).expect("label");
        ws.write_string(r, 1, "16-24").expect("age");
        ws.write_string(r, 2, "Totalt").expect("category");
        for (c, v) in [(3u16, k), (4, m), (5, t)] {
            match v.parse::<f64>() {
                Ok(n) => ws.write_number(r, c, n).expect("number"),
                Err(_) => ws.write_string(r, c, *v).expect("token"),
            };
        }
    }
    wb.save_to_buffer().expect("xlsx")
}

#[tokio::test]
async fn af_labels_renamed_in_2022_map_to_the_same_measures() {
    let mut t = TestLake::new();
    let extracts = t.dir.path().join("af");
    std::fs::create_dir_all(&extracts).expect("mkdir");
    let old = af_workbook(
        "maj 2021",
        &[
            (
                "ÖPPET ARBETSLÖSA OCH SÖKANDE I PROGRAM",
                "310",
                "450",
                "760",
            ),
            ("SÖKANDE I PROGRAM", "<5", "6", "9"),
        ],
    );
    let new = af_workbook(
        "maj 2023",
        &[
            ("INSKRIVNA ARBETSLÖSA", "280", "401", "681"),
            ("ARBETSLÖSA I PROGRAM", "12", "<5", "15"),
        ],
    );
    std::fs::write(extracts.join("af_inskrivna_2021-05.xlsx"), old).expect("write");
    std::fs::write(extracts.join("af_inskrivna_2023-05.xlsx"), new).expect("write");
    private_af_pipeline(&mut t, &extracts);
    let (outcome, out) = t.run(&["af"]).await;
    assert!(outcome.success(), "{out}");
    assert_eq!(outcome.reports[0].rows_quarantined, 0, "{out}");
    let v = |period: &str, matt: &str, kon: &str| {
        format!(
            "select cast(varde as bigint) from aggregat where period = '{period}' and matt = '{matt}' and kon = '{kon}'"
        )
    };
    assert_eq!(
        t.scalar(&v("2021-05", "af_inskrivna_arbetslosa", "T"))
            .await,
        Some(760)
    );
    assert_eq!(
        t.scalar(&v("2023-05", "af_inskrivna_arbetslosa", "T"))
            .await,
        Some(681)
    );
    assert_eq!(
        t.scalar(&v("2021-05", "af_arbetslosa_i_program", "M"))
            .await,
        Some(6)
    );
    // `<5` is suppressed with upper bound 4, never 0, under either naming.
    assert_eq!(
        t.scalar(&v("2021-05", "af_arbetslosa_i_program", "K"))
            .await,
        None
    );
    assert_eq!(t.scalar("select cast(ovre_grans as bigint) from aggregat where period = '2023-05' and matt = 'af_arbetslosa_i_program' and kon = 'M' and status = 'suppressed' and varde_token = '<5'").await, Some(4));
}

#[tokio::test]
async fn an_aggregate_row_given_twice_fails_the_file_instead_of_publishing_two_rows() {
    let mut t = TestLake::new();
    let extracts = t.dir.path().join("extracts");
    std::fs::create_dir_all(&extracts).expect("mkdir");
    let file = extracts.join("af_inskrivna_2015-05.xlsx");
    let good = af_workbook("maj 2015", &[("INSKRIVNA ARBETSLÖSA", "280", "401", "681")]);
    std::fs::write(&file, good).expect("write");
    private_af_pipeline(&mut t, &extracts);
    let (ok, out) = t.run(&["af"]).await;
    assert!(ok.success(), "{out}");
    // The same row twice (rows 4 and 5 of the sheet, each unpivoted into three).
    let repeated = af_workbook(
        "maj 2015",
        &[
            ("INSKRIVNA ARBETSLÖSA", "280", "401", "681"),
            ("INSKRIVNA ARBETSLÖSA", "280", "401", "681"),
        ],
    );
    std::fs::write(&file, repeated).expect("write");
    let (failed, out) = t.run(&["af"]).await;
    assert_eq!(failed.reports[0].status, "failed", "{out}");
    let err = failed.reports[0].error.clone().unwrap_or_default();
    assert!(
        err.contains("rows 4 and 5 have the same key") && err.contains("af_inskrivna_arbetslosa"),
        "{err}"
    );
    let q = "select count(*) from aggregat where matt = 'af_inskrivna_arbetslosa'";
    assert_eq!(
        t.scalar(q).await,
        Some(3),
        "the last good rows stay, once each"
    );
}

#[tokio::test]
async fn a_category_cell_merged_over_two_rows_never_publishes_two_rows_of_one_key() {
    let mut t = TestLake::new();
    let extracts = t.dir.path().join("extracts");
    std::fs::create_dir_all(&extracts).expect("mkdir");
    // Kategori "Totalt" merged down over rows 4 and 5: the sheet holds it in row 4 only.
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    let plain = Format::new();
    af_sheet_head(ws, "maj 2015", &plain);
    ws.merge_range(3, 2, 4, 2, "Totalt", &plain)
        .expect("merged category");
    for (r, numbers) in [(3u32, [280.0, 401.0, 681.0]), (4, [12.0, 30.0, 42.0])] {
        ws.write_string(r, 0, "INSKRIVNA ARBETSLÖSA")
            .expect("label");
        ws.write_string(r, 1, "16-24").expect("age");
        for (c, n) in (3u16..).zip(numbers) {
            ws.write_number(r, c, n).expect("number");
        }
    }
    std::fs::write(
        extracts.join("af_inskrivna_2015-05.xlsx"),
        wb.save_to_buffer().expect("xlsx"),
    )
    .expect("write");
    private_af_pipeline(&mut t, &extracts);
    let (outcome, out) = t.run(&["af"]).await;
    let report = &outcome.reports[0];
    assert!(
        report.status == "failed" || report.rows_quarantined > 0,
        "the row under the merged cell is a problem: {out}"
    );
    let keys = "select count(*) from (select kommun, period, matt, kon, alder, dimension, kategori from aggregat group by 1, 2, 3, 4, 5, 6, 7 having count(*) > 1)";
    assert_eq!(t.scalar(keys).await, Some(0), "{out}");
}

/// Answers PxWebApi 2.0 data requests with a JSON-stat 2.0 cube of exactly the codes
/// asked for (as SCB does), population = 300 + 10 × age + kön; one cell (age 24, women,
/// 2015) suppressed with status `..`. The body starts with a byte-order mark.
struct ScbData;

impl wiremock::Respond for ScbData {
    fn respond(&self, request: &wiremock::Request) -> wiremock::ResponseTemplate {
        let mut sel: Vec<(String, Vec<String>)> = Vec::new();
        for (k, v) in request.url.query_pairs() {
            if let Some(var) = k
                .strip_prefix("valuecodes[")
                .and_then(|r| r.strip_suffix(']'))
            {
                sel.push((var.to_string(), v.split(',').map(str::to_string).collect()));
            }
        }
        let order = ["Region", "Alder", "Kon", "ContentsCode", "Tid"];
        let codes = |var: &str| {
            sel.iter()
                .find(|(k, _)| k == var)
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        let mut values = Vec::new();
        let mut status = serde_json::Map::new();
        for _r in codes("Region") {
            for a in codes("Alder") {
                for k in codes("Kon") {
                    for _c in codes("ContentsCode") {
                        for t in codes("Tid") {
                            if a == "24" && k == "2" && t == "2015" {
                                status.insert(values.len().to_string(), serde_json::json!(".."));
                                values.push(serde_json::Value::Null);
                            } else {
                                let n: i64 = 300
                                    + 10 * a.parse::<i64>().unwrap_or(0)
                                    + k.parse::<i64>().unwrap_or(0);
                                values.push(serde_json::json!(n));
                            }
                        }
                    }
                }
            }
        }
        let dimension: serde_json::Map<String, serde_json::Value> = order
            .iter()
            .map(|var| {
                let index: serde_json::Map<String, serde_json::Value> = codes(var)
                    .iter()
                    .enumerate()
                    .map(|(i, c)| (c.clone(), serde_json::json!(i)))
                    .collect();
                (
                    var.to_string(),
                    serde_json::json!({ "label": var, "category": { "index": index } }),
                )
            })
            .collect();
        let body = serde_json::json!({
            "version": "2.0", "class": "dataset", "source": "SCB",
            "id": order, "size": order.iter().map(|v| codes(v).len()).collect::<Vec<_>>(),
            "dimension": dimension, "value": values, "status": status,
        });
        let mut bytes = b"\xEF\xBB\xBF".to_vec();
        bytes.extend(serde_json::to_vec(&body).unwrap_or_default());
        wiremock::ResponseTemplate::new(200).set_body_raw(bytes, "application/json")
    }
}

#[tokio::test]
async fn scb_and_kolada_from_mock_servers_give_shares_in_kartlaggning() {
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    let server = MockServer::start().await;
    // SCB PxWebApi 2.0: a cell limit of 20 splits the 36-cell selection in two requests.
    Mock::given(method("GET"))
        .and(path("/api/v2/config"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            serde_json::json!({"maxDataCells": 20, "maxCallsPerTimeWindow": 30, "timeWindow": 10}),
        ))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v2/tables/TAB638/data"))
        .respond_with(ScbData)
        .expect(2)
        .mount(&server)
        .await;
    // Kolada v3: the KPI's title is checked, then two pages are followed.
    let title = "Elever i åk 9 som är behöriga till yrkesprogram, hemkommun, andel (%)";
    Mock::given(method("GET"))
        .and(path("/v3/kpi/N15428"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            serde_json::json!({"count": 1, "values": [{"id": "N15428", "title": title}]}),
        ))
        .expect(1)
        .mount(&server)
        .await;
    let page2 = format!("{}/v3/page/2", server.uri());
    Mock::given(method("GET"))
        .and(path("/v3/data/kpi/N15428/municipality/0880/year/2015"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({"count": 1, "next_url": page2,
            "values": [{"kpi": "N15428", "municipality": "0880", "period": 2015, "values": [{"gender": "T", "count": 1, "status": "", "value": 89.2}]}]})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v3/page/2"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({"count": 1, "next_url": "",
            "values": [{"kpi": "N15428", "municipality": "0880", "period": 2015, "values": [{"gender": "K", "count": 1, "status": "", "value": null}]}]})))
        .expect(1)
        .mount(&server)
        .await;

    let mut t = TestLake::new();
    let dir = t.dir.path().join("pipelines");
    std::fs::create_dir_all(&dir).expect("mkdir");
    for shipped in ["kalmar_af", "kalmar_kaa"] {
        std::fs::copy(
            format!("pipelines/{shipped}.toml"),
            dir.join(format!("{shipped}.toml")),
        )
        .expect("copy");
    }
    // The shipped pipelines with their live [source] sections pointed at the mock server.
    let scb = std::fs::read_to_string("pipelines/scb_befolkning.toml").expect("shipped").replace(
        "type = \"file\"\npath = \"samples/scb/befolkning_*.json\"",
        &format!("type = \"pxweb\"\napi = \"v2\"\nurl = \"{}/api/v2\"\ntable = \"TAB638\"\nselection = {{ Region = [\"0880\"], Alder = [\"16\", \"17\", \"18\", \"19\", \"20\", \"21\", \"22\", \"23\", \"24\"], Kon = [\"1\", \"2\"], ContentsCode = [\"BE0101N1\"], Tid = [\"2014\", \"2015\"] }}\nretries = 0", server.uri()),
    );
    std::fs::write(dir.join("scb.toml"), scb).expect("write");
    let kolada = std::fs::read_to_string("pipelines/kolada_kalmar.toml").expect("shipped").replace(
        "type = \"file\"\npath = \"samples/kolada/kalmar_*.json\"",
        &format!("type = \"kolada\"\nurl = \"{}/v3\"\nmunicipalities = [\"0880\"]\nyears = [\"2015\"]\nkpis = [{{ id = \"N15428\", title = \"{title}\" }}]\nretries = 0", server.uri()),
    );
    std::fs::write(dir.join("kolada.toml"), kolada).expect("write");
    t.settings.pipelines_dir = dir;

    let (outcome, out) = t.run(&[]).await;
    assert!(outcome.success(), "{out}");
    let scb_report = outcome
        .reports
        .iter()
        .find(|r| r.pipeline == "scb")
        .expect("scb ran");
    assert_eq!(
        (scb_report.files_read, scb_report.rows_written),
        (2, 36),
        "{out}"
    );

    // Population 2014, 16–24, both sexes: Σ over ages 16..24 of (300 + 10a + 1) + (300 + 10a + 2).
    let pop_t: i64 = (16..=24).map(|a| 2 * (300 + 10 * a) + 3).sum();
    assert_eq!(
        t.scalar(
            "select befolkning from befolkning where ar = 2014 and kon = 'T' and alder = '16-24'"
        )
        .await,
        Some(pop_t)
    );
    // The suppressed cell stays NULL with its token and makes its bands NULL, never an undercount.
    assert_eq!(t.scalar("select count(*) from aggregat where kalla = 'scb' and status = 'suppressed' and varde_token = '..' and varde is null").await, Some(1));
    assert_eq!(
        t.scalar(
            "select befolkning from befolkning where ar = 2015 and kon = 'K' and alder = '16-24'"
        )
        .await,
        None
    );
    // May 2015 is set against 31 December 2014.
    let share = t.scalar("select cast(round(andel * 1000000) as bigint) from kartlaggning where matt = 'malgrupp_summa' and kon = 'T' and alder = '16-24' and period = '2015-05'").await;
    assert_eq!(
        share,
        Some((902.0 * 1_000_000.0 / pop_t as f64).round() as i64)
    );
    // Kolada's share arrives as a share; its suppressed cell as NULL with status.
    assert_eq!(t.scalar("select cast(round(andel * 1000) as bigint) from kartlaggning where matt = 'ak9_behoriga_yrkesprogram' and kon = 'T' and period = '2015'").await, Some(892));
    assert_eq!(t.scalar("select count(*) from kartlaggning where matt = 'ak9_behoriga_yrkesprogram' and kon = 'K' and andel is null and status = 'suppressed'").await, Some(1));
}

#[tokio::test]
async fn a_changed_kolada_title_fails_the_pipeline_before_loading_data() {
    use wiremock::matchers::{method, path, path_regex};
    use wiremock::{Mock, MockServer, ResponseTemplate};
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v3/kpi/N15428"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({"count": 1, "values": [{"id": "N15428", "title": "Något helt annat, andel (%)"}]})))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path_regex("^/v3/data/.*"))
        .respond_with(ResponseTemplate::new(200))
        .expect(0)
        .mount(&server)
        .await;
    let mut t = TestLake::new();
    let dir = t.dir.path().join("pipelines");
    std::fs::create_dir_all(&dir).expect("mkdir");
    let kolada = std::fs::read_to_string("pipelines/kolada_kalmar.toml").expect("shipped").replace(
        "type = \"file\"\npath = \"samples/kolada/kalmar_*.json\"",
        &format!("type = \"kolada\"\nurl = \"{}/v3\"\nmunicipalities = [\"0880\"]\nyears = [\"2015\"]\nkpis = [{{ id = \"N15428\", title = \"Elever i åk 9 som är behöriga till yrkesprogram, hemkommun, andel (%)\" }}]\nretries = 0", server.uri()),
    );
    std::fs::write(dir.join("kolada.toml"), kolada).expect("write");
    t.settings.pipelines_dir = dir;
    let (outcome, _) = t.run(&[]).await;
    assert!(!outcome.success());
    let err = outcome.reports[0].error.clone().expect("an error");
    assert!(
        err.contains("N15428") && err.contains("Något helt annat"),
        "{err}"
    );
}
