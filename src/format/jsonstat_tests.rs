//! Tests of the JSON-stat reader on cubes it reads. Expected rows are written out by hand
//! from the JSON-stat ordering rule (last dimension fastest), not produced by the code.
//! Documents it refuses are `jsonstat_refusal_tests.rs`'s.

use super::*;

/// Reads `json` with decimal ',' and returns the cells of every row, checking that rows
/// are numbered 1, 2, 3 … in order.
fn table(json: &str) -> Vec<Vec<String>> {
    table_with(json.as_bytes(), ',')
}

fn table_with(bytes: &[u8], decimal: char) -> Vec<Vec<String>> {
    let rows = read(bytes, decimal).expect("reads");
    for (i, r) in rows.iter().enumerate() {
        assert_eq!(r.row, i + 1, "row numbers run 1, 2, 3 …");
    }
    rows.into_iter().map(|r| r.cells).collect()
}

fn lines(rows: &[&[&str]]) -> Vec<Vec<String>> {
    rows.iter()
        .map(|r| r.iter().map(|s| s.to_string()).collect())
        .collect()
}

pub(super) const FIXTURE: &str = r#"{ "version":"2.0", "class":"dataset", "label":"Folkmängden efter region, ålder, kön, tabellinnehåll och år", "source":"SCB",
  "role":{"time":["Tid"],"metric":["ContentsCode"]},
  "id":["Region","Alder","Kon","ContentsCode","Tid"], "size":[2,2,2,1,1],
  "dimension":{
    "Region":{"label":"region","category":{"index":{"0880":0,"1481":1},"label":{"0880":"Kalmar","1481":"Mölndal"}}},
    "Alder":{"label":"ålder","category":{"index":{"16":0,"17":1},"label":{"16":"16 år","17":"17 år"}}},
    "Kon":{"label":"kön","category":{"index":{"1":0,"2":1},"label":{"1":"män","2":"kvinnor"}}},
    "ContentsCode":{"label":"tabellinnehåll","category":{"index":{"BE0101N1":0},"label":{"BE0101N1":"Folkmängd"}}},
    "Tid":{"label":"år","category":{"index":{"2024":0},"label":{"2024":"2024"}}}},
  "value":[410,395,402,388,301,290,null,287], "status":{"6":".."} }"#;

#[test]
fn scb_fixture() {
    let c = ["BE0101N1", "Folkmängd", "2024", "2024"];
    let row = |r: [&str; 6], v: &str, s: &str| {
        let mut out: Vec<String> = r.iter().chain(&c).map(|x| x.to_string()).collect();
        out.extend([v.to_string(), s.to_string()]);
        out
    };
    let expected = vec![
        [
            "Region",
            "Region_label",
            "Alder",
            "Alder_label",
            "Kon",
            "Kon_label",
            "ContentsCode",
            "ContentsCode_label",
            "Tid",
            "Tid_label",
            "value",
            "status",
        ]
        .map(String::from)
        .to_vec(),
        row(["0880", "Kalmar", "16", "16 år", "1", "män"], "410", ""),
        row(["0880", "Kalmar", "16", "16 år", "2", "kvinnor"], "395", ""),
        row(["0880", "Kalmar", "17", "17 år", "1", "män"], "402", ""),
        row(["0880", "Kalmar", "17", "17 år", "2", "kvinnor"], "388", ""),
        row(["1481", "Mölndal", "16", "16 år", "1", "män"], "301", ""),
        row(
            ["1481", "Mölndal", "16", "16 år", "2", "kvinnor"],
            "290",
            "",
        ),
        row(["1481", "Mölndal", "17", "17 år", "1", "män"], "..", ".."),
        row(
            ["1481", "Mölndal", "17", "17 år", "2", "kvinnor"],
            "287",
            "",
        ),
    ];
    assert_eq!(table(FIXTURE), expected);
}

#[test]
fn one_dimension() {
    let t = table(
        r#"{"version":"2.0","class":"dataset","id":["Tid"],"size":[3],
        "dimension":{"Tid":{"category":{"index":["2022","2023","2024"]}}},"value":[1,2,3]}"#,
    );
    assert_eq!(
        t,
        lines(&[
            &["Tid", "Tid_label", "value", "status"],
            &["2022", "2022", "1", ""],
            &["2023", "2023", "2", ""],
            &["2024", "2024", "3", ""],
        ])
    );
}

#[test]
fn two_dimensions() {
    let t = table(
        r#"{"id":["Kon","Tid"],"size":[2,3],
        "dimension":{"Kon":{"category":{"index":["1","2"],"label":{"1":"män","2":"kvinnor"}}},
                     "Tid":{"category":{"index":["2022","2023","2024"]}}},
        "value":[10,11,12,20,21,22]}"#,
    );
    assert_eq!(
        t,
        lines(&[
            &["Kon", "Kon_label", "Tid", "Tid_label", "value", "status"],
            &["1", "män", "2022", "2022", "10", ""],
            &["1", "män", "2023", "2023", "11", ""],
            &["1", "män", "2024", "2024", "12", ""],
            &["2", "kvinnor", "2022", "2022", "20", ""],
            &["2", "kvinnor", "2023", "2023", "21", ""],
            &["2", "kvinnor", "2024", "2024", "22", ""],
        ])
    );
}

#[test]
fn three_dimensions() {
    let t = table(
        r#"{"id":["A","B","C"],"size":[2,3,2],
        "dimension":{"A":{"category":{"index":["a1","a2"]}},
                     "B":{"category":{"index":["b1","b2","b3"]}},
                     "C":{"category":{"index":["c1","c2"]}}},
        "value":[0,1,2,3,4,5,6,7,8,9,10,11]}"#,
    );
    let body: Vec<Vec<String>> = t[1..]
        .iter()
        .map(|r| vec![r[0].clone(), r[2].clone(), r[4].clone(), r[6].clone()])
        .collect();
    assert_eq!(
        body,
        lines(&[
            &["a1", "b1", "c1", "0"],
            &["a1", "b1", "c2", "1"],
            &["a1", "b2", "c1", "2"],
            &["a1", "b2", "c2", "3"],
            &["a1", "b3", "c1", "4"],
            &["a1", "b3", "c2", "5"],
            &["a2", "b1", "c1", "6"],
            &["a2", "b1", "c2", "7"],
            &["a2", "b2", "c1", "8"],
            &["a2", "b2", "c2", "9"],
            &["a2", "b3", "c1", "10"],
            &["a2", "b3", "c2", "11"],
        ])
    );
}

#[test]
fn four_dimensions() {
    let t = table(
        r#"{"id":["W","X","Y","Z"],"size":[2,3,1,2],
        "dimension":{"W":{"category":{"index":{"w1":0,"w2":1}}},
                     "X":{"category":{"index":{"x1":0,"x2":1,"x3":2}}},
                     "Y":{"category":{"index":{"y1":0}}},
                     "Z":{"category":{"index":{"z1":0,"z2":1}}}},
        "value":[100,101,102,103,104,105,106,107,108,109,110,111]}"#,
    );
    assert_eq!(t[0][8], "value");
    let body: Vec<Vec<String>> = t[1..]
        .iter()
        .map(|r| [0, 2, 4, 6, 8].iter().map(|&i| r[i].clone()).collect())
        .collect();
    assert_eq!(
        body,
        lines(&[
            &["w1", "x1", "y1", "z1", "100"],
            &["w1", "x1", "y1", "z2", "101"],
            &["w1", "x2", "y1", "z1", "102"],
            &["w1", "x2", "y1", "z2", "103"],
            &["w1", "x3", "y1", "z1", "104"],
            &["w1", "x3", "y1", "z2", "105"],
            &["w2", "x1", "y1", "z1", "106"],
            &["w2", "x1", "y1", "z2", "107"],
            &["w2", "x2", "y1", "z1", "108"],
            &["w2", "x2", "y1", "z2", "109"],
            &["w2", "x3", "y1", "z1", "110"],
            &["w2", "x3", "y1", "z2", "111"],
        ])
    );
}

#[test]
fn five_dimensions_befolkning_ny_shape() {
    // Index objects deliberately list codes out of position order.
    let t = table(
        r#"{"version":"2.0","class":"dataset","id":["Region","Alder","Kon","ContentsCode","Tid"],
        "size":[2,1,2,1,2],
        "dimension":{
          "Region":{"category":{"index":{"1480":1,"0180":0},"label":{"0180":"Stockholm","1480":"Göteborg"}}},
          "Alder":{"category":{"index":{"tot":0},"label":{"tot":"totalt ålder"}}},
          "Kon":{"category":{"index":{"2":1,"1":0},"label":{"1":"män","2":"kvinnor"}}},
          "ContentsCode":{"category":{"index":{"BE0101N1":0},"label":{"BE0101N1":"Folkmängd"}}},
          "Tid":{"category":{"index":{"2024":1,"2023":0}}}},
        "value":[1,2,3,4,5,6,7,8]}"#,
    );
    let s = ["0180", "Stockholm"];
    let g = ["1480", "Göteborg"];
    let a = ["tot", "totalt ålder"];
    let m = ["1", "män"];
    let k = ["2", "kvinnor"];
    let f = ["BE0101N1", "Folkmängd"];
    let y3 = ["2023", "2023"];
    let y4 = ["2024", "2024"];
    let row = |parts: [[&str; 2]; 5], v: &str| -> Vec<String> {
        let mut out: Vec<String> = parts.iter().flatten().map(|x| x.to_string()).collect();
        out.extend([v.to_string(), String::new()]);
        out
    };
    assert_eq!(
        t[1..].to_vec(),
        vec![
            row([s, a, m, f, y3], "1"),
            row([s, a, m, f, y4], "2"),
            row([s, a, k, f, y3], "3"),
            row([s, a, k, f, y4], "4"),
            row([g, a, m, f, y3], "5"),
            row([g, a, m, f, y4], "6"),
            row([g, a, k, f, y3], "7"),
            row([g, a, k, f, y4], "8"),
        ]
    );
}

#[test]
fn index_array_and_object_forms_agree() {
    let with = |index: &str| {
        table(&format!(
            r#"{{"id":["K","T"],"size":[2,2],
            "dimension":{{"K":{{"category":{{"index":{index},"label":{{"M":"män","F":"kvinnor"}}}}}},
                          "T":{{"category":{{"index":["2023","2024"]}}}}}},
            "value":[1,2,3,4]}}"#
        ))
    };
    let array = with(r#"["M","F"]"#);
    assert_eq!(array, with(r#"{"M":0,"F":1}"#));
    assert_eq!(array, with(r#"{"F":1,"M":0}"#));
    assert_eq!(array[1][..2], ["M", "män"]);
    assert_eq!(array[3][..2], ["F", "kvinnor"]);
}

#[test]
fn object_positions_not_in_code_order() {
    let t = table(
        r#"{"id":["Kon"],"size":[2],
        "dimension":{"Kon":{"category":{"index":{"2":0,"1":1},"label":{"1":"män","2":"kvinnor"}}}},
        "value":[5,6]}"#,
    );
    assert_eq!(
        t[1..].to_vec(),
        lines(&[&["2", "kvinnor", "5", ""], &["1", "män", "6", ""]])
    );
}

#[test]
fn one_category_dimension_without_index() {
    let t = table(
        r#"{"id":["ContentsCode","Tid"],"size":[1,2],
        "dimension":{"ContentsCode":{"label":"tabellinnehåll","category":{"label":{"BE0101N1":"Folkmängd"}}},
                     "Tid":{"category":{"index":["2023","2024"]}}},
        "value":[7,8]}"#,
    );
    assert_eq!(
        t[1..].to_vec(),
        lines(&[
            &["BE0101N1", "Folkmängd", "2023", "2023", "7", ""],
            &["BE0101N1", "Folkmängd", "2024", "2024", "8", ""],
        ])
    );
}

/// A one-dimension cube of `n` cells with the given `value` and `status` JSON.
fn cube(n: usize, value: &str, status: &str) -> String {
    let codes: Vec<String> = (0..n).map(|i| format!("\"c{i}\"")).collect();
    format!(
        r#"{{"id":["D"],"size":[{n}],"dimension":{{"D":{{"category":{{"index":[{}]}}}}}},
        "value":{value}{status}}}"#,
        codes.join(",")
    )
}

/// (value, status) cells of every data row.
fn value_status(json: &str) -> Vec<(String, String)> {
    table(json)[1..]
        .iter()
        .map(|r| (r[2].clone(), r[3].clone()))
        .collect()
}

fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
    p.iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

#[test]
fn sparse_value_object_leaves_missing_cells_empty() {
    let got = value_status(&cube(4, r#"{"0":1,"2":3.5}"#, r#","status":{"1":"."}"#));
    assert_eq!(got, pairs(&[("1", ""), (".", "."), ("3,5", ""), ("", "")]));
}

#[test]
fn status_as_single_string() {
    let got = value_status(&cube(3, "[1,null,3]", r#","status":"p""#));
    assert_eq!(got, pairs(&[("1", "p"), ("p", "p"), ("3", "p")]));
}

#[test]
fn status_as_array() {
    let got = value_status(&cube(3, "[1,null,null]", r#","status":["e",null,".."]"#));
    assert_eq!(got, pairs(&[("1", "e"), ("", ""), ("..", "..")]));
    let one = value_status(&cube(2, "[null,2]", r#","status":[".."]"#));
    assert_eq!(one, pairs(&[("..", ".."), ("2", "..")]));
}

#[test]
fn null_without_status_is_empty_not_zero() {
    let got = value_status(&cube(2, "[null,0]", ""));
    assert_eq!(got, pairs(&[("", ""), ("0", "")]));
}

#[test]
fn decimal_separator() {
    let json = cube(6, "[12.5,787,-0.25,1000000.0,0.0000001,12345678901]", "");
    let vals = |d| -> Vec<String> {
        table_with(json.as_bytes(), d)[1..]
            .iter()
            .map(|r| r[2].clone())
            .collect()
    };
    assert_eq!(
        vals(','),
        [
            "12,5",
            "787",
            "-0,25",
            "1000000",
            "0,0000001",
            "12345678901"
        ]
    );
    assert_eq!(
        vals('.'),
        [
            "12.5",
            "787",
            "-0.25",
            "1000000",
            "0.0000001",
            "12345678901"
        ]
    );
}

#[test]
fn byte_order_mark_is_accepted() {
    let with_bom = [b"\xEF\xBB\xBF".as_slice(), FIXTURE.as_bytes()].concat();
    assert_eq!(table_with(&with_bom, ','), table(FIXTURE));
}

#[test]
fn empty_cube_gives_only_the_header() {
    let t = table(&cube(0, "[]", ""));
    assert_eq!(t, lines(&[&["D", "D_label", "value", "status"]]));
    let t = table(
        r#"{"id":["A","B"],"size":[2,0],
        "dimension":{"A":{"category":{"index":["a","b"]}},"B":{"category":{"index":[]}}},"value":{}}"#,
    );
    assert_eq!(t.len(), 1);
}

#[test]
fn extras_are_ignored() {
    let t = table(
        r#"{"version":"2.0","class":"dataset","href":"x","label":"L","source":"SCB",
        "updated":"2025-02-20T07:00:00Z","note":["n"],"extension":{"px":{"tableid":"X"}},
        "link":{"alternate":[]},"error":[],"role":{"time":["D"]},
        "id":["D"],"size":[1],"dimension":{"D":{"label":"d","note":["x"],"extension":{},
        "category":{"index":{"k":0},"unit":{"k":{"decimals":0}}}}},"value":[3]}"#,
    );
    assert_eq!(t[1], ["k", "k", "3", ""]);
}
