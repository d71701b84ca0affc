//! The "Bilaga 1" report of one kommun and period: the input model the
//! integrator fills from the published views, the output formats, and the
//! single entry point [`render`].
//!
//! Rendering is pure: [`sections::build`] turns the flat rows into sections and
//! tables once, and every format writes those same tables, so HTML, Markdown
//! and xlsx always show the same figures.

pub mod chart;
pub mod html;
pub mod labels;
pub mod layout;
pub mod load;
pub mod markdown;
pub mod sections;
pub mod tables;
pub mod xlsx;

#[cfg(test)]
pub(crate) mod testdata;

use std::fmt;
use std::str::FromStr;

/// Everything the report shows, for one kommun and one report period.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReportInput {
    /// Kommun code, e.g. "0880".
    pub kommun: String,
    /// Kommun name, e.g. "Kalmar".
    pub kommun_namn: String,
    /// Report period, "YYYY-MM" or "YYYY".
    pub period: String,
    /// Threshold used for suppression (cells below it are suppressed); 0 = none.
    pub suppress_below: u32,
    /// Published kartläggning rows of this kommun, all periods.
    pub cells: Vec<Cell>,
    /// Goal follow-up rows of this kommun, all periods.
    pub goals: Vec<GoalRow>,
    /// What the figures come from (printed in the footer).
    pub sources: Vec<SourceRow>,
    /// RFC 3339 timestamp printed in the footer.
    pub generated_at: String,
}

/// One published kartläggning figure.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Cell {
    /// Period of the figure, "YYYY-MM" or "YYYY".
    pub period: String,
    /// Measure code, e.g. "malgrupp_summa".
    pub matt: String,
    /// Kön: "K", "M" or "T".
    pub kon: String,
    /// Age band ("16-24"), single age ("18") or "ak9".
    pub alder: String,
    /// "total" or the name of a breakdown, e.g. "utbildning".
    pub dimension: String,
    /// "total" or a category code of the breakdown.
    pub kategori: String,
    /// Number of persons; `None` when suppressed or missing.
    pub antal: Option<i64>,
    /// Suppressed by the publisher: shown as "..", never as a number.
    pub skyddad: bool,
    /// "ok" or an agency status such as "suppressed".
    pub status: String,
    /// Source code, e.g. "af".
    pub kalla: String,
    /// Population of the same kön and age.
    pub befolkning: Option<i64>,
    /// Share of the population, 0..1.
    pub andel: Option<f64>,
}

impl Cell {
    /// Whether the figure is withheld, by the publisher (`skyddad`) or by the
    /// agency that delivered it (`status == "suppressed"`).
    pub fn is_suppressed(&self) -> bool {
        self.skyddad || self.status == "suppressed"
    }
}

/// One goal follow-up row.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GoalRow {
    /// Goal id from the agreement.
    pub mal_id: String,
    /// Goal text.
    pub beskrivning: String,
    /// Period the follow-up refers to.
    pub period: String,
    /// Measure followed.
    pub matt: String,
    /// Kön of the measure.
    pub kon: String,
    /// Age of the measure.
    pub alder: String,
    /// Value of the measure in `period`.
    pub varde: Option<i64>,
    /// Baseline period.
    pub baslinje: String,
    /// Value in the baseline period.
    pub baslinje_varde: Option<i64>,
    /// Period by which the target should be reached.
    pub malperiod: String,
    /// Target value.
    pub malvarde: Option<f64>,
    /// Remaining distance to the target.
    pub kvar_till_mal: Option<f64>,
}

/// One source of the figures (footer).
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct SourceRow {
    /// Pipeline name.
    pub pipeline: String,
    /// Extracted file.
    pub file: String,
    /// Table the file was loaded into.
    pub table_name: String,
    /// Run start time.
    pub extracted_at: String,
}

/// Output format of the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportFormat {
    /// Self-contained HTML document.
    Html,
    /// Excel workbook, one sheet per section.
    Xlsx,
    /// Markdown (GitHub tables).
    Md,
}

impl FromStr for ReportFormat {
    type Err = ReportError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "html" => Ok(Self::Html),
            "xlsx" => Ok(Self::Xlsx),
            "md" => Ok(Self::Md),
            _ => Err(ReportError::UnknownFormat(s.to_string())),
        }
    }
}

impl fmt::Display for ReportFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Html => "html",
            Self::Xlsx => "xlsx",
            Self::Md => "md",
        })
    }
}

/// Errors of report rendering.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The format name is not one of "html", "xlsx", "md".
    #[error("unknown report format {0:?}: expected html, xlsx or md")]
    UnknownFormat(String),
    /// The input has no figures for the requested period.
    #[error(
        "no published figures for kommun {kommun} and period {period} (run the pipelines first, or check the codes)"
    )]
    NoData {
        /// Kommun code.
        kommun: String,
        /// Requested period.
        period: String,
    },
    /// Writing the workbook failed.
    #[error("writing the xlsx report failed: {0}")]
    Xlsx(#[from] rust_xlsxwriter::XlsxError),
    /// Formatting text failed.
    #[error("formatting the report failed: {0}")]
    Fmt(#[from] fmt::Error),
}

/// Renders the report of `input` in `format`: UTF-8 text for HTML and
/// Markdown, the workbook's bytes for xlsx.
///
/// Fails with [`ReportError::NoData`] when neither a figure nor a goal of the
/// period exists.
pub fn render(input: &ReportInput, format: ReportFormat) -> Result<Vec<u8>, ReportError> {
    let report = sections::build(input);
    if report.sections.is_empty() {
        return Err(ReportError::NoData {
            kommun: input.kommun.clone(),
            period: input.period.clone(),
        });
    }
    match format {
        ReportFormat::Html => Ok(html::render_html(&report)?.into_bytes()),
        ReportFormat::Md => Ok(markdown::render_markdown(&report)?.into_bytes()),
        ReportFormat::Xlsx => xlsx::render_xlsx(&report),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_parses_the_three_names() {
        assert_eq!(
            "html".parse::<ReportFormat>().ok(),
            Some(ReportFormat::Html)
        );
        assert_eq!(
            "XLSX".parse::<ReportFormat>().ok(),
            Some(ReportFormat::Xlsx)
        );
        assert_eq!("md".parse::<ReportFormat>().ok(), Some(ReportFormat::Md));
        assert!(matches!(
            "pdf".parse::<ReportFormat>(),
            Err(ReportError::UnknownFormat(s)) if s == "pdf"
        ));
        assert_eq!(ReportFormat::Md.to_string(), "md");
    }

    #[test]
    fn render_all_formats_from_fixture() {
        let input = testdata::kalmar_input();
        for format in [ReportFormat::Html, ReportFormat::Md, ReportFormat::Xlsx] {
            let bytes = render(&input, format).expect("renders");
            assert!(bytes.len() > 1000, "{format} too small");
        }
        let html = render(&input, ReportFormat::Html).expect("html");
        assert_eq!(html, render(&input, ReportFormat::Html).expect("html"));
    }

    #[test]
    fn period_without_data_is_an_error() {
        let mut input = testdata::kalmar_input();
        input.period = "1999-01".into();
        assert!(matches!(
            render(&input, ReportFormat::Html),
            Err(ReportError::NoData { .. })
        ));
    }

    #[test]
    fn agency_status_counts_as_suppressed() {
        let cell = Cell {
            status: "suppressed".into(),
            ..Cell::default()
        };
        assert!(cell.is_suppressed());
        assert!(!Cell::default().is_suppressed());
    }
}
