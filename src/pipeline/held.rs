//! The mapped rows of a run, held from mapping until they are staged: in memory up to a
//! budget, beyond it spilled to Arrow IPC files in `<lake>/_spill/`. A run's peak memory
//! then follows the budget, not the size of the night's extracts (a ten-million-row
//! extract needs no more than a one-million-row one), while a run within the budget —
//! nearly every run — never touches the disk for it.
//!
//! Spill files are scratch, never published: they are temporary files of the one atomic
//! writer ([`atomic::StagingFile`] left unfinished), so they disappear when the run ends
//! and those of a killed run are removed with its other temporary files.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::PathBuf;
use std::sync::Arc;

use datafusion::arrow::compute::concat_batches;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::ipc::reader::FileReader;
use datafusion::arrow::ipc::writer::FileWriter;
use datafusion::arrow::record_batch::RecordBatch;

use crate::error::{Error, Result};
use crate::lake::{Lake, atomic};

/// Default budget of mapped rows held in memory by one run (`[lake] ingest_memory_mb`).
pub const DEFAULT_BUDGET: usize = crate::config::settings::DEFAULT_INGEST_MEMORY_BYTES;

/// A (kommun, period) partition.
pub type Partition = (String, String);

/// Where a piece of an extract comes in the partition's file: extracts in the order of
/// their (name, content hash), then in file order.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Order {
    extract: Arc<(String, String)>,
    seq: usize,
}

#[derive(Debug)]
enum Data {
    Memory(RecordBatch),
    Spilled { file: usize, index: usize },
}

#[derive(Debug)]
struct Piece {
    order: Order,
    rows: usize,
    data: Data,
}

/// The rows of one run by partition.
pub struct Held {
    spill_dir: PathBuf,
    pipeline: String,
    schema: SchemaRef,
    budget: usize,
    in_memory: usize,
    files: Vec<atomic::StagingFile>,
    parts: BTreeMap<Partition, Vec<Piece>>,
    next_seq: usize,
}

impl Held {
    /// An empty store for rows in `schema`, spilling beyond `budget` bytes (0: the
    /// default) under `lake`.
    pub fn new(lake: &Lake, pipeline: &str, schema: SchemaRef, budget: usize) -> Self {
        Held {
            spill_dir: lake.root().join("_spill"),
            pipeline: pipeline.to_string(),
            schema,
            budget: if budget == 0 { DEFAULT_BUDGET } else { budget },
            in_memory: 0,
            files: Vec::new(),
            parts: BTreeMap::new(),
            next_seq: 0,
        }
    }

    /// The bytes of mapped rows held in memory before they spill (the default resolved).
    pub fn budget(&self) -> usize {
        self.budget
    }

    /// Adds the next mapped rows of the extract `(name, sha)`, spilling what is held
    /// once the budget is passed.
    pub fn push(
        &mut self,
        extract: &Arc<(String, String)>,
        partitions: BTreeMap<Partition, Vec<RecordBatch>>,
    ) -> Result<()> {
        for (part, batches) in partitions {
            let pieces = self.parts.entry(part).or_default();
            for batch in batches {
                self.in_memory += batch.get_array_memory_size();
                pieces.push(Piece {
                    order: Order {
                        extract: extract.clone(),
                        seq: self.next_seq,
                    },
                    rows: batch.num_rows(),
                    data: Data::Memory(batch),
                });
                self.next_seq += 1;
            }
        }
        if self.in_memory > self.budget {
            self.spill()?;
        }
        Ok(())
    }

    /// Joins each partition's in-memory pieces of one extract into one, once the extract
    /// is mapped: what stays held is the data and one set of headers per partition.
    pub fn coalesce(&mut self, extract: &Arc<(String, String)>) -> Result<()> {
        let mut in_memory = 0;
        for pieces in self.parts.values_mut() {
            let mine: Vec<usize> = (0..pieces.len())
                .filter(|&i| {
                    pieces[i].order.extract == *extract && matches!(pieces[i].data, Data::Memory(_))
                })
                .collect();
            if mine.len() > 1 {
                let batches: Vec<&RecordBatch> = mine
                    .iter()
                    .filter_map(|&i| match &pieces[i].data {
                        Data::Memory(b) => Some(b),
                        Data::Spilled { .. } => None,
                    })
                    .collect();
                let one = concat_batches(&self.schema, batches)?;
                // Pieces of one extract are contiguous in order, so the first one's place
                // is the joined piece's place.
                let first = mine[0];
                for &i in mine[1..].iter().rev() {
                    pieces.remove(i);
                }
                pieces[first].rows = one.num_rows();
                pieces[first].data = Data::Memory(one);
            }
            for p in pieces.iter() {
                if let Data::Memory(b) = &p.data {
                    in_memory += b.get_array_memory_size();
                }
            }
        }
        self.in_memory = in_memory;
        Ok(())
    }

    /// Writes every in-memory piece to a new spill file.
    fn spill(&mut self) -> Result<()> {
        let index = self.files.len();
        let target = self
            .spill_dir
            .join(format!("{}-{index}.arrow", self.pipeline));
        let file = atomic::StagingFile::create(&target)?;
        let path = file.path().to_path_buf();
        // A failed write is the scratch space's (a full disk), not a query's.
        let failed = |e| Error::write(&path, e);
        let mut writer = FileWriter::try_new(file, &self.schema).map_err(failed)?;
        let mut written = 0;
        for pieces in self.parts.values_mut() {
            for p in pieces.iter_mut() {
                if let Data::Memory(batch) = &p.data {
                    writer.write(batch).map_err(failed)?;
                    p.data = Data::Spilled {
                        file: index,
                        index: written,
                    };
                    written += 1;
                }
            }
        }
        writer.finish().map_err(failed)?;
        let file = writer.into_inner().map_err(failed)?;
        tracing::debug!(file = %path.display(), bytes = self.in_memory, batches = written, "mapped rows spilled");
        self.files.push(file);
        self.in_memory = 0;
        // A test hook: killed here, a run leaves spill files and nothing staged.
        atomic::failpoint("after-spill", self.files.len());
        Ok(())
    }

    /// Keeps only the partitions `keep` accepts.
    pub fn retain(&mut self, mut keep: impl FnMut(&Partition) -> bool) {
        self.parts.retain(|part, _| keep(part));
    }

    /// The partitions held, in order.
    pub fn partitions(&self) -> Vec<Partition> {
        self.parts.keys().cloned().collect()
    }

    /// Rows held for every partition together.
    pub fn rows(&self) -> usize {
        self.parts.values().flatten().map(|p| p.rows).sum()
    }

    /// One partition's rows as one batch, in file order (safe to call from several
    /// threads: each reads the spill files through its own handle).
    pub fn load(&self, part: &Partition) -> Result<RecordBatch> {
        let mut pieces: Vec<&Piece> = self.parts.get(part).into_iter().flatten().collect();
        pieces.sort_by(|a, b| a.order.cmp(&b.order));
        let mut batches = Vec::with_capacity(pieces.len());
        for p in pieces {
            match &p.data {
                Data::Memory(b) => batches.push(b.clone()),
                Data::Spilled { file, index } => batches.push(self.read_spilled(*file, *index)?),
            }
        }
        Ok(concat_batches(&self.schema, &batches)?)
    }

    fn read_spilled(&self, file: usize, index: usize) -> Result<RecordBatch> {
        let path = self
            .files
            .get(file)
            .map(|f| f.path().to_path_buf())
            .ok_or_else(|| Error::Internal(format!("spill file {file} is unknown")))?;
        let handle = File::open(&path).map_err(|e| Error::io(&path, e))?;
        let mut reader = FileReader::try_new(handle, None)?;
        reader.set_index(index)?;
        reader
            .next()
            .transpose()?
            .ok_or_else(|| Error::Internal(format!("{} has no batch {index}", path.display())))
    }

    /// Spill files written so far (for the tests and the log).
    pub fn spill_files(&self) -> usize {
        self.files.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{Array, Int32Array};
    use datafusion::arrow::datatypes::{DataType, Field, Schema};

    fn batch(schema: &SchemaRef, values: &[i32]) -> RecordBatch {
        RecordBatch::try_new(
            schema.clone(),
            vec![Arc::new(Int32Array::from(values.to_vec()))],
        )
        .expect("batch")
    }

    fn values(b: &RecordBatch) -> Vec<i32> {
        let a = b
            .column(0)
            .as_any()
            .downcast_ref::<Int32Array>()
            .expect("ints");
        (0..a.len()).map(|i| a.value(i)).collect()
    }

    /// Pushes two extracts, the later-named one first, each in two chunks over two
    /// partitions, and returns both partitions' rows with the number of spill files.
    fn run(budget: usize, dir: &std::path::Path) -> (Vec<i32>, Vec<i32>, usize) {
        let schema: SchemaRef =
            Arc::new(Schema::new(vec![Field::new("v", DataType::Int32, false)]));
        let mut held = Held::new(&Lake::new(dir), "p", schema.clone(), budget);
        let a = ("0880".to_string(), "2015-01".to_string());
        let b = ("0880".to_string(), "2015-02".to_string());
        let second = Arc::new(("b.csv".to_string(), "ff".to_string()));
        let first = Arc::new(("a.csv".to_string(), "00".to_string()));
        for (extract, base) in [(&second, 100), (&first, 0)] {
            for chunk in 0..2 {
                let start = base + chunk * 10;
                let parts = BTreeMap::from([
                    (a.clone(), vec![batch(&schema, &[start, start + 1])]),
                    (b.clone(), vec![batch(&schema, &[start + 5])]),
                ]);
                held.push(extract, parts).expect("push");
            }
            held.coalesce(extract).expect("coalesce");
        }
        assert_eq!(held.rows(), 12);
        let out = (
            values(&held.load(&a).expect("load a")),
            values(&held.load(&b).expect("load b")),
            held.spill_files(),
        );
        drop(held);
        out
    }

    #[test]
    fn spilled_rows_come_back_in_extract_then_file_order_and_the_files_go() {
        let dir = tempfile::tempdir().expect("tempdir");
        let in_memory = run(0, dir.path());
        assert_eq!(in_memory.2, 0, "the default budget spilled");
        assert_eq!(in_memory.0, vec![0, 1, 10, 11, 100, 101, 110, 111]);
        assert_eq!(in_memory.1, vec![5, 15, 105, 115]);
        let spilled = run(1, dir.path());
        assert_eq!(spilled.2, 4, "a budget of one byte spills every push");
        assert_eq!((spilled.0, spilled.1), (in_memory.0, in_memory.1));
        let left: Vec<_> = std::fs::read_dir(dir.path().join("_spill"))
            .expect("spill dir")
            .collect();
        assert!(left.is_empty(), "spill files outlived the run: {left:?}");
    }
}
