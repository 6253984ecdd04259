//! The scripts named on a command line: files as given, folders searched
//! for `.cnn` files.

use std::path::{Path, PathBuf};

/// Every script under `paths`: a file is taken as it is, a folder is searched
/// recursively for `*.cnn` (hidden folders and symbolic links skipped), in
/// sorted order. An error names the path that could not be read.
pub fn script_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    let mut out = Vec::new();
    for path in paths {
        match std::fs::metadata(path) {
            Ok(m) if m.is_dir() => search(path, &mut out)?,
            Ok(_) => out.push(path.clone()),
            Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
        }
    }
    Ok(out)
}

fn search(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), String> {
    let cannot = |e: std::io::Error| format!("cannot read the folder {}: {e}", dir.display());
    let mut entries = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(cannot)? {
        let entry = entry.map_err(cannot)?;
        let hidden = entry.file_name().to_string_lossy().starts_with('.');
        if !hidden {
            entries.push((entry.path(), entry.file_type().map_err(cannot)?));
        }
    }
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    for (path, kind) in entries {
        if kind.is_dir() {
            search(&path, out)?;
        } else if kind.is_file() && path.extension().is_some_and(|e| e == "cnn") {
            out.push(path);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folders_are_searched_for_scripts_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("b/deep")).unwrap();
        std::fs::create_dir_all(root.join(".hidden")).unwrap();
        for f in [
            "b/deep/z.cnn",
            "b/a.cnn",
            "c.cnn",
            "c.cnn.snap",
            "notes.txt",
            ".hidden/h.cnn",
        ] {
            std::fs::write(root.join(f), "").unwrap();
        }
        let found = script_files(&[root.to_path_buf(), root.join("notes.txt")]).unwrap();
        let rel: Vec<String> = found
            .iter()
            .map(|p| p.strip_prefix(root).unwrap().display().to_string())
            .collect();
        assert_eq!(rel, ["b/a.cnn", "b/deep/z.cnn", "c.cnn", "notes.txt"]);
        let missing = script_files(&[root.join("nope")]).unwrap_err();
        assert!(missing.contains("nope"), "{missing}");
    }
}
