//! Atomic writes: a temporary file in the target's folder, fsync, rename into place.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use super::IoError;

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// The temporary files being written now, for [`remove_temporaries`].
static IN_FLIGHT: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// Remove the temporary files of the writes in progress: the process is
/// about to end at once (a second Ctrl-C) and no guard will run. The
/// targets keep their previous contents.
pub fn remove_temporaries() {
    // never wait: the lock is only held to push or remove one path
    if let Ok(list) = IN_FLIGHT.try_lock() {
        for path in list.iter() {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// Removes the temporary file unless the write was committed (also on panic).
struct TempGuard {
    path: PathBuf,
    committed: bool,
}

impl TempGuard {
    fn new(path: PathBuf) -> TempGuard {
        if let Ok(mut list) = IN_FLIGHT.lock() {
            list.push(path.clone());
        }
        TempGuard {
            path,
            committed: false,
        }
    }
}

impl Drop for TempGuard {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_file(&self.path);
        }
        if let Ok(mut list) = IN_FLIGHT.lock() {
            list.retain(|p| *p != self.path);
        }
    }
}

fn create_temp(path: &Path) -> Result<(File, TempGuard), IoError> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".to_string());
    loop {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let temp = dir.join(format!(".{name}.{}.{n}.tmp", std::process::id()));
        match OpenOptions::new().write(true).create_new(true).open(&temp) {
            Ok(file) => return Ok((file, TempGuard::new(temp))),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && n < u64::MAX => continue,
            Err(e) => return Err(IoError::from_os_action(path, "write", e)),
        }
    }
}

/// Writes `path` atomically: `write` fills a buffered temporary file in the same folder,
/// which is flushed, fsynced and renamed over `path`. On any error (or panic) the
/// temporary file is removed and `path` is left as it was.
pub fn atomic_write<F>(path: &Path, write: F) -> Result<(), IoError>
where
    F: FnOnce(&mut BufWriter<File>) -> std::io::Result<()>,
{
    if path.is_dir() {
        return Err(IoError::IsDirectory {
            path: path.to_path_buf(),
        });
    }
    let (file, mut guard) = create_temp(path)?;
    let mut writer = BufWriter::new(file);
    let os_err = |e| IoError::from_os_action(path, "write", e);
    write(&mut writer).map_err(os_err)?;
    writer.flush().map_err(os_err)?;
    let file = writer.into_inner().map_err(|e| os_err(e.into_error()))?;
    file.sync_all().map_err(os_err)?;
    drop(file);
    std::fs::rename(&guard.path, path)
        .map_err(|e| IoError::from_os_action(path, "rename into", e))?;
    guard.committed = true;
    // Make the rename itself durable; not every platform can open a folder, so best effort.
    if let Some(dir) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn writes_the_whole_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.bin");
        atomic_write(&path, |w| w.write_all(b"hello")).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"hello");
        assert_eq!(entries(dir.path()), vec!["a.bin"]);
    }

    #[test]
    fn a_failing_writer_leaves_no_file_behind() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.bin");
        let err = atomic_write(&path, |w| {
            w.write_all(b"half")?;
            Err(std::io::Error::other("disk full"))
        })
        .unwrap_err();
        assert!(err.to_string().contains("disk full"), "{err}");
        assert!(entries(dir.path()).is_empty());
    }

    #[test]
    fn a_failing_writer_keeps_the_old_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.bin");
        std::fs::write(&path, b"old").unwrap();
        let _ = atomic_write(&path, |_| Err(std::io::Error::other("boom")));
        assert_eq!(std::fs::read(&path).unwrap(), b"old");
        assert_eq!(entries(dir.path()), vec!["a.bin"]);
    }

    #[test]
    fn a_panicking_writer_leaves_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.bin");
        let result = std::panic::catch_unwind(|| {
            let _ = atomic_write(&path, |_| panic!("writer bug"));
        });
        assert!(result.is_err());
        assert!(entries(dir.path()).is_empty());
    }

    #[test]
    fn a_write_in_progress_is_known_until_it_ends() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.bin");
        let ours = || -> Vec<PathBuf> {
            let list = IN_FLIGHT.lock().unwrap();
            list.iter()
                .filter(|p| p.parent() == Some(dir.path()))
                .cloned()
                .collect()
        };
        atomic_write(&path, |w| {
            let temp = ours();
            assert_eq!(temp.len(), 1, "{temp:?}");
            assert!(temp[0].exists(), "{temp:?}");
            w.write_all(b"x")
        })
        .unwrap();
        assert!(ours().is_empty());
        let _ = atomic_write(&path, |_| Err(std::io::Error::other("boom")));
        assert!(ours().is_empty());
    }

    #[test]
    fn a_missing_folder_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("no/such/a.npy");
        let err = atomic_write(&path, |w| w.write_all(b"x")).unwrap_err();
        assert!(matches!(err, IoError::FolderMissing { .. }), "{err}");
        assert!(err.to_string().ends_with("no/such does not exist"), "{err}");
    }
}
