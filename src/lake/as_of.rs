//! `--as-of` / `as_of`: which moment of the lake's history is read (`sql --delta`,
//! `export`, the API's `as_of`): a version number, an RFC 3339 time, a date meaning the
//! end of that day in Swedish time, or (`sql --delta`) a run id.

use crate::lake::delta::AsOf;

/// What `sql --as-of` asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Moment {
    /// A version, a time or the newest.
    At(AsOf),
    /// As the lake's tables were once this run was committed (src/lake/mirror/runs.rs).
    Run(String),
}

/// `sql --as-of`: a run id, or what [`parse`] reads.
pub fn moment(text: &str) -> std::result::Result<Moment, String> {
    if crate::lake::manifest::is_run_id(text) {
        return Ok(Moment::Run(text.to_string()));
    }
    parse(text).map(Moment::At)
}

/// `--as-of`: a version number, an RFC 3339 time, or a date meaning the end of that day
/// in Swedish time (what was committed by midnight in Stockholm).
pub fn parse(text: &str) -> std::result::Result<AsOf, String> {
    if let Ok(version) = text.parse::<u64>() {
        return Ok(AsOf::Version(version));
    }
    if let Ok(time) = chrono::DateTime::parse_from_rfc3339(text) {
        return Ok(AsOf::Time(time.with_timezone(&chrono::Utc)));
    }
    let day = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| {
        format!("`{text}`: expected a version (e.g. 12), a time (2026-06-10T18:00:00+02:00), a date (2026-06-10) or a run id (20260610T020000.000Z-kalmar_kaa)")
    })?;
    let midnight = day
        .succ_opt()
        .and_then(|next| next.and_hms_opt(0, 0, 0))
        .and_then(|t| {
            t.and_local_timezone(chrono_tz::Europe::Stockholm)
                .earliest()
        })
        .ok_or_else(|| format!("`{text}`: no such day in Swedish time"))?;
    Ok(AsOf::Time(
        midnight.with_timezone(&chrono::Utc) - chrono::Duration::milliseconds(1),
    ))
}

/// `--as-of` where only a moment makes sense (`export`: published sets have no version
/// numbers of their own).
pub fn time(text: &str) -> std::result::Result<chrono::DateTime<chrono::Utc>, String> {
    match parse(text) {
        Ok(AsOf::Time(t)) => Ok(t),
        _ => Err(format!(
            "`{text}`: expected a time (2026-06-10T18:00:00+02:00) or a date (2026-06-10)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_times_swedish_days_and_run_ids_are_read() {
        assert_eq!(parse("12"), Ok(AsOf::Version(12)));
        let t = |s: &str| {
            chrono::DateTime::parse_from_rfc3339(s)
                .expect("time")
                .with_timezone(&chrono::Utc)
        };
        assert_eq!(moment("12"), Ok(Moment::At(AsOf::Version(12))));
        let run = crate::lake::manifest::run_id(t("2026-06-10T02:00:00Z"), "kalmar_kaa");
        assert_eq!(moment(&run), Ok(Moment::Run(run.clone())));
        assert_eq!(run, "20260610T020000.000Z-kalmar_kaa");
        for not_a_run in ["20260610T020000.000Z-", "20261310T020000.000Z-kaa", "kaa"] {
            assert!(
                moment(not_a_run)
                    .expect_err("refused")
                    .contains("or a run id"),
                "{not_a_run}"
            );
        }
        assert!(time(&run).is_err());
        assert_eq!(
            parse("2026-06-10T18:00:00+02:00"),
            Ok(AsOf::Time(t("2026-06-10T16:00:00Z")))
        );
        // The end of 10 June in Stockholm (summer time, UTC+2) is 21:59:59.999 UTC.
        assert_eq!(
            parse("2026-06-10"),
            Ok(AsOf::Time(t("2026-06-10T21:59:59.999Z")))
        );
        assert!(
            parse("10 juni")
                .expect_err("refused")
                .contains("expected a version")
        );
        assert!(
            time("12")
                .expect_err("a version")
                .contains("expected a time")
        );
        assert_eq!(
            time("2026-06-10T18:00:00+02:00"),
            Ok(t("2026-06-10T16:00:00Z"))
        );
    }
}
