//! The helper functions of train.py (helpers.py, one section per helper):
//! which a script needs, their names, and the imports they bring.

use std::collections::BTreeSet;

const HELPERS: &str = include_str!("helpers.py");

/// One helper section.
struct Section {
    name: &'static str,
    deps: Vec<&'static str>,
    imports: Vec<&'static str>,
    body: &'static str,
}

fn sections() -> Vec<Section> {
    HELPERS
        .split("\n# @helper ")
        .skip(1)
        .map(|chunk| {
            let (head, body) = chunk.split_once('\n').unwrap_or((chunk, ""));
            let (name, tail) = head.split_once(':').unwrap_or((head, ""));
            let (deps, imports) = tail.split_once(';').unwrap_or((tail, ""));
            Section {
                name: name.trim(),
                deps: deps.split([',', ' ']).filter(|s| !s.is_empty()).collect(),
                imports: imports.split_whitespace().collect(),
                body: body.trim(),
            }
        })
        .collect()
}

/// Every top-level name the helpers define (functions and globals): script
/// names are kept clear of them.
pub fn defined_names() -> Vec<&'static str> {
    HELPERS
        .lines()
        .filter_map(|l| {
            let l = l.strip_prefix("def ").or_else(|| {
                let (name, _) = l.split_once(" = ")?;
                (!name.starts_with([' ', '#'])).then_some(name)
            })?;
            Some(l.split('(').next().unwrap_or(l))
        })
        .collect()
}

/// Import lines by key, in the order they are written.
const IMPORTS: &[(&str, &str)] = &[
    ("argparse", "import argparse"),
    ("csv", "import csv"),
    ("inspect", "import inspect"),
    ("math", "import math"),
    ("os", "import os"),
    ("sys", "import sys"),
    ("time", "import time"),
    ("warnings", "import warnings"),
    ("", ""),
    ("np", "import numpy as np"),
    ("torch", "import torch"),
    ("dist", "import torch.distributed as dist"),
    ("nn", "import torch.nn as nn"),
    ("F", "import torch.nn.functional as F"),
    (
        "DDP",
        "from torch.nn.parallel import DistributedDataParallel as DDP",
    ),
];

/// The module names the imports bind.
pub const MODULE_NAMES: &[&str] = &[
    "argparse",
    "csv",
    "inspect",
    "math",
    "os",
    "sys",
    "time",
    "warnings",
    "np",
    "torch",
    "dist",
    "nn",
    "F",
    "DDP",
    "load_file",
    "save_file",
];

/// The helpers a script uses (with what they use): their code, in
/// helpers.py's order, and the imports they need.
pub fn select(used: &BTreeSet<&str>) -> (String, String) {
    let all = sections();
    let mut want: BTreeSet<&str> = used.iter().copied().collect();
    want.insert("setup");
    loop {
        let more: Vec<&str> = all
            .iter()
            .filter(|s| want.contains(s.name))
            .flat_map(|s| s.deps.iter().copied())
            .filter(|d| !want.contains(d))
            .collect();
        if more.is_empty() {
            break;
        }
        want.extend(more);
    }
    let chosen: Vec<&Section> = all.iter().filter(|s| want.contains(s.name)).collect();
    let keys: BTreeSet<&str> = chosen
        .iter()
        .flat_map(|s| s.imports.iter().copied())
        .collect();
    let mut imports = Vec::new();
    for (key, line) in IMPORTS {
        if key.is_empty() {
            imports.push(String::new());
        } else if keys.contains(key) {
            imports.push(line.to_string());
        }
    }
    let files = match (keys.contains("load_file"), keys.contains("save_file")) {
        (_, true) => "from safetensors.torch import load_file, save_file",
        _ => "from safetensors.torch import load_file",
    };
    imports.push(files.to_string());
    let code = chosen
        .iter()
        .map(|s| s.body)
        .filter(|body| !body.is_empty())
        .collect::<Vec<_>>()
        .join("\n\n\n");
    (imports.join("\n"), code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_parse_with_their_dependencies() {
        let all = sections();
        let names: Vec<&str> = all.iter().map(|s| s.name).collect();
        assert_eq!(names[0], "setup");
        assert!(names.contains(&"train") && names.contains(&"evaluate"));
        let split = all.iter().find(|s| s.name == "split").unwrap();
        assert_eq!(split.deps, vec!["drawn", "rows"]);
        assert!(split.body.starts_with("def split("), "{}", split.body);
        assert!(all.iter().all(|s| !s.body.contains("# @helper")));
        for s in &all {
            for d in &s.deps {
                assert!(names.contains(d), "{} needs unknown {d}", s.name);
            }
        }
    }

    #[test]
    fn selection_follows_dependencies_and_imports() {
        let (imports, code) = select(&BTreeSet::from(["split"]));
        assert!(code.contains("def split(") && code.contains("def drawn("));
        assert!(code.contains("def rows(") && !code.contains("def train_steps("));
        assert!(imports.contains("import argparse") && !imports.contains("import math"));
        assert!(imports.ends_with("from safetensors.torch import load_file"));
        let (imports, _) = select(&BTreeSet::from(["save", "evaluate"]));
        assert!(imports.contains("import math") && imports.contains("save_file"));
    }

    /// Every helper a section calls is in the section or among its dependencies.
    #[test]
    fn sections_name_what_they_call() {
        let all = sections();
        let defines = |s: &Section| -> Vec<String> {
            s.body
                .lines()
                .filter_map(|l| l.strip_prefix("def "))
                .filter_map(|l| l.split('(').next())
                .map(str::to_string)
                .collect()
        };
        for s in &all {
            let mut reach: Vec<&str> = vec![s.name];
            let mut i = 0;
            while i < reach.len() {
                let deps = &all.iter().find(|x| x.name == reach[i]).unwrap().deps;
                for d in deps {
                    if !reach.contains(d) {
                        reach.push(d);
                    }
                }
                i += 1;
            }
            reach.push("setup");
            for other in &all {
                for f in defines(other) {
                    let called = s.body.contains(&format!(" {f}("))
                        || s.body.contains(&format!("({f}("))
                        || s.body.contains(&format!("={f}("));
                    assert!(
                        !called || reach.contains(&other.name),
                        "{} calls {f} from {} without depending on it",
                        s.name,
                        other.name
                    );
                }
            }
        }
    }

    #[test]
    fn defined_names_are_found() {
        let names = defined_names();
        for n in [
            "setup",
            "WORLD",
            "INIT",
            "train_epochs",
            "measure",
            "load_csv",
        ] {
            assert!(names.contains(&n), "{n} in {names:?}");
        }
        assert!(!names.contains(&"global"));
    }
}
