//! Tests of the JSON-stat reader on documents it must refuse: every message names what
//! is wrong, an absurd cube is refused before anything is materialised, damaged input
//! never panics.

use super::read;
use super::tests::FIXTURE;

fn err(json: &str) -> String {
    read(json.as_bytes(), ',')
        .expect_err("must be rejected")
        .to_string()
}

#[test]
fn errors_name_what_is_wrong() {
    let bad_len = FIXTURE.replace(
        "[410,395,402,388,301,290,null,287]",
        "[410,395,402,388,301,290,null]",
    );
    assert_eq!(
        err(&bad_len),
        "value has 7 entries, expected 8 (product of size)"
    );
    let kon3 = FIXTURE.replace(r#"{"1":0,"2":1}"#, r#"{"1":0,"2":1,"3":2}"#);
    assert_eq!(
        err(&kon3),
        "dimension 'Kon': category.index has 3 entries but size says 2"
    );
    let no_tid = FIXTURE.replace(r#""Tid":{"label":"år""#, r#""Tidx":{"label":"år""#);
    assert!(
        err(&no_tid).contains("dimension 'Tid' is listed in 'id' but has no entry in 'dimension'")
    );
    assert!(err("{not json").starts_with("not JSON: "));
    assert!(read(b"", ',').is_err());
    let collection = FIXTURE.replace(r#""class":"dataset""#, r#""class":"collection""#);
    assert!(err(&collection).contains("class is 'collection'"));
    let dup = FIXTURE.replace(r#"{"1":0,"2":1}"#, r#"{"1":0,"2":0}"#);
    assert_eq!(
        err(&dup),
        "dimension 'Kon': category.index gives position 0 to both '1' and '2'"
    );
    assert_eq!(err(r#"{"size":[1]}"#), "not JSON-stat: missing 'id'");
}

#[test]
fn more_errors() {
    let cases: &[(&str, &str)] = &[
        ("[1,2]", "the top level is an array"),
        (r#"{"class":"dimension"}"#, "class is 'dimension'"),
        (r#"{"version":"1.0","id":[]}"#, "version is '1.0'"),
        (
            r#"{"ds":{"dimension":{"id":["A"],"size":[1]},"value":[1]}}"#,
            "looks like JSON-stat 1.x",
        ),
        (
            r#"{"id":["A"],"size":[1,2]}"#,
            "'size' has 2 entries but 'id' has 1",
        ),
        (
            r#"{"id":["A","A"],"size":[1,1]}"#,
            "lists dimension 'A' twice",
        ),
        (r#"{"id":["A"],"size":[-1]}"#, "size[0] is -1"),
        (r#"{"id":["A"],"size":[1]}"#, "missing 'dimension'"),
        (
            r#"{"id":["A"],"size":[2],"dimension":{"A":{"category":{"index":["x","x"]}}},"value":[1,2]}"#,
            "category.index lists 'x' twice",
        ),
        (
            r#"{"id":["A"],"size":[2],"dimension":{"A":{"category":{"index":{"x":0,"y":2}}}},"value":[1,2]}"#,
            "gives 'y' position 2, expected an integer in 0..2",
        ),
        (
            r#"{"id":["A"],"size":[2],"dimension":{"A":{"category":{"label":{"x":"X","y":"Y"}}}},"value":[1,2]}"#,
            "has no category.index and 2 category labels",
        ),
        (
            r#"{"id":["A"],"size":[1],"dimension":{"A":{"category":{}}},"value":[1]}"#,
            "neither 'index' nor 'label'",
        ),
        (
            r#"{"id":["A"],"size":[2],"dimension":{"A":{"category":{"label":{"x":"X"}}}},"value":[1,2]}"#,
            "but size says 2",
        ),
        (
            r#"{"id":["A"],"size":[1],"dimension":{"A":{"category":{"index":["x"]}}}}"#,
            "missing 'value'",
        ),
        (
            r#"{"id":["A"],"size":[1],"dimension":{"A":{"category":{"index":["x"]}}},"value":[true]}"#,
            "value[0] is a boolean",
        ),
        (
            r#"{"id":["A"],"size":[2],"dimension":{"A":{"category":{"index":["x","y"]}}},"value":{"2":1}}"#,
            "value has key '2', but the cube has only 2 cells",
        ),
        (
            r#"{"id":["A"],"size":[2],"dimension":{"A":{"category":{"index":["x","y"]}}},"value":{"01":1}}"#,
            "value has key '01', expected a flat index",
        ),
        (
            r#"{"id":["A"],"size":[2],"dimension":{"A":{"category":{"index":["x","y"]}}},"value":[1,2],"status":["a","b","c"]}"#,
            "status has 3 entries, expected 2",
        ),
        (
            r#"{"id":["A"],"size":[2],"dimension":{"A":{"category":{"index":["x","y"]}}},"value":[1,2],"status":{"x":"a"}}"#,
            "status has key 'x'",
        ),
    ];
    for (json, want) in cases {
        let got = err(json);
        assert!(got.contains(want), "{json}: got {got:?}, want {want:?}");
    }
}

#[test]
fn absurd_cube_is_refused_not_materialised() {
    // 4 dimensions of 100 categories: 10^8 cells described by a tiny sparse value.
    let codes: Vec<String> = (0..100).map(|i| format!("\"{i}\"")).collect();
    let dim = format!(r#"{{"category":{{"index":[{}]}}}}"#, codes.join(","));
    let json = format!(
        r#"{{"id":["A","B","C","D"],"size":[100,100,100,100],
        "dimension":{{"A":{dim},"B":{dim},"C":{dim},"D":{dim}}},"value":{{}}}}"#
    );
    assert!(err(&json).contains("too large"));
}

#[test]
fn never_panics_on_damaged_input() {
    let bytes = FIXTURE.as_bytes();
    for cut in 0..bytes.len() {
        let _ = read(&bytes[..cut], ',');
    }
    // Swap each digit for another: sizes, positions and sparse keys go out of range.
    for (i, b) in bytes.iter().enumerate() {
        if b.is_ascii_digit() {
            for d in [b'0', b'3', b'9'] {
                let mut v = bytes.to_vec();
                v[i] = d;
                let _ = read(&v, ',');
            }
        }
    }
}
