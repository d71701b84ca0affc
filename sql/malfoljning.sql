-- Goal follow-up (SPEC §4.9): for every goal of the local agreements (table `mal`, from
-- agreements/*.toml) and every month from the baseline on, the measure's value, the
-- baseline value, the change since the baseline, the target value (baseline × faktor),
-- the distance still to go and the share of the way covered (1 = target reached).
WITH v AS (
    SELECT kommun, period, matt, kon, alder, antal FROM kartlaggning_antal
    WHERE dimension = 'total' AND kategori = 'total'
),
b AS (
    SELECT m.*, v.antal AS baslinje_varde
    FROM mal m
    LEFT JOIN v ON v.kommun = m.kommun AND v.period = m.baslinje AND v.matt = m.matt AND v.kon = m.kon AND v.alder = m.alder
)
SELECT b.kommun, b.avtal, b.mal_id, b.beskrivning, v.period, b.matt, b.kon, b.alder,
       v.antal AS varde,
       b.baslinje, b.baslinje_varde,
       v.antal - b.baslinje_varde AS forandring,
       CAST(v.antal - b.baslinje_varde AS DOUBLE) / b.baslinje_varde AS forandring_andel,
       b.malperiod, b.faktor,
       b.baslinje_varde * b.faktor AS malvarde,
       v.antal - b.baslinje_varde * b.faktor AS kvar_till_mal,
       CAST(b.baslinje_varde - v.antal AS DOUBLE) / (b.baslinje_varde - b.baslinje_varde * b.faktor) AS andel_av_vagen
FROM b
JOIN v ON v.kommun = b.kommun AND v.matt = b.matt AND v.kon = b.kon AND v.alder = b.alder AND v.period >= b.baslinje
