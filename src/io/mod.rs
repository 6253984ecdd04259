//! Files: `.npy`, `.npz`, `.safetensors`, `.csv` in and out, atomic writes, memory guard,
//! and PyTorch-style printing of values.

mod atomic;
mod budget;
mod csv;
mod error;
pub mod format;
mod npy;
mod npz;
mod safetensors;
mod walk;

use std::path::Path;

pub use atomic::{atomic_write, remove_temporaries};
pub use budget::{
    check_alloc, check_alloc_bytes, human_bytes, memory_limit, set_harness_room, MAX_ARRAY_BYTES,
};
pub use error::IoError;
pub use safetensors::Metadata;
pub use walk::script_files;

use crate::value::{TensorRef, Value};

/// The file formats, chosen by extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Npy,
    Npz,
    Safetensors,
    Csv,
}

fn format_of(path: &Path) -> Result<Format, IoError> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    match ext.as_str() {
        "npy" => Ok(Format::Npy),
        "npz" => Ok(Format::Npz),
        "safetensors" => Ok(Format::Safetensors),
        "csv" => Ok(Format::Csv),
        _ => Err(IoError::UnknownExtension {
            path: path.to_path_buf(),
            ext,
        }),
    }
}

/// What a statement reads from or writes to a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Holds {
    /// A tensor or a bundle (`save X`, `load("f")`): any format.
    Values,
    /// A model's parameters (`save m`, `load m`): named arrays.
    StateDict { saving: bool },
}

/// Whether a file's name fits what it holds, from the extension alone: the
/// errors `check` reports before anything runs, and the writers and readers
/// of state dicts meet first.
pub fn check_name(path: &Path, holds: Holds) -> Result<(), IoError> {
    match (format_of(path)?, holds) {
        (Format::Npy | Format::Csv, Holds::StateDict { saving: true }) => {
            Err(IoError::CannotSave {
                path: path.to_path_buf(),
                what: "model",
                reason: "parameters need a file of named arrays".to_string(),
                help: "use a .safetensors (PyTorch's format) or .npz file".to_string(),
            })
        }
        (Format::Npy | Format::Csv, Holds::StateDict { saving: false }) => {
            Err(IoError::NotAStateDict {
                path: path.to_path_buf(),
            })
        }
        _ => Ok(()),
    }
}

/// Opens a file for reading and returns it with its length.
fn open_file(path: &Path) -> Result<(std::fs::File, u64), IoError> {
    let file = std::fs::File::open(path).map_err(|e| IoError::from_os(path, e))?;
    let meta = file.metadata().map_err(|e| IoError::from_os(path, e))?;
    if meta.is_dir() {
        return Err(IoError::IsDirectory {
            path: path.to_path_buf(),
        });
    }
    Ok((file, meta.len()))
}

/// Reads a whole file after checking its size against the memory budget.
fn read_file(path: &Path) -> Result<Vec<u8>, IoError> {
    let (mut file, len) = open_file(path)?;
    check_alloc_bytes(len, &format!("the contents of {}", path.display()))?;
    let mut bytes = Vec::with_capacity(len as usize);
    std::io::Read::read_to_end(&mut file, &mut bytes).map_err(|e| IoError::from_os(path, e))?;
    Ok(bytes)
}

/// Loads a tensor or bundle from a file, by extension (`.npy`, `.npz`, `.safetensors`, `.csv`).
pub fn load_value(path: &Path) -> Result<Value, IoError> {
    match format_of(path)? {
        Format::Npy => {
            // Streamed: peak memory is the tensor, not the file plus the tensor.
            let (file, len) = open_file(path)?;
            npy::read(path, &mut std::io::BufReader::new(file), len)
        }
        Format::Npz => npz::read(path, &read_file(path)?)
            .map(|entries| Value::Bundle(entries.into_iter().collect())),
        Format::Safetensors => safetensors::read(path, &read_file(path)?)
            .map(|entries| Value::Bundle(entries.into_iter().collect())),
        Format::Csv => csv::read(path, &read_file(path)?),
    }
}

/// Saves a value atomically, by extension: `.npy` (a tensor), `.npz` and `.safetensors`
/// (a bundle's arrays, or one tensor as `arr_0` / `tensor`), `.csv` (rank 1 or 2, or a
/// bundle `{x, y}` as columns plus `label`).
pub fn save_value(path: &Path, value: &Value) -> Result<(), IoError> {
    let format = format_of(path)?;
    match format {
        Format::Npy => match value.as_tensor_ref() {
            Some(tensor) => atomic_write(path, |w| npy::write(w, &tensor)),
            None if !matches!(value, Value::Bundle(_)) => Err(IoError::CannotSave {
                path: path.to_path_buf(),
                what: value.type_name(),
                reason: "files hold tensors".to_string(),
                help: "save a tensor".to_string(),
            }),
            None => Err(IoError::CannotSave {
                path: path.to_path_buf(),
                what: value.type_name(),
                reason: ".npy holds one array".to_string(),
                help: "save a bundle as .npz or .safetensors, or save one of its arrays"
                    .to_string(),
            }),
        },
        Format::Npz => npz::write(path, &named_tensors(path, value, "arr_0")?),
        Format::Safetensors => safetensors::write(path, &named_tensors(path, value, "tensor")?),
        Format::Csv => csv::write(path, value),
    }
}

/// The arrays of a bundle, or a single tensor under `single_name`.
fn named_tensors<'a>(
    path: &Path,
    value: &'a Value,
    single_name: &str,
) -> Result<Vec<(String, TensorRef<'a>)>, IoError> {
    match value {
        Value::Float(_) | Value::Int(_) | Value::Bool(_) => Ok(value
            .as_tensor_ref()
            .map(|t| (single_name.to_string(), t))
            .into_iter()
            .collect()),
        Value::Dims(_) | Value::Count(_) => Err(IoError::CannotSave {
            path: path.to_path_buf(),
            what: value.type_name(),
            reason: "files hold tensors".to_string(),
            help: "save a tensor".to_string(),
        }),
        Value::Bundle(map) => map
            .iter()
            .map(|(name, v)| match v.as_tensor_ref() {
                Some(t) => Ok((name.clone(), t)),
                None => Err(IoError::CannotSave {
                    path: path.to_path_buf(),
                    what: "bundle",
                    reason: format!("its entry '{name}' is itself a bundle"),
                    help: "files hold flat lists of named arrays; save the inner bundle separately"
                        .to_string(),
                }),
            })
            .collect(),
    }
}

/// Saves a state dict (PyTorch `nn.Sequential` names such as `0.weight`, `bn.num_batches_tracked`)
/// atomically to `.safetensors` (F32 / I64 entries, readable by `safetensors.torch.load_file`)
/// or `.npz`.
pub fn save_state_dict(path: &Path, entries: &[(String, TensorRef<'_>)]) -> Result<(), IoError> {
    let mut seen = std::collections::BTreeSet::new();
    for (name, _) in entries {
        if !seen.insert(name.as_str()) {
            return Err(IoError::DuplicateName {
                path: path.to_path_buf(),
                name: name.clone(),
            });
        }
    }
    check_name(path, Holds::StateDict { saving: true })?;
    match format_of(path)? {
        Format::Safetensors => safetensors::write(path, entries),
        // `check_name` lets only .safetensors and .npz through
        _ => npz::write(path, entries),
    }
}

/// Loads a state dict from `.safetensors` or `.npz`: every named array, sorted by name.
pub fn load_state_dict(path: &Path) -> Result<Vec<(String, Value)>, IoError> {
    check_name(path, Holds::StateDict { saving: false })?;
    let mut entries = match format_of(path)? {
        Format::Safetensors => safetensors::read(path, &read_file(path)?)?,
        // `check_name` lets only .safetensors and .npz through
        _ => npz::read(path, &read_file(path)?)?,
    };
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(entries)
}

/// Saves named tensors atomically to `.safetensors` with `metadata` in the
/// header (beside `"format": "pt"`), as training checkpoints are written.
pub fn save_safetensors(
    path: &Path,
    entries: &[(String, TensorRef<'_>)],
    metadata: &Metadata,
) -> Result<(), IoError> {
    safetensors::write_with_metadata(path, entries, metadata)
}

/// Loads every tensor of a `.safetensors` file (sorted by name) and its
/// header's string metadata.
pub fn load_safetensors(path: &Path) -> Result<(Vec<(String, Value)>, Metadata), IoError> {
    let (mut entries, meta) = safetensors::read_with_metadata(path, &read_file(path)?)?;
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    Ok((entries, meta))
}

#[cfg(test)]
mod tests;
