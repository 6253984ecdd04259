//! NumPy `.npz`: a zip of `.npy` members (stored by `np.savez`, deflated by
//! `np.savez_compressed`). Sizes are checked before anything is unpacked.

use std::io::{Cursor, Read, Write};
use std::path::Path;

use zip::{CompressionMethod, ZipArchive, ZipWriter};

use super::{check_alloc_bytes, npy, IoError, MAX_ARRAY_BYTES};
use crate::value::{TensorRef, Value};

/// The largest member cnnscript unpacks (8 GiB): bigger declared sizes are refused as bombs.
const MEMBER_CAP: u64 = 8 << 30;

/// Smallest central-directory record: a declared entry count needs at least this many bytes.
const CENTRAL_HEADER_MIN: u64 = 46;

fn le_u16(b: &[u8], at: usize) -> Option<u64> {
    b.get(at..at.checked_add(2)?)
        .map(|s| u64::from(u16::from_le_bytes([s[0], s[1]])))
}

fn le_u64(b: &[u8], at: usize) -> Option<u64> {
    b.get(at..at.checked_add(8)?).map(|s| {
        let mut a = [0u8; 8];
        a.copy_from_slice(s);
        u64::from_le_bytes(a)
    })
}

/// Rejects an archive whose end record declares more entries than its bytes could hold,
/// before the zip reader sizes its tables by that count.
fn precheck(bytes: &[u8]) -> Result<(), String> {
    const EOCD: [u8; 4] = [0x50, 0x4b, 0x05, 0x06];
    const LOCATOR: [u8; 4] = [0x50, 0x4b, 0x06, 0x07];
    if bytes.len() < 22 {
        return Err("too short to be a zip file".to_string());
    }
    let search_from = bytes.len().saturating_sub(22 + 65535);
    let eocd = (search_from..=bytes.len() - 22)
        .rev()
        .find(|&i| bytes[i..i + 4] == EOCD)
        .ok_or("no end-of-archive record".to_string())?;
    let mut entries = le_u16(bytes, eocd + 10).unwrap_or(0);
    if entries == 0xffff && eocd >= 20 && bytes[eocd - 20..eocd - 16] == LOCATOR {
        // zip64: the real count is in the zip64 end record the locator points at
        let record = le_u64(bytes, eocd - 20 + 8)
            .and_then(|o| usize::try_from(o).ok())
            .ok_or("bad zip64 locator")?;
        entries = le_u64(bytes, record.saturating_add(32)).ok_or("bad zip64 end record")?;
    }
    if entries.saturating_mul(CENTRAL_HEADER_MIN) > bytes.len() as u64 {
        return Err(format!(
            "declares {entries} members, more than {} bytes can hold",
            bytes.len()
        ));
    }
    Ok(())
}

/// Reads every `.npy` member of an `.npz` (names without `.npy`), in archive order.
pub(crate) fn read(path: &Path, bytes: &[u8]) -> Result<Vec<(String, Value)>, IoError> {
    let bad = |reason: String| IoError::BadArchive {
        path: path.to_path_buf(),
        reason,
    };
    precheck(bytes).map_err(bad)?;
    let mut archive = ZipArchive::new(Cursor::new(bytes)).map_err(|e| bad(e.to_string()))?;
    let mut out = Vec::with_capacity(archive.len());
    for index in 0..archive.len() {
        let mut file = archive
            .by_index_raw(index)
            .map_err(|e| bad(e.to_string()))?;
        if file.is_dir() {
            continue;
        }
        let name = file.name().to_string();
        let member_path = path.join(&name);
        let size = file.size();
        let packed = file.compressed_size();
        let cap = MAX_ARRAY_BYTES.min(MEMBER_CAP);
        if size > cap {
            return Err(IoError::MemberTooLarge {
                path: path.to_path_buf(),
                member: name,
                bytes: size,
                cap,
            });
        }
        check_alloc_bytes(size, &format!("member '{name}' of {}", path.display()))?;
        if packed > bytes.len() as u64 {
            return Err(bad(format!(
                "member '{name}' declares {packed} packed bytes, more than the whole file"
            )));
        }
        let mut raw = Vec::with_capacity(packed as usize);
        (&mut file)
            .take(packed)
            .read_to_end(&mut raw)
            .map_err(|e| bad(format!("member '{name}': {e}")))?;
        let data = match file.compression() {
            CompressionMethod::Stored => raw,
            method if method == CompressionMethod::DEFLATE => {
                miniz_oxide::inflate::decompress_to_vec_with_limit(&raw, size as usize).map_err(
                    |e| {
                        bad(format!(
                            "member '{name}' does not inflate to its declared {size} bytes: {e}"
                        ))
                    },
                )?
            }
            other => {
                return Err(bad(format!(
                "member '{name}' uses {other} compression; numpy writes stored or deflated members"
            )))
            }
        };
        if data.len() as u64 != size {
            return Err(IoError::SizeMismatch {
                path: member_path,
                reason: format!(
                    "the archive declares {size} bytes for this member, but it holds {}",
                    data.len()
                ),
            });
        }
        let value = npy::decode(&member_path, &data)?;
        let key = name.strip_suffix(".npy").unwrap_or(&name).to_string();
        out.push((key, value));
    }
    Ok(out)
}

/// Writes named tensors as an uncompressed `.npz` (what `np.savez` writes).
pub(crate) fn write(path: &Path, entries: &[(String, TensorRef<'_>)]) -> Result<(), IoError> {
    super::atomic_write(path, |w| {
        let mut zip = ZipWriter::new(w);
        for (name, tensor) in entries {
            let options = zip::write::SimpleFileOptions::default()
                .compression_method(CompressionMethod::Stored)
                .large_file(npy::encoded_len(tensor) >= u64::from(u32::MAX));
            zip.start_file(format!("{name}.npy"), options)
                .map_err(std::io::Error::other)?;
            npy::write(&mut zip, tensor)?;
        }
        let w = zip.finish().map_err(std::io::Error::other)?;
        w.flush()
    })
}
