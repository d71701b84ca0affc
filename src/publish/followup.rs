//! The programme follow-up, published: the counts of the `uppfoljning_celler` view (every
//! count of the `uppfoljning_*` views in the long kartläggning's layout) suppressed per
//! kommun and period with the same identities and method as the kartläggning, and each
//! share computed afterwards from the published counts alone — a share is shown only
//! when its count and its denominator both are, so it can reopen neither.

use std::collections::HashMap;

use datafusion::prelude::SessionContext;

use super::cells::{self, Cell};
use super::output::ViewOutput;
use crate::error::Result;

/// The lake view read.
pub const VIEW: &str = "uppfoljning_celler";
/// The published table's name.
pub const NAME: &str = "uppfoljning";

/// The measure a share of `matt` is taken of (same kommun, period, kön, age and
/// breakdown): exits by code of the exits that did not move on to another insats (a
/// transition is no outcome, so it has no share), a six-month status of those reached,
/// a fact-box figure of the participants, a provider's outcomes of its exits.
fn denominator(matt: &str) -> Option<String> {
    if let Some(code) = matt.strip_prefix("avslut_") {
        return (!matches!(code, "utan_overgang" | "annan_insats"))
            .then(|| "avslut_utan_overgang".to_string());
    }
    if let Some(rest) = matt.strip_prefix("sex_man_")
        && let Some((half, _status)) = rest.split_once('_')
        && matches!(half, "H1" | "H2")
    {
        return Some(format!("sex_man_nadda_{half}"));
    }
    if matt.starts_with("faktaruta_") && matt != "faktaruta_deltagare" {
        return Some("faktaruta_deltagare".to_string());
    }
    matt.starts_with("anordnare_till_")
        .then(|| "anordnare_avslutade".to_string())
}

/// Sets the share of every visible count whose denominator is visible and non-zero.
fn add_shares(cells: &mut [Cell], hidden: &[bool]) {
    let index: HashMap<[&str; 7], usize> = cells
        .iter()
        .enumerate()
        .map(|(i, c)| (std::array::from_fn(|k| c.keys[k].as_str()), i))
        .collect();
    let shares: Vec<(usize, f64)> = cells
        .iter()
        .enumerate()
        .filter(|(i, _)| !hidden[*i])
        .filter_map(|(i, c)| {
            let den = denominator(&c.keys[2])?;
            let mut key: [&str; 7] = std::array::from_fn(|k| c.keys[k].as_str());
            key[2] = &den;
            let j = *index.get(&key)?;
            match (c.antal, cells[j].antal, hidden[j]) {
                (Some(a), Some(b), false) if b > 0 => Some((i, a as f64 / b as f64)),
                _ => None,
            }
        })
        .collect();
    for (i, share) in shares {
        cells[i].andel_kalla = Some(share);
    }
}

/// Writes the suppressed follow-up of every kommun to `view`, some kommuner at a time;
/// returns the hidden counts (cells, their sum).
pub async fn write(
    ctx: &SessionContext,
    view: &mut ViewOutput,
    threshold: i64,
    kommuner_per_chunk: usize,
) -> Result<(usize, i64)> {
    let batches = ctx
        .sql(&format!(
            "select distinct kommun from {VIEW} order by kommun"
        ))
        .await?
        .collect()
        .await?;
    let mut kommuner = Vec::new();
    for b in &batches {
        kommuner.extend(
            crate::query::columns::texts(b.column(0))?
                .into_iter()
                .flatten(),
        );
    }
    let mut hidden = (0, 0);
    for chunk in kommuner.chunks(kommuner_per_chunk.max(1)) {
        // Quoted as SQL literals: these codes come from the data, not from the lake's
        // checked partition names.
        let list: Vec<String> = chunk
            .iter()
            .map(|k| format!("'{}'", k.replace('\'', "''")))
            .collect();
        let filter = format!("kommun in ({})", list.join(", "));
        let batches = ctx
            .sql(&cells::sql_of(VIEW, Some(&filter)))
            .await?
            .collect()
            .await?;
        let mut cells = cells::read_cells(&batches)?;
        let flags =
            crate::runtime::cpu_bound(|| super::suppress_each_kommun_month(&cells, threshold))?;
        let (n, sum) = cells::hidden_loss(&cells, &flags);
        hidden = (hidden.0 + n, hidden.1 + sum);
        add_shares(&mut cells, &flags);
        view.write(&cells::long_batch(&cells, &flags)?)?;
    }
    if kommuner.is_empty() {
        // No follow-up data: the table is still published, with its columns and no rows.
        view.write(&cells::long_batch(&[], &[])?)?;
    }
    Ok(hidden)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cell(matt: &str, antal: i64) -> Cell {
        Cell {
            keys: [
                "0581",
                "2012",
                matt,
                "T",
                "alla",
                "total",
                "total",
                "ok",
                "deltagande",
            ]
            .map(String::from),
            antal: Some(antal),
            befolkning: None,
            andel_kalla: None,
        }
    }

    #[test]
    fn a_share_is_shown_only_with_its_count_and_its_denominator() {
        let mut cells = vec![
            cell("avslut_utan_overgang", 40),
            cell("avslut_arbete", 10),
            cell("avslut_klar", 3),
            cell("avslut_annan_insats", 12),
        ];
        add_shares(&mut cells, &[false, false, true, false]);
        let shares: Vec<Option<f64>> = cells.iter().map(|c| c.andel_kalla).collect();
        assert_eq!(shares, vec![None, Some(0.25), None, None]);
        // A hidden denominator hides every share of it.
        let mut cells = vec![cell("avslut_utan_overgang", 40), cell("avslut_arbete", 10)];
        add_shares(&mut cells, &[true, false]);
        assert_eq!(cells[1].andel_kalla, None);
    }

    #[test]
    fn denominators() {
        assert_eq!(
            denominator("sex_man_H1_arbete").as_deref(),
            Some("sex_man_nadda_H1")
        );
        assert_eq!(denominator("sex_man_nadda_H1"), None);
        assert_eq!(
            denominator("faktaruta_i_arbete").as_deref(),
            Some("faktaruta_deltagare")
        );
        assert_eq!(
            denominator("anordnare_till_studier").as_deref(),
            Some("anordnare_avslutade")
        );
        assert_eq!(denominator("deltagare"), None);
    }
}
