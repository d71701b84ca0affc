//! Local agreements (`agreements/<kommun>.toml`): the goals the kartläggning is followed
//! up against — a measure of `kartlaggning`, its baseline period and a target (e.g.
//! halved by a date). Validated like pipelines: unknown keys are errors and every problem
//! of every file is reported together.

use std::path::Path;

use serde::Deserialize;

use crate::error::{Error, Problems, Result};
use crate::normalize::{kommun, value};

/// One agreement file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAgreement {
    /// The kommun (4-digit code).
    kommun: String,
    /// Name of the agreement.
    namn: String,
    /// First month the agreement applies (`YYYY-MM`).
    giltig_fran: Option<String>,
    /// Last month the agreement applies (`YYYY-MM`).
    giltig_till: Option<String>,
    /// The goals.
    #[serde(default)]
    mal: Vec<RawGoal>,
}

/// `[[mal]]`: one goal.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGoal {
    /// Identifier, unique within the file.
    id: String,
    /// The goal as the agreement states it.
    beskrivning: String,
    /// Measure id of `kartlaggning` (docs/figures.md), e.g. `malgrupp_summa`.
    matt: String,
    /// `K`, `M` or `T` (default `T`).
    kon: Option<String>,
    /// Age band as in `kartlaggning` (default `16-24`).
    alder: Option<String>,
    /// The baseline month (`YYYY-MM`).
    baslinje: String,
    /// The month by whose end the target applies (`YYYY-MM`).
    malperiod: String,
    /// Target as a factor of the baseline (0.5 = halved).
    faktor: f64,
}

/// A validated goal (one row of the `mal` table).
#[derive(Debug, Clone, PartialEq)]
pub struct Goal {
    /// Kommun code.
    pub kommun: String,
    /// Agreement name.
    pub avtal: String,
    /// Goal id.
    pub id: String,
    /// Description.
    pub beskrivning: String,
    /// Measure id.
    pub matt: String,
    /// Kön.
    pub kon: String,
    /// Age band.
    pub alder: String,
    /// Baseline period.
    pub baslinje: String,
    /// Target period.
    pub malperiod: String,
    /// Target factor.
    pub faktor: f64,
}

/// Loads every `*.toml` in `dir` (a missing directory means no agreements).
pub fn load(dir: &Path) -> Result<(Vec<Goal>, Problems)> {
    let mut goals = Vec::new();
    let mut p = Problems::default();
    let mut paths: Vec<_> = match std::fs::read_dir(dir) {
        Ok(e) => e
            .flatten()
            .map(|e| e.path())
            .filter(|x| x.extension().is_some_and(|e| e == "toml"))
            .collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((goals, p)),
        Err(e) => return Err(Error::io(dir, e)),
    };
    paths.sort();
    for path in paths {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
        let raw: RawAgreement = match toml::from_str(&text) {
            Ok(r) => r,
            Err(e) => {
                p.push(&file, "", e.to_string().trim().replace('\n', " | "));
                continue;
            }
        };
        let code = kommun::normalize(&raw.kommun).map(str::to_string);
        if code.is_none() {
            p.push(
                &file,
                "kommun",
                format!("'{}' is not one of the 290 kommun codes", raw.kommun),
            );
        }
        for (key, v) in [
            ("giltig_fran", &raw.giltig_fran),
            ("giltig_till", &raw.giltig_till),
        ] {
            if let Some(v) = v {
                check_month(&mut p, &file, key, v);
            }
        }
        let mut ids = std::collections::BTreeSet::new();
        for (i, g) in raw.mal.into_iter().enumerate() {
            let at = |k: &str| format!("mal[{i}].{k}");
            if !ids.insert(g.id.clone()) {
                p.push(&file, at("id"), format!("'{}' is used twice", g.id));
            }
            check_month(&mut p, &file, &at("baslinje"), &g.baslinje);
            check_month(&mut p, &file, &at("malperiod"), &g.malperiod);
            if g.malperiod <= g.baslinje {
                p.push(&file, at("malperiod"), "must come after baslinje");
            }
            if !(g.faktor > 0.0 && g.faktor.is_finite()) {
                p.push(
                    &file,
                    at("faktor"),
                    "must be a positive number (0.5 = halved)",
                );
            }
            let kon = g.kon.unwrap_or_else(|| "T".into());
            if !["K", "M", "T"].contains(&kon.as_str()) {
                p.push(&file, at("kon"), "must be K, M or T");
            }
            if g.matt.trim().is_empty() {
                p.push(&file, at("matt"), "must name a measure of kartlaggning");
            }
            if let Some(k) = &code {
                goals.push(Goal {
                    kommun: k.clone(),
                    avtal: raw.namn.clone(),
                    id: g.id,
                    beskrivning: g.beskrivning,
                    matt: g.matt,
                    kon,
                    alder: g.alder.unwrap_or_else(|| "16-24".into()),
                    baslinje: g.baslinje,
                    malperiod: g.malperiod,
                    faktor: g.faktor,
                });
            }
        }
    }
    Ok((goals, p))
}

fn check_month(p: &mut Problems, file: &str, field: &str, v: &str) {
    match value::parse_period(v) {
        Ok(norm) if norm == v && v.len() == 7 => {}
        _ => p.push(
            file,
            field,
            format!("'{v}' must be a month written YYYY-MM"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_agreement_is_valid() {
        let (goals, problems) = load(Path::new("agreements")).expect("load");
        assert!(problems.is_empty(), "{problems}");
        let g = goals.iter().find(|g| g.kommun == "0880").expect("Kalmar");
        assert_eq!(
            (
                g.matt.as_str(),
                g.baslinje.as_str(),
                g.malperiod.as_str(),
                g.faktor
            ),
            ("malgrupp_summa", "2015-05", "2018-12", 0.5)
        );
    }

    #[test]
    fn problems_are_collected() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(
            dir.path().join("x.toml"),
            "kommun = '0999'\nnamn = 'x'\n[[mal]]\nid = 'a'\nbeskrivning = ''\nmatt = 'm'\nbaslinje = '2015-13'\nmalperiod = '2014-01'\nfaktor = 0\n",
        )
        .expect("write");
        std::fs::write(
            dir.path().join("y.toml"),
            "kommun = '0880'\nnamn = 'y'\nextra = 1\n",
        )
        .expect("write");
        let (_, p) = load(dir.path()).expect("load");
        let text = p.to_string();
        for needle in [
            "x.toml: kommun",
            "mal[0].baslinje",
            "mal[0].malperiod",
            "mal[0].faktor",
            "unknown field `extra`",
        ] {
            assert!(text.contains(needle), "missing {needle} in {text}");
        }
    }
}
