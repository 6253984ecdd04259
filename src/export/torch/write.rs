//! Writing the project: all files into a fresh folder beside DIR, then one
//! rename, so DIR holds either the whole project or what it held before.

use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use super::Project;
use crate::value::TensorRef;

/// The files of a project, by name.
pub const FILES: [&str; 4] = ["model.py", "train.py", "init.safetensors", "README.md"];

/// Whether DIR can take the project: absent, an empty folder, or (with
/// `force`) a folder whose files of the same names are replaced.
pub fn check_target(dir: &Path, force: bool) -> Result<(), String> {
    let parent = parent_of(dir);
    if !parent.is_dir() {
        return Err(format!(
            "cannot write {}: the folder {} does not exist",
            dir.display(),
            parent.display()
        ));
    }
    if dir.exists() && !dir.is_dir() {
        return Err(format!("{} exists and is not a folder", dir.display()));
    }
    let has_entries = std::fs::read_dir(dir).is_ok_and(|mut d| d.next().is_some());
    if has_entries && !force {
        return Err(format!(
            "{} is not empty; add --force to replace the project's files in it \
             (model.py, train.py, init.safetensors, README.md; other files are kept)",
            dir.display()
        ));
    }
    Ok(())
}

fn parent_of(dir: &Path) -> PathBuf {
    match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Removes the temporary folder unless it was renamed into place.
struct TempDir(Option<PathBuf>);

impl Drop for TempDir {
    fn drop(&mut self) {
        if let Some(p) = &self.0 {
            let _ = std::fs::remove_dir_all(p);
        }
    }
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// Write the project to `dir` (see the module doc); `check_target` first.
pub fn write_project(project: &Project, dir: &Path, force: bool) -> Result<(), String> {
    check_target(dir, force)?;
    let name = dir
        .file_name()
        .map_or_else(|| "torch".into(), |n| n.to_string_lossy().into_owned());
    let temp = parent_of(dir).join(format!(
        ".{name}.{}.{}.partial",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let os = |what: &Path, e: std::io::Error| format!("cannot write {}: {e}", what.display());
    std::fs::create_dir(&temp).map_err(|e| os(dir, e))?;
    let mut guard = TempDir(Some(temp.clone()));
    let texts = [
        ("model.py", &project.model_py),
        ("train.py", &project.train_py),
        ("README.md", &project.readme),
    ];
    for (file, text) in texts {
        std::fs::write(temp.join(file), text).map_err(|e| os(&dir.join(file), e))?;
    }
    let refs: Vec<(String, TensorRef)> = project
        .init
        .iter()
        .filter_map(|(k, v)| Some((k.clone(), v.as_tensor_ref()?)))
        .collect();
    crate::io::save_state_dict(&temp.join("init.safetensors"), &refs).map_err(|e| {
        format!(
            "cannot write {}: {e}",
            dir.join("init.safetensors").display()
        )
    })?;
    let empty = std::fs::read_dir(dir).is_ok_and(|mut d| d.next().is_none());
    if empty {
        std::fs::remove_dir(dir).map_err(|e| os(dir, e))?;
    }
    if !dir.exists() {
        std::fs::rename(&temp, dir).map_err(|e| os(dir, e))?;
        guard.0 = None;
        return Ok(());
    }
    for file in FILES {
        std::fs::rename(temp.join(file), dir.join(file)).map_err(|e| os(&dir.join(file), e))?;
    }
    Ok(())
}

/// `dir` as written from `base` (both as the file system sees them), for
/// the commands the project documents; as given when that fails.
pub fn relative_to(base: &Path, dir: &Path) -> String {
    let full = |p: &Path| -> Option<PathBuf> {
        match p.canonicalize() {
            Ok(c) => Some(c),
            Err(_) => Some(parent_of(p).canonicalize().ok()?.join(p.file_name()?)),
        }
    };
    let (Some(base), Some(target)) = (full(base), full(dir)) else {
        return dir.display().to_string();
    };
    let b: Vec<Component> = base.components().collect();
    let t: Vec<Component> = target.components().collect();
    let common = b.iter().zip(&t).take_while(|(x, y)| x == y).count();
    if common <= 1 {
        return target.display().to_string();
    }
    let mut parts: Vec<String> = vec!["..".to_string(); b.len() - common];
    parts.extend(
        t[common..]
            .iter()
            .map(|c| c.as_os_str().to_string_lossy().into_owned()),
    );
    if parts.is_empty() {
        ".".into()
    } else {
        parts.join("/")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn project() -> Project {
        Project {
            model_py: "m".into(),
            train_py: "t".into(),
            readme: "r".into(),
            init: vec![(
                "a@1".into(),
                crate::value::Value::Float(ndarray::ArrayD::zeros(ndarray::IxDyn(&[2]))),
            )],
            warnings: String::new(),
        }
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn writes_a_new_folder_whole() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("out");
        write_project(&project(), &dir, false).unwrap();
        assert_eq!(
            names(&dir),
            ["README.md", "init.safetensors", "model.py", "train.py"]
        );
        assert_eq!(names(tmp.path()), ["out"], "no temporary folder is left");
        assert_eq!(std::fs::read_to_string(dir.join("train.py")).unwrap(), "t");
    }

    #[test]
    fn an_empty_folder_is_used_and_a_full_one_needs_force() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("out");
        std::fs::create_dir(&dir).unwrap();
        write_project(&project(), &dir, false).unwrap();
        let err = write_project(&project(), &dir, false).unwrap_err();
        assert!(
            err.contains("not empty") && err.contains("--force"),
            "{err}"
        );
        std::fs::write(dir.join("notes.txt"), "mine").unwrap();
        let mut p = project();
        p.train_py = "new".into();
        write_project(&p, &dir, true).unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.join("train.py")).unwrap(),
            "new"
        );
        assert_eq!(
            std::fs::read_to_string(dir.join("notes.txt")).unwrap(),
            "mine"
        );
        assert_eq!(names(tmp.path()), ["out"]);
    }

    #[test]
    fn bad_targets_are_clear_errors() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("f");
        std::fs::write(&file, "x").unwrap();
        let err = write_project(&project(), &file, true).unwrap_err();
        assert!(err.contains("is not a folder"), "{err}");
        let err = check_target(&tmp.path().join("no/such/dir"), false).unwrap_err();
        assert!(err.contains("does not exist"), "{err}");
    }

    #[test]
    fn paths_relative_to_the_script_folder() {
        let tmp = tempfile::tempdir().unwrap();
        let scripts = tmp.path().join("s");
        std::fs::create_dir(&scripts).unwrap();
        assert_eq!(
            relative_to(&scripts, &scripts.join("torch_out")),
            "torch_out"
        );
        assert_eq!(relative_to(&scripts, &tmp.path().join("t")), "../t");
        assert_eq!(relative_to(&scripts, &scripts), ".");
    }
}
