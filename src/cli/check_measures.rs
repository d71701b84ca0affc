//! `check`'s warnings about measure codes: an aggregate pipeline that writes a measure
//! nobody documented (the report would show its raw code), or one that no view reads
//! while a view reads a measure of the same source that no pipeline writes — the trap
//! of a value map copied from an example that names the measure differently, which
//! leaves målgrupp without its AF part and says nothing.

use std::collections::{BTreeMap, BTreeSet};

use crate::config::pipeline::Pipeline;
use crate::report::labels::is_known_measure;

/// The warnings for `pipelines` against the views of `sql_dir`, one line each.
pub fn warnings(pipelines: &[Pipeline], sql_dir: &std::path::Path) -> Vec<String> {
    let views = view_texts(sql_dir);
    // Which views name a code as a literal ('af_inskrivna').
    let readers = |code: &str| -> Vec<&str> {
        let quoted = format!("'{code}'");
        views
            .iter()
            .filter(|(_, text)| text.contains(&quoted))
            .map(|(name, _)| name.as_str())
            .collect()
    };
    let written: BTreeMap<&str, BTreeSet<String>> = pipelines
        .iter()
        .filter_map(|p| Some((p.name.as_str(), p.written_measures()?)))
        .collect();
    let all_written: BTreeSet<&str> = written.values().flatten().map(String::as_str).collect();
    let mut out = Vec::new();
    for (pipeline, codes) in &written {
        for code in codes {
            if !is_known_measure(code) {
                out.push(format!(
                    "pipeline {pipeline} writes measure '{code}', which is not documented (docs/figures.md): it is published under its code, without a label"
                ));
            }
            if !readers(code).is_empty() {
                continue;
            }
            // A measure of the same source that a view reads and nothing writes.
            let source = prefix(code);
            for needed in crate::report::labels::known_measures() {
                if prefix(needed) != source || all_written.contains(needed) {
                    continue;
                }
                let by = readers(needed);
                if !by.is_empty() {
                    out.push(format!(
                        "pipeline {pipeline} writes measure '{code}', which no view reads, and no pipeline writes '{needed}', which {} read(s): is the value map right?",
                        by.join(", ")
                    ));
                }
            }
        }
    }
    out
}

/// The source part of a measure code (`af` of `af_inskrivna`).
fn prefix(code: &str) -> &str {
    code.split('_').next().unwrap_or(code)
}

/// (view name, SQL) of every `*.sql` in `dir` (unreadable ones are `check`'s problem
/// elsewhere).
fn view_texts(dir: &std::path::Path) -> Vec<(String, String)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut views: Vec<(String, String)> = entries
        .flatten()
        .filter_map(|e| {
            let path = e.path();
            let name = path.file_stem()?.to_str()?.to_string();
            (path.extension()? == "sql")
                .then(|| std::fs::read_to_string(&path).ok().map(|t| (name, t)))?
        })
        .collect();
    views.sort();
    views
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use crate::report::labels::{is_known_measure, known_measures};

    /// The measure codes of docs/figures.md: the first cell of every table headed `matt`.
    fn documented() -> BTreeSet<String> {
        let doc = include_str!("../../docs/figures.md");
        let mut codes = BTreeSet::new();
        let mut in_table = false;
        for line in doc.lines() {
            if line.starts_with("| matt |") {
                in_table = true;
                continue;
            }
            in_table &= line.starts_with('|');
            if let Some(first) = line.split('|').nth(1).filter(|_| in_table) {
                codes.extend(
                    first
                        .split('`')
                        .skip(1)
                        .step_by(2)
                        .filter(|c| c.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '_'))
                        .map(str::to_string),
                );
            }
        }
        codes
    }

    #[test]
    fn every_documented_measure_has_a_label_and_every_label_is_documented() {
        let documented = documented();
        let unlabelled: Vec<&String> = documented.iter().filter(|c| !is_known_measure(c)).collect();
        assert!(
            unlabelled.is_empty(),
            "documented without a label: {unlabelled:?}"
        );
        let undocumented: Vec<&str> = known_measures()
            .filter(|c| !documented.contains(*c))
            .collect();
        assert!(
            undocumented.is_empty(),
            "labelled but not in docs/figures.md: {undocumented:?}"
        );
    }

    #[test]
    fn the_shipped_pipelines_write_only_documented_measures_and_warn_of_nothing() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let (pipelines, problems) =
            crate::config::load_pipelines(&dir.join("pipelines")).expect("shipped pipelines");
        assert!(problems.is_empty(), "{problems}");
        assert_eq!(
            super::warnings(&pipelines, &dir.join("sql")),
            Vec::<String>::new()
        );
        // The trap: an example's value map naming AF's total line differently.
        let af = pipelines
            .iter()
            .position(|p| p.name == "kalmar_af")
            .expect("kalmar_af");
        let text = std::fs::read_to_string(&pipelines[af].file)
            .expect("read")
            .replace("= \"af_inskrivna\"", "= \"af_inskrivna_arbetslosa\"")
            .replace("= \"af_med_insats\"", "= \"af_medinsats\"");
        let copied = crate::config::pipeline::Pipeline::from_toml(&pipelines[af].file, &text)
            .expect("still valid");
        let mut with_trap = pipelines.clone();
        with_trap[af] = copied;
        let warnings = super::warnings(&with_trap, &dir.join("sql")).join("\n");
        assert!(
            warnings.contains("no pipeline writes 'af_inskrivna', which kartlaggning_malgrupp")
                && warnings.contains("'af_medinsats', which is not documented"),
            "{warnings}"
        );
    }
}
