//! `.safetensors`: an 8-byte little-endian header length, a JSON header
//! `{"name": {"dtype": "F32", "shape": [..], "data_offsets": [start, end]}, "__metadata__": {..}}`
//! and the tensors' little-endian bytes. Read here with per-tensor checks (so every error
//! names the tensor and the byte counts); written in the layout `safetensors.torch.save_file`
//! produces, with `{"format": "pt"}` metadata.

use std::io::Write;
use std::path::Path;

use serde_json::{json, Map, Value as Json};

use super::npy::{checked_size, decode_elements, write_data, Dtype};
use super::IoError;

/// A header's `__metadata__`: string keys and values.
pub type Metadata = std::collections::BTreeMap<String, String>;
use crate::value::{dims_string, TensorRef, Value};

/// The safetensors dtype names cnnscript reads.
fn dtype_of(name: &str) -> Option<Dtype> {
    Some(match name {
        "F64" => Dtype::Float(8),
        "F32" => Dtype::Float(4),
        "F16" => Dtype::Float(2),
        "BF16" => Dtype::BFloat16,
        "I64" => Dtype::Int {
            signed: true,
            size: 8,
        },
        "I32" => Dtype::Int {
            signed: true,
            size: 4,
        },
        "I16" => Dtype::Int {
            signed: true,
            size: 2,
        },
        "I8" => Dtype::Int {
            signed: true,
            size: 1,
        },
        "U64" => Dtype::Int {
            signed: false,
            size: 8,
        },
        "U32" => Dtype::Int {
            signed: false,
            size: 4,
        },
        "U16" => Dtype::Int {
            signed: false,
            size: 2,
        },
        "U8" => Dtype::Int {
            signed: false,
            size: 1,
        },
        "BOOL" => Dtype::Bool,
        _ => return None,
    })
}

/// Reads every tensor of a `.safetensors` file, in header order.
pub(crate) fn read(path: &Path, bytes: &[u8]) -> Result<Vec<(String, Value)>, IoError> {
    read_with_metadata(path, bytes).map(|(entries, _)| entries)
}

/// The string entries of a header's `__metadata__` (the format allows no
/// others; anything else is left out rather than refused, as `load` ignores it).
fn metadata(header: &Map<String, Json>) -> Metadata {
    header
        .get("__metadata__")
        .and_then(Json::as_object)
        .map(|meta| {
            meta.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

/// Reads every tensor of a `.safetensors` file, in header order, and the
/// header's metadata.
pub(crate) fn read_with_metadata(
    path: &Path,
    bytes: &[u8],
) -> Result<(Vec<(String, Value)>, Metadata), IoError> {
    let bad = |reason: String| IoError::BadHeader {
        path: path.to_path_buf(),
        format: "safetensors",
        reason,
    };
    let Some(prefix) = bytes.get(..8) else {
        return Err(bad(format!(
            "the file has {} bytes, fewer than the 8-byte header length",
            bytes.len()
        )));
    };
    let mut len_bytes = [0u8; 8];
    len_bytes.copy_from_slice(prefix);
    let header_len = u64::from_le_bytes(len_bytes);
    let rest = &bytes[8..];
    if header_len > rest.len() as u64 {
        return Err(bad(format!(
            "the header length is {header_len} bytes but only {} follow it",
            rest.len()
        )));
    }
    // header_len <= rest.len(), so it fits in usize
    let (header, data) = rest.split_at(header_len as usize);
    let text = std::str::from_utf8(header).map_err(|e| bad(format!("not UTF-8 ({e})")))?;
    let entries: Map<String, Json> =
        serde_json::from_str(text).map_err(|e| bad(format!("not a JSON object ({e})")))?;
    let meta = metadata(&entries);
    let mut out = Vec::with_capacity(entries.len());
    let mut infos = Vec::with_capacity(entries.len());
    for (name, entry) in &entries {
        if name == "__metadata__" {
            continue;
        }
        let field = |key: &str| {
            entry
                .get(key)
                .ok_or_else(|| bad(format!("tensor '{name}' has no \"{key}\"")))
        };
        let dtype_name = field("dtype")?
            .as_str()
            .ok_or_else(|| bad(format!("tensor '{name}': \"dtype\" must be a string")))?;
        let dtype = dtype_of(dtype_name).ok_or_else(|| IoError::UnsupportedDtype {
            path: path.to_path_buf(),
            dtype: dtype_name.to_string(),
        })?;
        let shape = field("shape")?
            .as_array()
            .and_then(|dims| dims.iter().map(Json::as_u64).collect::<Option<Vec<u64>>>())
            .ok_or_else(|| {
                bad(format!(
                    "tensor '{name}': \"shape\" must be a list of non-negative integers"
                ))
            })?;
        let offsets = field("data_offsets")?
            .as_array()
            .and_then(|o| match o.as_slice() {
                [start, end] => Some((start.as_u64()?, end.as_u64()?)),
                _ => None,
            })
            .ok_or_else(|| {
                bad(format!(
                    "tensor '{name}': \"data_offsets\" must be [start, end]"
                ))
            })?;
        infos.push((name.clone(), dtype, shape, offsets));
    }
    infos.sort_by_key(|info| info.3);
    for (name, dtype, shape, (start, end)) in infos {
        let tensor_path = path.join(&name);
        let (_, needed) = checked_size(&tensor_path, &shape, dtype.size())?;
        let dims = || dims_string(&shape);
        if end < start || end - start != needed {
            return Err(IoError::SizeMismatch {
                path: path.to_path_buf(),
                reason: format!(
                    "tensor '{name}': shape {} of {} needs {needed} bytes, but its data_offsets [{start}, {end}] span {}",
                    dims(),
                    dtype_label(dtype),
                    end as i128 - start as i128
                ),
            });
        }
        if end > data.len() as u64 {
            return Err(IoError::Truncated {
                path: tensor_path,
                shape: dims(),
                expected: end,
                found: data.len() as u64,
            });
        }
        // end <= data.len(), so both offsets fit in usize
        let bytes = &data[start as usize..end as usize];
        let shape: Vec<usize> = shape.iter().map(|&d| d as usize).collect();
        let value = decode_elements(&tensor_path, &mut &bytes[..], dtype, false, &shape, false)?;
        out.push((name, value));
    }
    Ok((out, meta))
}

fn dtype_label(dtype: Dtype) -> &'static str {
    match dtype {
        Dtype::Float(2) => "F16",
        Dtype::Float(4) => "F32",
        Dtype::Float(_) => "F64",
        Dtype::BFloat16 => "BF16",
        Dtype::Bool => "BOOL",
        Dtype::Int {
            signed: true,
            size: 1,
        } => "I8",
        Dtype::Int {
            signed: true,
            size: 2,
        } => "I16",
        Dtype::Int {
            signed: true,
            size: 4,
        } => "I32",
        Dtype::Int { signed: true, .. } => "I64",
        Dtype::Int { size: 1, .. } => "U8",
        Dtype::Int { size: 2, .. } => "U16",
        Dtype::Int { size: 4, .. } => "U32",
        Dtype::Int { .. } => "U64",
    }
}

/// The header bytes (length prefix plus JSON padded with spaces to 8 bytes) for `entries`
/// laid out in the given order; the metadata holds `"format": "pt"` and `extra`.
fn header_bytes(entries: &[(String, TensorRef<'_>)], extra: &Metadata) -> Vec<u8> {
    let mut header = Map::new();
    let mut meta = Map::new();
    meta.insert("format".to_string(), json!("pt"));
    for (k, v) in extra {
        meta.insert(k.clone(), json!(v));
    }
    header.insert("__metadata__".to_string(), Json::Object(meta));
    let mut offset: u64 = 0;
    for (name, tensor) in entries {
        let (dtype, item) = (tensor.safetensors_dtype(), tensor.item_bytes());
        let count: u64 = tensor.shape().iter().map(|&d| d as u64).product();
        let end = offset + count * item;
        header.insert(
            name.clone(),
            json!({"dtype": dtype, "shape": tensor.shape(), "data_offsets": [offset, end]}),
        );
        offset = end;
    }
    let mut text = Json::Object(header).to_string().into_bytes();
    // As safetensors' own writer: pad so the data starts 8-byte aligned.
    while !text.len().is_multiple_of(8) {
        text.push(b' ');
    }
    let mut out = Vec::with_capacity(8 + text.len());
    out.extend_from_slice(&(text.len() as u64).to_le_bytes());
    out.extend_from_slice(&text);
    out
}

/// Writes named tensors (f32 as `F32`, integers as `I64`, bools as `BOOL`) atomically.
pub(crate) fn write(path: &Path, entries: &[(String, TensorRef<'_>)]) -> Result<(), IoError> {
    write_with_metadata(path, entries, &Metadata::new())
}

/// Writes named tensors atomically, with `extra` in the header's metadata.
pub(crate) fn write_with_metadata(
    path: &Path,
    entries: &[(String, TensorRef<'_>)],
    extra: &Metadata,
) -> Result<(), IoError> {
    let header = header_bytes(entries, extra);
    super::atomic_write(path, |w| {
        w.write_all(&header)?;
        for (_, tensor) in entries {
            write_data(w, tensor)?;
        }
        Ok(())
    })
}
