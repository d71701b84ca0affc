//! The run ledger as tables: `runs` (one row per pipeline run) and `lineage` (one row
//! per extract and partition it fed), built from the manifest. `malgrupp sql` registers
//! them; `[lake] delta` commits them beside the lake's tables (src/lake/mirror/).

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, Int64Builder, StringBuilder};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::arrow::record_batch::RecordBatch;

use super::manifest::Manifest;
use crate::error::Result;

/// `runs` and `lineage`, each as one batch.
pub fn tables(manifest: &Manifest) -> Result<[(&'static str, RecordBatch); 2]> {
    Ok([("runs", runs(manifest)?), ("lineage", lineage(manifest)?)])
}

fn runs(manifest: &Manifest) -> Result<RecordBatch> {
    let s = |n: &str| Field::new(n, DataType::Utf8, true);
    let i = |n: &str| Field::new(n, DataType::Int64, true);
    let schema = Arc::new(Schema::new(vec![
        s("run_id"),
        s("pipeline"),
        s("started_at"),
        i("duration_ms"),
        s("status"),
        s("message"),
        i("files_read"),
        i("rows_in"),
        i("rows_written"),
        i("rows_quarantined"),
        s("trigger"),
        s("scheduled_for"),
        i("attempt"),
    ]));
    let mut c: Vec<StringBuilder> = (0..7).map(|_| StringBuilder::new()).collect();
    let mut n: Vec<Int64Builder> = (0..6).map(|_| Int64Builder::new()).collect();
    for r in &manifest.runs {
        c[0].append_value(&r.run_id);
        c[1].append_value(&r.pipeline);
        c[2].append_value(&r.started_at);
        n[0].append_value(r.duration_ms as i64);
        c[3].append_value(&r.status);
        c[4].append_option(r.message.as_deref());
        n[1].append_value(r.files_read as i64);
        n[2].append_value(r.rows_in as i64);
        n[3].append_value(r.rows_written as i64);
        n[4].append_value(r.rows_quarantined as i64);
        c[5].append_value(&r.trigger);
        c[6].append_option(r.scheduled_for.as_deref());
        n[5].append_value(i64::from(r.attempt));
    }
    let f = |b: &mut StringBuilder| -> ArrayRef { Arc::new(b.finish()) };
    let g = |b: &mut Int64Builder| -> ArrayRef { Arc::new(b.finish()) };
    let cols = vec![
        f(&mut c[0]),
        f(&mut c[1]),
        f(&mut c[2]),
        g(&mut n[0]),
        f(&mut c[3]),
        f(&mut c[4]),
        g(&mut n[1]),
        g(&mut n[2]),
        g(&mut n[3]),
        g(&mut n[4]),
        f(&mut c[5]),
        f(&mut c[6]),
        g(&mut n[5]),
    ];
    Ok(RecordBatch::try_new(schema, cols)?)
}

fn lineage(manifest: &Manifest) -> Result<RecordBatch> {
    let s = |n: &str| Field::new(n, DataType::Utf8, true);
    let schema = Arc::new(Schema::new(vec![
        s("run_id"),
        s("pipeline"),
        s("extract_sha256"),
        s("file"),
        s("table_name"),
        s("kommun"),
        s("period"),
    ]));
    let mut b: Vec<StringBuilder> = (0..7).map(|_| StringBuilder::new()).collect();
    for r in &manifest.runs {
        for l in &r.lineage {
            for (k, p) in &l.partitions {
                for (i, v) in [
                    &r.run_id,
                    &r.pipeline,
                    &l.extract_sha256,
                    &l.file,
                    &l.table,
                    k,
                    p,
                ]
                .into_iter()
                .enumerate()
                {
                    b[i].append_value(v);
                }
            }
        }
    }
    let cols: Vec<ArrayRef> = b
        .iter_mut()
        .map(|x| Arc::new(x.finish()) as ArrayRef)
        .collect();
    Ok(RecordBatch::try_new(schema, cols)?)
}
