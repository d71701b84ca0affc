//! Tests of the PxWeb source's parts as units: the split planner, URL building, and the
//! limits read from a server's config.

use std::time::Duration;

use super::tests::sel;
use super::*;

fn owned(parts: &[Part<'_>]) -> Vec<Vec<(String, Vec<String>)>> {
    parts
        .iter()
        .map(|p| p.iter().map(|(c, v)| (c.to_string(), v.to_vec())).collect())
        .collect()
}

#[test]
fn plan_under_the_limit_is_one_request() {
    let s = sel(&[("Region", &["0880", "1480"]), ("Tid", &["2023", "2024"])]);
    assert_eq!(owned(&plan(&s, 4).expect("plan")), vec![s]);
}

#[test]
fn plan_splits_three_variables_in_order() {
    let s = sel(&[
        ("Region", &["a", "b", "c", "d", "e"]),
        ("Alder", &["16", "17", "18"]),
        ("Kon", &["1", "2"]),
    ]);
    let parts = owned(&plan(&s, 4).expect("plan"));
    // 5 × 3 × 2 = 30 cells: Region 5→3→2→1, Alder 3→2; Kon stays whole.
    assert_eq!(parts.len(), 10);
    let count = |p: &Vec<(String, Vec<String>)>| p.iter().map(|(_, v)| v.len()).product::<usize>();
    assert!(parts.iter().all(|p| count(p) <= 4));
    assert_eq!(parts.iter().map(count).sum::<usize>(), 30);
    let expect = |r: &str, a: &[&str]| sel(&[("Region", &[r]), ("Alder", a), ("Kon", &["1", "2"])]);
    assert_eq!(parts[0], expect("a", &["16", "17"]));
    assert_eq!(parts[1], expect("a", &["18"]));
    assert_eq!(parts[2], expect("b", &["16", "17"]));
    assert_eq!(parts[9], expect("e", &["18"]));
}

#[test]
fn plan_prefers_other_variables_to_time_and_never_splits_a_single_value() {
    let s = sel(&[
        ("Tid", &["2023", "2024"]),
        ("Kon", &["1", "2"]),
        ("Region", &["0880"]),
    ]);
    let parts = owned(&plan(&s, 2).expect("plan"));
    assert_eq!(parts.len(), 2);
    assert!(
        parts
            .iter()
            .all(|p| p[0].1.len() == 2 && p[1].1.len() == 1 && p[2].1.len() == 1)
    );
}

#[test]
fn plan_impossible_and_empty_are_errors() {
    let s = sel(&[("Region", &["0880"]), ("Tid", &["2024"])]);
    assert!(
        plan(&s, 0)
            .expect_err("impossible")
            .contains("over the limit")
    );
    assert!(plan(&[], 10).is_err());
    assert!(plan(&sel(&[("Region", &[])]), 10).is_err());
}

#[test]
fn v2_urls_encode_codes() {
    let s = sel(&[
        ("Civilstand", &["ÄNKL", "OG"]),
        ("Region", &["0880", "1480"]),
    ]);
    let parts = plan(&s, 100).expect("plan");
    assert_eq!(
        v2_url("https://x/api/v2/tables/TAB638/data", "sv", &parts[0]),
        "https://x/api/v2/tables/TAB638/data?lang=sv&outputFormat=json-stat2\
         &valuecodes%5BCivilstand%5D=%C3%84NKL,OG&valuecodes%5BRegion%5D=0880,1480"
    );
}

#[test]
fn v1_config_url_is_derived_from_the_table_url() {
    let config = |u: &str| {
        let source = PxwebSource {
            api: PxApi::V1,
            url: u.into(),
            table: None,
            lang: "sv".into(),
            selection: vec![],
            timeout: Duration::from_secs(1),
            retries: 0,
            max_cells: None,
        };
        Endpoint::new(&source).map(|e| (e.config, e.stem))
    };
    assert_eq!(
        config("https://api.scb.se/OV0104/v1/doris/sv/ssd/BE/BE0101/BE0101A/BefolkningNy"),
        Ok((
            Some("https://api.scb.se/OV0104/v1/doris/sv/?config".into()),
            "BefolkningNy".into()
        ))
    );
    assert_eq!(
        config("https://pxdata.stat.fi/PXWeb/api/v1/fi/StatFin/vaerak/statfin_vaerak_pxt_11re.px"),
        Ok((
            Some("https://pxdata.stat.fi/PXWeb/api/v1/fi/?config".into()),
            "statfin_vaerak_pxt_11re.px".into()
        ))
    );
    assert_eq!(
        config("https://example.org/tables/T1"),
        Ok((None, "T1".into()))
    );
    assert!(config("not a url").is_err());
}

#[test]
fn limits_are_read_field_by_field() {
    let v1 = br#"{"maxValues":150000,"maxCells":120000,"maxCalls":30,"timeWindow":10,"CORS":true}"#;
    let (limits, missing) = parse_limits(PxApi::V1, v1, V1_FALLBACK);
    assert_eq!((limits.max_cells, limits.max_calls), (120_000, 30));
    assert!(missing.is_empty());
    // SSB's v2 announces 0 calls / 0 s (rate limit in headers instead): that is no "unlimited".
    let ssb = br#"{"maxDataCells":800000,"maxCallsPerTimeWindow":0,"timeWindow":0}"#;
    let (limits, missing) = parse_limits(PxApi::V2, ssb, V2_FALLBACK);
    assert_eq!(limits.max_cells, 800_000);
    assert_eq!(
        (limits.max_calls, limits.window),
        (30, Duration::from_secs(10))
    );
    assert_eq!(missing, ["maxCallsPerTimeWindow", "timeWindow"]);
    let (limits, _) = parse_limits(PxApi::V2, b"<html>", V2_FALLBACK);
    assert_eq!(limits, V2_FALLBACK);
}
