//! Acceptance: the shipped participant registers reproduce Norrköping's follow-up of
//! 2012 (seeds/000) and Skellefteå's project fact box (seeds/004) through the views.

use datafusion::arrow::array::{Array, Float64Array, Int64Array};

use datafusion::prelude::SessionContext;

use crate::common::{TestLake, query_in, scalar_in};

async fn int(t: &SessionContext, sql: &str) -> i64 {
    scalar_in(t, sql)
        .await
        .unwrap_or_else(|| panic!("NULL from {sql}"))
}

/// A share in percent with one decimal, as the seed prints it.
async fn percent(t: &SessionContext, sql: &str) -> f64 {
    let batches = query_in(t, sql).await;
    let b = batches
        .iter()
        .find(|b| b.num_rows() > 0)
        .unwrap_or_else(|| panic!("no row from {sql}"));
    assert_eq!(
        batches.iter().map(|b| b.num_rows()).sum::<usize>(),
        1,
        "one row from {sql}"
    );
    let v = b
        .column(0)
        .as_any()
        .downcast_ref::<Float64Array>()
        .expect("a share");
    assert!(!v.is_null(0), "NULL share from {sql}");
    (v.value(0) * 1000.0).round() / 10.0
}

const NKPG: &str = "kommun = '0581' AND ar = 2012";

#[tokio::test]
async fn norrkoping_2012_and_skelleftea_fact_box() {
    let lake = TestLake::new();
    let (outcome, out) = lake.run(&["norrkoping_deltagare", "skelleftea_amt"]).await;
    assert!(outcome.success(), "{out}");
    assert!(
        outcome.reports.iter().all(|r| r.rows_quarantined == 0),
        "{out}"
    );
    // One session for all queries: opening one plans every view.
    let session = lake.session().await;
    let t = &session;

    // Participants by kön and age class.
    let part = |insats: &str, kon: &str, klass: &str| {
        format!(
            "SELECT deltagare FROM uppfoljning_deltagare WHERE {NKPG} AND insats = '{insats}' AND kon = '{kon}' AND aldersklass = '{klass}'"
        )
    };
    for (insats, kon, klass, want) in [
        ("Praktik", "T", "alla", 297),
        ("Praktik", "K", "18-24", 32),
        ("Praktik", "M", "18-24", 27),
        ("Praktik", "K", "25+", 163),
        ("Praktik", "M", "25+", 75),
        ("Utvecklingsanställning", "T", "alla", 94),
        ("Nil-resursen", "T", "alla", 34),
        ("Nil-resursen", "K", "18-24", 2),
        ("Nil-resursen", "M", "18-24", 12),
        ("Nil-resursen", "K", "25+", 1),
        ("Nil-resursen", "M", "25+", 19),
    ] {
        assert_eq!(
            int(t, &part(insats, kon, klass)).await,
            want,
            "{insats} {kon} {klass}"
        );
    }
    // Utvecklingsanställning: 61 % men.
    let men = int(t, &part("Utvecklingsanställning", "M", "alla")).await;
    assert_eq!((100.0 * men as f64 / 94.0).round(), 61.0);

    // Exits, transitions and exit-code shares of the exits that did not move on.
    let exits = |insats: &str, col: &str| {
        format!(
            "SELECT DISTINCT {col} FROM uppfoljning_avslut WHERE {NKPG} AND insats = '{insats}' AND kon = 'T'"
        )
    };
    assert_eq!(int(t, &exits("Praktik", "avslut")).await, 182);
    assert_eq!(int(t, &exits("Praktik", "avslut_utan_overgang")).await, 162);
    assert_eq!(int(t, &exits("Utvecklingsanställning", "avslut")).await, 70);
    assert_eq!(int(t, &exits("Nil-resursen", "avslut")).await, 22);
    // Vägledning: 218 ended, 66 of them moved on; the printed shares are of the 152.
    assert_eq!(int(t, &exits("Vägledning", "avslut")).await, 218);
    assert_eq!(
        int(t, &exits("Vägledning", "avslut_utan_overgang")).await,
        152
    );
    let share = |insats: &str, kod: &str| {
        format!(
            "SELECT andel FROM uppfoljning_avslut WHERE {NKPG} AND insats = '{insats}' AND kon = 'T' AND avslutskod = '{kod}'"
        )
    };
    for (insats, kod, want) in [
        ("Praktik", "arbete", 6.8),
        ("Praktik", "studier", 0.6),
        ("Praktik", "avbruten", 16.0),
        ("Praktik", "klar", 76.5),
        ("Utvecklingsanställning", "arbete", 5.7),
        ("Utvecklingsanställning", "subventionerat_arbete", 17.1),
        ("Utvecklingsanställning", "studier", 1.4),
        ("Utvecklingsanställning", "klar", 70.0),
        ("Utvecklingsanställning", "avbruten", 5.7),
        ("Vägledning", "avbruten", 32.9),
        ("Vägledning", "klar", 64.5),
        ("Vägledning", "studier", 2.6),
    ] {
        assert_eq!(
            percent(t, &share(insats, kod)).await,
            want,
            "{insats} {kod}"
        );
    }
    let work = |kon: &str| {
        format!(
            "SELECT antal FROM uppfoljning_avslut WHERE {NKPG} AND insats = 'Praktik' AND kon = '{kon}' AND avslutskod = 'arbete'"
        )
    };
    assert_eq!(
        (
            int(t, &work("T")).await,
            int(t, &work("K")).await,
            int(t, &work("M")).await
        ),
        (11, 6, 5)
    );

    // Six-month follow-up of those who ended in the first half of 2012.
    let six = |insats: &str, col: &str| {
        format!(
            "SELECT DISTINCT {col} FROM uppfoljning_sex_manader WHERE {NKPG} AND halvar = 'H1' AND insats = '{insats}'"
        )
    };
    assert_eq!(
        int(t, &six("Utvecklingsanställning", "avslutade")).await,
        41
    );
    assert_eq!(int(t, &six("Utvecklingsanställning", "nadda")).await, 20);
    // The unit's table (printed under Vägledning in the seed; see docs/figures.md): 29 reached.
    assert_eq!(int(t, &six("Vägledning", "nadda")).await, 29);
    let status = |insats: &str, s: &str| {
        format!(
            "SELECT andel FROM uppfoljning_sex_manader WHERE {NKPG} AND halvar = 'H1' AND insats = '{insats}' AND status = '{s}'"
        )
    };
    for (insats, s, want) in [
        ("Utvecklingsanställning", "arbete", 15.0),
        ("Utvecklingsanställning", "program_inom_kommunen", 45.0),
        ("Utvecklingsanställning", "program_utanfor_kommunen", 5.0),
        ("Utvecklingsanställning", "vuxenutbildning", 5.0),
        ("Utvecklingsanställning", "annat", 5.0),
        ("Utvecklingsanställning", "arbetslos", 25.0),
        ("Vägledning", "arbete", 6.9),
        ("Vägledning", "program_inom_kommunen", 24.1),
        ("Vägledning", "program_utanfor_kommunen", 17.2),
        ("Vägledning", "sjukskriven", 3.4),
        ("Vägledning", "studier_ej_kommunala", 10.3),
        ("Vägledning", "vuxenutbildning", 3.4),
        ("Vägledning", "annat", 27.6),
        ("Vägledning", "arbetslos", 6.9),
    ] {
        assert_eq!(percent(t, &status(insats, s)).await, want, "{insats} {s}");
    }

    // Skellefteå's fact box, total and by kön.
    let batches = query_in(
            t,"SELECT kon, deltagare, i_arbete, i_studier, planerade_avbrott, oplanerade_avbrott, kvar FROM uppfoljning_faktaruta WHERE kommun = '2482' AND insats = 'Arbetsmarknadstorget' ORDER BY kon")
        .await;
    let mut rows = Vec::new();
    for b in &batches {
        let col = |i: usize| {
            b.column(i)
                .as_any()
                .downcast_ref::<Int64Array>()
                .expect("counts")
        };
        for r in 0..b.num_rows() {
            rows.push((1..7).map(|i| col(i).value(r)).collect::<Vec<_>>());
        }
    }
    assert_eq!(
        rows,
        vec![
            vec![20, 7, 1, 11, 1, 0],
            vec![73, 23, 7, 36, 7, 0],
            vec![93, 30, 8, 47, 8, 0]
        ],
        "K, M, T"
    );

    // Providers: every participation of 2012 belongs to one provider, shares sum to 1.
    assert_eq!(
        int(
            t,
            &format!(
                "SELECT CAST(SUM(insatser) AS BIGINT) FROM uppfoljning_anordnare WHERE {NKPG}"
            )
        )
        .await,
        297 + 94 + 34 + 324
    );
    assert_eq!(
        percent(
            t,
            &format!("SELECT SUM(andel_av_insatser) FROM uppfoljning_anordnare WHERE {NKPG}")
        )
        .await,
        100.0
    );
}
