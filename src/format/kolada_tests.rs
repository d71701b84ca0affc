//! Tests of the Kolada page reader on hand-written pages of the shapes v2 and v3 serve.
//! Expected rows are written out by hand.

use super::*;

/// A v3 page: one data point with T/K/M (M suppressed), one with a deleted breakdown,
/// one deleted as a whole, and the paging links Kolada adds.
const PAGE: &str = r#"{
  "count": 3,
  "values": [
    {"kpi": "N15428", "municipality": "0880", "period": 2015,
     "values": [
       {"gender": "T", "count": 1, "status": "", "value": 82.4},
       {"gender": "K", "count": 1, "status": "", "value": 85},
       {"gender": "M", "count": 1, "status": "", "value": null}]},
    {"kpi": "N15428", "municipality": "1481", "period": 2015,
     "values": [
       {"gender": "T", "count": 2, "status": "Beräknat", "value": 1234.5},
       {"gender": "K", "count": 2, "status": "", "value": 3.0, "isdeleted": true}]},
    {"kpi": "N15428", "municipality": "0884", "period": 2015, "isdeleted": true,
     "values": [{"gender": "T", "count": 1, "status": "", "value": 70.1},
                {"gender": "K", "count": 1, "status": "", "value": 71.2}]}
  ],
  "next_url": "",
  "previous_url": "https://api.kolada.se/v3/data/kpi/N15428/municipality/0880/year/2015?page=1"
}"#;

fn cells(rows: &[RawRow]) -> Vec<Vec<&str>> {
    rows.iter()
        .map(|r| r.cells.iter().map(String::as_str).collect())
        .collect()
}

fn err(json: &str) -> String {
    read(json.as_bytes(), ',')
        .expect_err("must be rejected")
        .to_string()
}

#[test]
fn v3_page_with_suppressed_and_deleted_entries() {
    let page = read_page(PAGE.as_bytes(), ',').expect("reads");
    assert_eq!(
        cells(&page.rows),
        vec![
            vec![
                "kpi",
                "municipality",
                "period",
                "gender",
                "value",
                "status",
                "count"
            ],
            vec!["N15428", "0880", "2015", "T", "82,4", "", "1"],
            vec!["N15428", "0880", "2015", "K", "85", "", "1"],
            vec!["N15428", "0880", "2015", "M", "..", "", "1"],
            vec!["N15428", "1481", "2015", "T", "1234,5", "Beräknat", "2"],
        ]
    );
    let numbers: Vec<usize> = page.rows.iter().map(|r| r.row).collect();
    assert_eq!(numbers, vec![1, 2, 3, 4, 5], "rows numbered 1, 2, 3 …");
    assert_eq!(
        page.deleted, 3,
        "one breakdown and one whole data point of two"
    );
    assert_eq!(read(PAGE.as_bytes(), ',').expect("reads"), page.rows);
}

#[test]
fn decimal_point_is_kept_and_integral_floats_lose_their_decimals() {
    let rows = read(PAGE.as_bytes(), '.').expect("reads");
    assert_eq!(rows[1].cells[4], "82.4");
    assert_eq!(rows[4].cells[4], "1234.5");
    let json = r#"{"values":[{"kpi":"N1","municipality":"0880","period":2015,
        "values":[{"gender":"T","count":4,"status":"","value":3.0},
                  {"gender":"K","count":4,"status":"","value":0.05},
                  {"gender":"M","count":4,"status":"","value":-2}]}]}"#;
    let rows = read(json.as_bytes(), ',').expect("reads");
    let values: Vec<&str> = rows[1..].iter().map(|r| r.cells[4].as_str()).collect();
    assert_eq!(values, vec!["3", "0,05", "-2"]);
}

#[test]
fn v2_page_with_bom_string_period_f_gender_and_missing_fields() {
    let json = r#"{"count": 1, "values": [
        {"kpi": "U00405", "municipality": "0880", "period": "2016",
         "values": [{"gender": "F", "value": 12}, {"gender": "m", "status": null, "count": null}]}],
      "next_page": null, "previous_page": null}"#;
    let mut bytes = b"\xEF\xBB\xBF".to_vec();
    bytes.extend_from_slice(json.as_bytes());
    let rows = read(&bytes, ',').expect("reads");
    assert_eq!(
        cells(&rows[1..]),
        vec![
            vec!["U00405", "0880", "2016", "K", "12", "", ""],
            vec!["U00405", "0880", "2016", "M", "..", "", ""],
        ]
    );
}

#[test]
fn empty_page_is_a_header_only() {
    let rows = read(br#"{"count":0,"values":[],"next_url":""}"#, ',').expect("reads");
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].cells, HEADER.map(String::from).to_vec());
}

#[test]
fn unknown_gender_is_named() {
    let e = err(
        r#"{"values":[{"kpi":"N1","municipality":"0880","period":2015,"values":[{"gender":"X","value":1}]}]}"#,
    );
    assert!(e.contains("unknown gender 'X'"), "{e}");
    assert!(e.contains("values[0]") && e.contains("N1"), "{e}");
}

#[test]
fn malformed_pages_are_rejected_with_a_reason() {
    let cases: &[(&[u8], &str)] = &[
        (b"<html>Service unavailable</html>", "not JSON"),
        (b"", "not JSON"),
        (b"[1,2]", "top level is an array"),
        (br#"{"error":"Not found"}"#, "missing 'values' (keys found: error)"),
        (br#"{"values":{}}"#, "'values' is an object"),
        (br#"{"values":[3]}"#, "values[0] is a number"),
        (
            br#"{"values":[{"municipality":"0880","period":2015,"values":[]}]}"#,
            "has no 'kpi'",
        ),
        (
            br#"{"values":[{"kpi":"N1","municipality":880,"period":2015,"values":[]}]}"#,
            "'municipality' is a number",
        ),
        (
            br#"{"values":[{"kpi":"N1","municipality":"0880","period":2015.5,"values":[]}]}"#,
            "'period' is 2015.5",
        ),
        (
            br#"{"values":[{"kpi":"N1","municipality":"0880","period":2015}]}"#,
            "has no 'values'",
        ),
        (
            br#"{"values":[{"kpi":"N1","municipality":"0880","period":2015,"values":[{"value":1}]}]}"#,
            "has no 'gender'",
        ),
        (
            br#"{"values":[{"kpi":"N1","municipality":"0880","period":2015,"values":[{"gender":"T","value":"82,4"}]}]}"#,
            "'value' is a string",
        ),
        (
            br#"{"values":[{"kpi":"N1","municipality":"0880","period":2015,"values":[{"gender":"T","value":1,"status":0}]}]}"#,
            "'status' is a number",
        ),
        (
            br#"{"values":[{"kpi":"N1","municipality":"0880","period":2015,"values":[{"gender":"T","value":1,"isdeleted":"yes"}]}]}"#,
            "'isdeleted' is \"yes\"",
        ),
    ];
    for (bytes, want) in cases {
        let e = read(bytes, ',').expect_err("must be rejected").to_string();
        assert!(
            e.contains(want),
            "{}: got '{e}', want '{want}'",
            String::from_utf8_lossy(bytes)
        );
    }
}
