//! A Delta table's schema, both ways: the `schemaString` malgrupp writes for the lake's
//! Arrow schema, and the Arrow columns a reader scans for a table any engine wrote,
//! with column mapping (`delta.columnMapping.mode = name`, as Fabric and Databricks
//! use it to rename columns), where the files and the partition values name columns by
//! physical names instead.

use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Fields, Schema, TimeUnit};
use serde_json::{Value, json};

use crate::error::{Error, Result};

/// The columns of a table as a reader scans them.
#[derive(Debug, Default, Clone)]
pub struct Columns {
    /// The columns stored in the files, in schema order: each with the table's name and
    /// type, and the name the files give it (the same name without column mapping).
    pub data: Vec<(FieldRef, String)>,
    /// The partition columns, in order: each with the table's name and type, and the
    /// key of its values in `add.partitionValues`.
    pub partitions: Vec<(FieldRef, String)>,
}

impl Columns {
    /// The columns a `metaData` action declares; `Err` says why they cannot be read.
    pub(super) fn of(metadata: &Value) -> std::result::Result<Columns, String> {
        let mapped = match metadata
            .pointer("/configuration/delta.columnMapping.mode")
            .and_then(Value::as_str)
        {
            None | Some("none") => false,
            Some("name") => true,
            Some(mode) => {
                return Err(format!(
                    "column mapping by {mode} is not read (mapping by name is)"
                ));
            }
        };
        let schema: Value = metadata
            .get("schemaString")
            .and_then(Value::as_str)
            .and_then(|s| serde_json::from_str(s).ok())
            .ok_or("its schema (metaData.schemaString) is not valid JSON")?;
        let partition_columns: Vec<&str> = metadata
            .get("partitionColumns")
            .and_then(Value::as_array)
            .map(|c| c.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let mut columns = Columns::default();
        let mut partitions = Vec::new();
        let fields = schema["fields"].as_array();
        for field in fields.ok_or("its schema (metaData.schemaString) lists no fields")? {
            let name = field["name"].as_str().ok_or("a column without a name")?;
            let kind = &field["type"];
            let data_type = arrow_type(kind)
                .ok_or_else(|| format!("column {name} has a type not read here: {kind}"))?;
            let physical = if mapped {
                if !kind.is_string() {
                    return Err(format!(
                        "column {name}: nested columns are not read under column mapping"
                    ));
                }
                field
                    .pointer("/metadata/delta.columnMapping.physicalName")
                    .and_then(Value::as_str)
                    .ok_or_else(|| format!("column {name} has no physical name"))?
            } else {
                name
            };
            let nullable = field["nullable"].as_bool().unwrap_or(true);
            let arrow = Arc::new(Field::new(name, data_type, nullable));
            if partition_columns.contains(&name) {
                // Partitions are declared in partitionColumns' order, not the schema's.
                // A null partition value is written as a null whatever the schema says.
                partitions.push((
                    Arc::new(arrow.as_ref().clone().with_nullable(true)),
                    physical.to_string(),
                ));
            } else {
                columns.data.push((arrow, physical.to_string()));
            }
        }
        for column in partition_columns {
            let found = partitions.iter().find(|(f, _)| f.name() == column);
            let found =
                found.ok_or_else(|| format!("partition column {column} is not in its schema"))?;
            columns.partitions.push(found.clone());
        }
        Ok(columns)
    }
}

/// The Arrow type of a Delta type (Delta's JSON schema), primitive or nested.
fn arrow_type(kind: &Value) -> Option<DataType> {
    if let Some(name) = kind.as_str() {
        return primitive(name);
    }
    let element = |t: &Value, nullable: &Value, name: &str| -> Option<FieldRef> {
        Some(Arc::new(Field::new(
            name,
            arrow_type(t)?,
            nullable.as_bool().unwrap_or(true),
        )))
    };
    match kind["type"].as_str()? {
        "struct" => {
            let fields = kind["fields"]
                .as_array()?
                .iter()
                .map(|f| element(&f["type"], &f["nullable"], f["name"].as_str()?));
            Some(DataType::Struct(fields.collect::<Option<Fields>>()?))
        }
        "array" => Some(DataType::List(element(
            &kind["elementType"],
            &kind["containsNull"],
            "element",
        )?)),
        "map" => {
            let key = element(&kind["keyType"], &Value::Bool(false), "key")?;
            let value = element(&kind["valueType"], &kind["valueContainsNull"], "value")?;
            let entries = Field::new(
                "key_value",
                DataType::Struct(vec![key, value].into()),
                false,
            );
            Some(DataType::Map(Arc::new(entries), false))
        }
        _ => None,
    }
}

/// The Arrow type of a primitive Delta type.
fn primitive(name: &str) -> Option<DataType> {
    Some(match name {
        "string" => DataType::Utf8,
        "boolean" => DataType::Boolean,
        "byte" => DataType::Int8,
        "short" => DataType::Int16,
        "integer" => DataType::Int32,
        "long" => DataType::Int64,
        "float" => DataType::Float32,
        "double" => DataType::Float64,
        "binary" => DataType::Binary,
        "date" => DataType::Date32,
        "timestamp" => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
        "timestamp_ntz" => DataType::Timestamp(TimeUnit::Microsecond, None),
        _ => {
            let (p, s) = name
                .strip_prefix("decimal(")?
                .strip_suffix(')')?
                .split_once(',')?;
            DataType::Decimal128(p.trim().parse().ok()?, s.trim().parse().ok()?)
        }
    })
}

/// Delta's schema JSON: the file columns, then the partition columns as strings.
pub(super) fn schema_string(schema: &Schema, partition_columns: &[&str]) -> Result<String> {
    let mut fields = Vec::new();
    for field in schema.fields() {
        let Some(kind) = delta_type(field.data_type()) else {
            return Err(Error::Internal(format!(
                "column {} of type {} has no Delta type here",
                field.name(),
                field.data_type()
            )));
        };
        fields.push(json!({"name": field.name(), "type": kind, "nullable": field.is_nullable(), "metadata": {}}));
    }
    for column in partition_columns {
        fields.push(json!({"name": column, "type": "string", "nullable": false, "metadata": {}}));
    }
    Ok(json!({"type": "struct", "fields": fields}).to_string())
}

/// The Delta primitive type of an Arrow type; `None` for types the lake does not use.
fn delta_type(data_type: &DataType) -> Option<String> {
    Some(
        match data_type {
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => "string",
            DataType::Boolean => "boolean",
            DataType::Int8 => "byte",
            DataType::Int16 => "short",
            DataType::Int32 => "integer",
            DataType::Int64 => "long",
            DataType::Float32 => "float",
            DataType::Float64 => "double",
            DataType::Date32 => "date",
            DataType::Timestamp(TimeUnit::Microsecond, Some(_)) => "timestamp",
            DataType::Timestamp(TimeUnit::Microsecond, None) => "timestamp_ntz",
            DataType::Decimal128(p, s) => return Some(format!("decimal({p},{s})")),
            _ => return None,
        }
        .to_string(),
    )
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use object_store::memory::InMemory;
    use object_store::path::Path as StorePath;
    use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

    use crate::lake::delta::{AsOf, DeltaTable};

    /// The first error reading a table whose version 0 is `lines`.
    async fn refused_with(lines: &str) -> String {
        let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
        let path = StorePath::from("lake/t/_delta_log/00000000000000000000.json");
        let payload = PutPayload::from(lines.to_string().into_bytes());
        store.put(&path, payload).await.expect("put");
        let t = DeltaTable::new(store, StorePath::from("lake/t"), "mem://lake/t");
        t.snapshot(AsOf::Newest)
            .await
            .expect_err("refused")
            .to_string()
    }

    #[tokio::test]
    async fn tables_needing_what_is_not_read_here_are_refused_naming_it() {
        let metadata = |configuration: &str| {
            format!(
                r#"{{"metaData":{{"id":"x","format":{{"provider":"parquet"}},"schemaString":"{{\"type\":\"struct\",\"fields\":[{{\"name\":\"a\",\"type\":\"integer\",\"nullable\":true,\"metadata\":{{}}}}]}}","partitionColumns":[],"configuration":{configuration}}}}}"#
            )
        };
        // V2 checkpoints: the files their sidecars list would be missed.
        let e = refused_with(&format!(
            "{}\n{}\n",
            r#"{"protocol":{"minReaderVersion":3,"minWriterVersion":7,"readerFeatures":["columnMapping","v2Checkpoint"]}}"#,
            metadata("{}")
        ))
        .await;
        assert!(
            e.contains("reader features not read here: v2Checkpoint (")
                && e.contains("mem://lake/t"),
            "{e}"
        );
        let e = refused_with(r#"{"protocol":{"minReaderVersion":4,"minWriterVersion":7}}"#).await;
        assert!(e.contains("protocol version 4"), "{e}");
        // Column mapping by field id: DataFusion matches columns by name only.
        let e = refused_with(&format!(
            "{}\n{}\n",
            r#"{"protocol":{"minReaderVersion":2,"minWriterVersion":5}}"#,
            metadata(r#"{"delta.columnMapping.mode":"id"}"#)
        ))
        .await;
        assert!(e.contains("column mapping by id is not read"), "{e}");
        // A type this reader has no Arrow type for is named, not guessed.
        let e = refused_with(&format!(
            "{}\n{}\n",
            r#"{"protocol":{"minReaderVersion":1,"minWriterVersion":2}}"#,
            metadata("{}").replace(r#"\"integer\""#, r#"\"variant\""#)
        ))
        .await;
        assert!(e.contains("column a has a type not read here"), "{e}");
    }
}
