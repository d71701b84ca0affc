//! Deletion vectors: rows a version deletes from a data file without rewriting it, as
//! Databricks and Fabric write them (`deletionVectors` reader feature). A vector is a
//! set of row positions in the file (Delta's `RoaringBitmapArray`: a magic number, then
//! a 64-bit roaring bitmap in its portable form), kept inline in the log (Z85 text) or
//! in a `deletion_vector_<uuid>.bin` file of the table, where each vector is its size,
//! the bitmap and a CRC-32 of it.

use object_store::ObjectStoreExt;
use object_store::path::Path as StorePath;
use roaring::RoaringTreemap;
use serde_json::Value;

use super::DeltaTable;
use crate::error::Result;

/// The magic number that opens a serialized vector (little-endian).
const MAGIC: u32 = 1_681_511_377;

/// Where a vector is kept.
enum Stored {
    /// In the log itself: the serialized vector as Z85 text.
    Inline(String),
    /// In a file of the table, at an offset.
    File { path: StorePath, offset: u64 },
}

impl DeltaTable {
    /// The rows the deletion vector `dv` (an `add` action's `deletionVector`) deletes
    /// from the file `file` (named in errors).
    pub async fn deleted_rows(&self, file: &str, dv: &Value) -> Result<RoaringTreemap> {
        let bad = |what: String| self.refused(format!("the deletion vector of {file}: {what}"));
        let size = dv["sizeInBytes"]
            .as_u64()
            .ok_or_else(|| bad("no sizeInBytes".into()))?;
        let bytes = match self.stored(dv).map_err(&bad)? {
            Stored::Inline(text) => {
                let mut bytes = z85::decode(&text).map_err(|e| bad(format!("not Z85: {e}")))?;
                if (bytes.len() as u64) < size {
                    return Err(bad(format!(
                        "{} bytes inline, {size} declared",
                        bytes.len()
                    )));
                }
                bytes.truncate(size as usize);
                bytes
            }
            Stored::File { path, offset } => {
                // The size (big-endian), the vector, its CRC-32 (big-endian).
                let range = offset..offset + 4 + size + 4;
                let read = self
                    .store
                    .get_range(&path, range)
                    .await
                    .map_err(|e| self.error(&path, e))?;
                if read.len() as u64 != 8 + size {
                    return Err(bad(format!("{path} ends before the vector does")));
                }
                let (head, rest) = read.split_at(4);
                let (vector, crc) = rest.split_at(size as usize);
                let declared = u32::from_be_bytes(head.try_into().unwrap_or_default());
                if u64::from(declared) != size {
                    return Err(bad(format!(
                        "{path} holds {declared} bytes at offset {offset}, the log says {size}"
                    )));
                }
                if crc32fast::hash(vector).to_be_bytes() != crc {
                    return Err(bad(format!("{path} fails its checksum (damaged)")));
                }
                vector.to_vec()
            }
        };
        if bytes.len() < 4 || u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) != MAGIC
        {
            return Err(bad("not a roaring bitmap array (wrong magic number)".into()));
        }
        let rows = RoaringTreemap::deserialize_from(&bytes[4..])
            .map_err(|e| bad(format!("its bitmap cannot be read: {e}")))?;
        if dv["cardinality"].as_u64() != Some(rows.len()) {
            return Err(bad(format!(
                "it holds {} rows, the log says {}",
                rows.len(),
                dv["cardinality"]
            )));
        }
        Ok(rows)
    }

    /// The file a deletion vector is kept in, if it is kept in one of the table's.
    pub(super) fn deletion_file(&self, dv: &Value) -> Option<StorePath> {
        match self.stored(dv) {
            Ok(Stored::File { path, .. }) => Some(path),
            _ => None,
        }
    }

    fn stored(&self, dv: &Value) -> std::result::Result<Stored, String> {
        let text = dv["pathOrInlineDv"]
            .as_str()
            .ok_or("no pathOrInlineDv")?
            .to_string();
        match dv["storageType"].as_str() {
            Some("i") => Ok(Stored::Inline(text)),
            Some("u") => {
                // An optional random directory, then the file's UUID in 20 Z85 characters.
                let cut = text
                    .len()
                    .checked_sub(20)
                    .filter(|&c| text.is_char_boundary(c))
                    .ok_or("pathOrInlineDv is shorter than a UUID")?;
                let (prefix, uuid) = text.split_at(cut);
                let uuid = z85::decode(uuid).map_err(|e| format!("its UUID is not Z85: {e}"))?;
                let uuid: [u8; 16] = uuid.try_into().map_err(|_| "its UUID is not 16 bytes")?;
                let h = hex::encode(uuid);
                let name = format!(
                    "deletion_vector_{}-{}-{}-{}-{}.bin",
                    &h[..8],
                    &h[8..12],
                    &h[12..16],
                    &h[16..20],
                    &h[20..]
                );
                let relative = if prefix.is_empty() {
                    name
                } else {
                    format!("{prefix}/{name}")
                };
                let path = self.location_of(&relative).map_err(|e| e.to_string())?;
                let offset = dv["offset"].as_u64().unwrap_or(1);
                Ok(Stored::File { path, offset })
            }
            Some("p") => Err(format!(
                "kept at an absolute path ({text}); vectors outside the table are not read"
            )),
            other => Err(format!("unknown storageType {other:?}")),
        }
    }
}

/// The key of a file in a version: its path and its deletion vector, since one commit
/// may remove a file with one vector and add it back with another.
pub(super) fn file_key(action: &Value) -> Option<String> {
    let path = action.get("path")?.as_str()?;
    let dv = action.get("deletionVector").filter(|dv| !dv.is_null());
    Some(match dv {
        None => path.to_string(),
        Some(dv) => format!(
            "{path}\u{0}{}{}@{}",
            dv["storageType"].as_str().unwrap_or_default(),
            dv["pathOrInlineDv"].as_str().unwrap_or_default(),
            dv["offset"]
        ),
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    use object_store::memory::InMemory;
    use object_store::{ObjectStore, PutPayload};
    use serde_json::json;

    use super::*;
    use crate::lake::delta::{Change, DataFile};

    /// A serialized vector deleting `rows`: the magic number, then the bitmap.
    fn vector(rows: &[u64]) -> Vec<u8> {
        let mut bytes = MAGIC.to_le_bytes().to_vec();
        let bitmap: RoaringTreemap = rows.iter().copied().collect();
        bitmap.serialize_into(&mut bytes).expect("serialize");
        bytes
    }

    #[tokio::test]
    async fn vectors_in_files_are_read_checked_and_kept_by_clean_up_while_their_file_lives() {
        let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
        let t = DeltaTable::new(store.clone(), StorePath::from("t"), "mem://t");
        // One vector file holding two vectors, the second deleting rows 0 and 7.
        let (first, second) = (vector(&[2]), vector(&[0, 7]));
        let mut blob = vec![1u8];
        for v in [&first, &second] {
            blob.extend((v.len() as u32).to_be_bytes());
            blob.extend(v.iter());
            blob.extend(crc32fast::hash(v).to_be_bytes());
        }
        let uuid = [7u8; 16];
        let name = "ab/deletion_vector_07070707-0707-0707-0707-070707070707.bin";
        store
            .put(
                &StorePath::from(format!("t/{name}")),
                PutPayload::from(blob),
            )
            .await
            .expect("put");
        let stray = StorePath::from("t/deletion_vector_00000000-0000-0000-0000-000000000000.bin");
        store
            .put(&stray, PutPayload::from_static(b"\x01"))
            .await
            .expect("put");
        let dv = json!({
            "storageType": "u",
            "pathOrInlineDv": format!("ab{}", z85::encode(uuid)),
            "offset": 1 + 4 + first.len() + 4,
            "sizeInBytes": second.len(),
            "cardinality": 2,
        });
        let rows = t.deleted_rows("f.parquet", &dv).await.expect("read");
        assert_eq!(rows.iter().collect::<Vec<_>>(), [0, 7]);

        // The file keeps its vector through clean-up; a vector file nothing names goes.
        store
            .put(
                &StorePath::from("t/f.parquet"),
                PutPayload::from_static(b"data"),
            )
            .await
            .expect("put");
        let file = DataFile {
            path: "f.parquet".into(),
            partition: Default::default(),
            size: 4,
            rows: 9,
            deletion_vector: Some(dv.clone()),
            bounds: Default::default(),
        };
        let schema = Schema::new(vec![Field::new("a", DataType::Int32, true)]);
        let change = Change {
            add: vec![file],
            remove: vec![],
            ..Default::default()
        };
        t.create(&schema, &[], change, "WRITE")
            .await
            .expect("create");
        let cleaned = t
            .clean_up(chrono::Utc::now() + chrono::Duration::seconds(1))
            .await
            .expect("clean up");
        assert_eq!(cleaned.files, 1, "{cleaned:?}");
        assert!(
            store
                .head(&StorePath::from(format!("t/{name}")))
                .await
                .is_ok()
        );
        assert!(store.head(&stray).await.is_err());

        // A wrong size, a wrong count and a damaged vector are errors naming the file.
        for (bad, expected) in [
            (json!({"sizeInBytes": first.len()}), "the log says"),
            (json!({"cardinality": 3}), "it holds 2 rows, the log says 3"),
            (json!({"offset": 2}), "bytes at offset 2"),
        ] {
            let mut wrong = dv.clone();
            for (k, v) in bad.as_object().expect("object") {
                wrong[k] = v.clone();
            }
            let e = t
                .deleted_rows("f.parquet", &wrong)
                .await
                .expect_err("bad")
                .to_string();
            assert!(
                e.contains("deletion vector of f.parquet") && e.contains(expected),
                "{e}"
            );
        }
        let inline = json!({
            "storageType": "i",
            "pathOrInlineDv": z85::encode(&vector(&[3])[..]),
            "sizeInBytes": vector(&[3]).len(),
            "cardinality": 1,
        });
        let rows = t.deleted_rows("f.parquet", &inline).await.expect("inline");
        assert_eq!(rows.iter().collect::<Vec<_>>(), [3]);
    }
}
