//! What cases start from: the repository's scripts (examples, test scripts,
//! conformance cases) to mutate, and the data files scripts read.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ndarray::{ArrayD, IxDyn};

use cnnscript::value::Value;

/// A data file every case folder holds.
pub struct Fixture {
    pub name: &'static str,
    /// The shape, when the file holds one float tensor.
    pub tensor: Option<&'static [usize]>,
}

/// The data files of a case folder (names the repository's scripts use).
pub const FIXTURES: &[Fixture] = &[
    Fixture {
        name: "x.npy",
        tensor: Some(&[4, 1, 6, 8]),
    },
    Fixture {
        name: "y.npy",
        tensor: Some(&[4, 1, 6, 7]),
    },
    Fixture {
        name: "input.npy",
        tensor: Some(&[1, 1, 6, 8]),
    },
    Fixture {
        name: "labels.npy",
        tensor: None,
    },
    Fixture {
        name: "d.npz",
        tensor: None,
    },
    Fixture {
        name: "w.safetensors",
        tensor: None,
    },
    Fixture {
        name: "init.safetensors",
        tensor: None,
    },
    Fixture {
        name: "data.csv",
        tensor: None,
    },
];

fn floats(shape: &[usize]) -> Value {
    let n: usize = shape.iter().product();
    let data = (0..n)
        .map(|i| ((i * 7919) % 97) as f32 / 97.0 - 0.5)
        .collect();
    Value::Float(ArrayD::from_shape_vec(IxDyn(shape), data).unwrap_or_default())
}

fn labels(n: usize) -> Value {
    Value::Int(ArrayD::from_shape_fn(IxDyn(&[n]), |i| (i[0] % 3) as i64))
}

fn bundle(items: Vec<(&str, Value)>) -> Value {
    Value::Bundle(
        items
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect::<BTreeMap<_, _>>(),
    )
}

/// Writes the data files into `dir`.
pub fn write_fixtures(dir: &Path) -> Result<(), String> {
    for f in FIXTURES {
        let value = match (f.name, f.tensor) {
            (_, Some(shape)) => floats(shape),
            ("labels.npy", _) => labels(4),
            ("d.npz", _) => bundle(vec![("x", floats(&[6, 4])), ("y", labels(6))]),
            ("data.csv", _) => bundle(vec![("x", floats(&[5, 3])), ("y", labels(5))]),
            _ => bundle(vec![
                ("0.weight", floats(&[3, 3])),
                ("0.bias", floats(&[3])),
            ]),
        };
        cnnscript::io::save_value(&dir.join(f.name), &value)
            .map_err(|e| format!("cannot write {}: {e}", f.name))?;
    }
    Ok(())
}

/// The repository's scripts, sorted by path (the same seeds every run).
pub fn seeds() -> Vec<(PathBuf, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut out = Vec::new();
    for dir in ["examples", "tests/scripts", "tests/conformance"] {
        if let Ok(files) = cnnscript::io::script_files(&[root.join(dir)]) {
            for path in files {
                if let Ok(text) = std::fs::read_to_string(&path) {
                    out.push((path, text));
                }
            }
        }
    }
    out.sort();
    out
}
