-- Published form of bilaga1_fs_orsak: from the published (suppressed) kartlaggning_kon,
-- with its `<col>_skyddad` flags, in the order the report prints the rows.
SELECT k.kommun, k.period, r.ordning, r.grupp,
       k.kvinnor, k.kvinnor_skyddad, k.man, k.man_skyddad, k.totalt, k.totalt_skyddad
FROM kartlaggning_kon k
JOIN (VALUES (1, 'fs_mottagare', 'Totalt, oavsett orsak'),
             (2, 'fs_arbetsloshet', 'Arbetslöshet'),
             (3, 'fs_arbetsloshet_endast_fs', '– endast försörjningsstöd som inkomstkälla'),
             (4, 'fs_arbetsloshet_vantar_ersattning', '– väntar på ersättning'),
             (5, 'fs_arbetsloshet_otillracklig_ersattning', '– otillräcklig ersättning'),
             (6, 'fs_sociala_skal', 'Sociala skäl'),
             (7, 'fs_ohalsa', 'Ohälsa'),
             (8, 'fs_otillracklig_inkomst', 'Otillräcklig inkomst'),
             (9, 'fs_annan', 'Annan orsak')) AS r(ordning, matt, grupp)
  ON k.matt = r.matt
WHERE k.alder = '16-24' AND k.dimension = 'total'
ORDER BY k.kommun, k.period, r.ordning
