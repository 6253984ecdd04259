//! `cnnscript kernel install`: the kernelspec Jupyter finds the kernel by
//! (`kernels/cnnscript/kernel.json` and two logos drawn by
//! [`crate::picture`]).

use std::io::Write;
use std::path::{Path, PathBuf};

use serde_json::json;

use super::info::LANGUAGE;
use crate::picture::plot::{BLUE, ORANGE};
use crate::picture::{Canvas, Rgb};

/// Where to install.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// The user's Jupyter data folder (`$JUPYTER_DATA_DIR`,
    /// `~/.local/share/jupyter`, `~/Library/Jupyter` on macOS).
    User,
    /// `DIR/share/jupyter` (a virtual environment, a test's folder).
    Prefix(PathBuf),
}

/// The folder the kernelspec goes to.
pub fn kernel_dir(target: &Target) -> Result<PathBuf, String> {
    let data = match target {
        Target::Prefix(dir) => dir.join("share").join("jupyter"),
        Target::User => user_data_dir()?,
    };
    Ok(data.join("kernels").join(LANGUAGE))
}

fn user_data_dir() -> Result<PathBuf, String> {
    if let Some(dir) = std::env::var_os("JUPYTER_DATA_DIR") {
        return Ok(PathBuf::from(dir));
    }
    let home = dirs::home_dir().ok_or("cannot find the home folder; use --prefix DIR")?;
    if cfg!(target_os = "macos") {
        return Ok(home.join("Library").join("Jupyter"));
    }
    Ok(dirs::data_dir()
        .unwrap_or_else(|| home.join(".local").join("share"))
        .join("jupyter"))
}

/// The `kernel.json` that starts `binary` as the kernel.
pub fn kernel_json(binary: &Path) -> serde_json::Value {
    json!({
        "argv": [binary.to_string_lossy(), "kernel", "-f", "{connection_file}"],
        "display_name": "cnnscript",
        "language": LANGUAGE,
        "interrupt_mode": "signal",
        "metadata": {"debugger": false},
    })
}

/// Write the kernelspec for this binary; returns its folder.
pub fn install(target: &Target) -> Result<PathBuf, String> {
    let binary = std::env::current_exe()
        .and_then(|p| p.canonicalize())
        .map_err(|e| format!("cannot find this program's path: {e}"))?;
    let dir = kernel_dir(target)?;
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let spec = serde_json::to_string_pretty(&kernel_json(&binary)).unwrap_or_default();
    write(&dir.join("kernel.json"), spec.as_bytes())?;
    for size in [32, 64] {
        let png = logo(size).png()?;
        write(&dir.join(format!("logo-{size}x{size}.png")), &png)?;
    }
    Ok(dir)
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), String> {
    crate::io::atomic_write(path, |w| w.write_all(bytes))
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// The logo: a 4x4 feature map in blue with a 2x2 kernel window in orange
/// over its top-left corner, as in the chapter's first figure.
pub fn logo(size: usize) -> Canvas {
    const PALE: Rgb = [214, 230, 243];
    let mut c = Canvas::new(size, size, [255, 255, 255]);
    let margin = size / 16;
    let cell = (size - 2 * margin) / 4;
    let gap = (cell / 8).max(1);
    let at = |i: usize| margin + i * cell;
    for row in 0..4 {
        for col in 0..4 {
            let colour = if row < 2 && col < 2 { ORANGE } else { PALE };
            c.fill(
                at(col) + gap,
                at(row) + gap,
                cell - 2 * gap,
                cell - 2 * gap,
                colour,
            );
        }
    }
    let side = 4 * cell;
    let m = margin as i64;
    for t in 0..(size / 32).max(1) as i64 {
        c.rect(
            m + t,
            m + t,
            side - 2 * t as usize,
            side - 2 * t as usize,
            BLUE,
        );
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_layout_is_jupyters() {
        let dir = kernel_dir(&Target::Prefix("/opt/env".into())).expect("a folder");
        assert_eq!(dir, Path::new("/opt/env/share/jupyter/kernels/cnnscript"));
    }

    #[test]
    fn argv_starts_this_binary_with_the_connection_file() {
        let spec = kernel_json(Path::new("/bin/cnnscript"));
        assert_eq!(
            spec["argv"],
            json!(["/bin/cnnscript", "kernel", "-f", "{connection_file}"])
        );
        assert_eq!(spec["language"], "cnnscript");
    }

    #[test]
    fn logos_are_square_and_coloured() {
        for size in [32, 64] {
            let c = logo(size);
            assert_eq!((c.width(), c.height()), (size, size));
            assert!(c.pixels().contains(&ORANGE));
            assert!(c.pixels().contains(&BLUE));
        }
    }
}
