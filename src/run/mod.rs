//! The interpreter: its environment, statements, expressions, builtins,
//! the autograd tape, training and pictures.

pub mod apply;
pub mod builtins;
pub mod draws;
pub mod dryrun;
pub mod error;
pub mod eval;
pub mod export;
pub mod index;
pub mod infer;
pub mod layer_fn;
pub mod methods;
pub mod output;
pub mod params;
pub mod pictures;
pub mod stmt;
pub mod tape;
pub mod train;

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::diag::{render, Style};
use crate::ir::check::Checked;
use crate::session::{Source, EXIT_SCRIPT};
use crate::syntax::ast::{Script, Span};
use crate::value::Value;
use apply::params_bytes;
pub use apply::{activation_bytes, conform_input, input_shape};
pub use output::{Output, Progress};
use params::ModelState;
use tape::Tape;
use train::History;

/// A training or test pair declared with `data`.
#[derive(Clone, Debug)]
pub struct DataPair {
    pub x: Value,
    pub y: Value,
    pub span: Span,
}

/// The interpreter's state: tensors, models, data, the random generator.
pub struct Interp {
    pub tensors: HashMap<String, Value>,
    pub models: HashMap<String, ModelState>,
    /// Models in declaration order (the last is `train`'s default).
    pub model_order: Vec<String>,
    pub rng: ChaCha8Rng,
    pub train_data: Option<DataPair>,
    pub test_data: Option<DataPair>,
    /// Losses and accuracies of the last `train`, for `plot`.
    pub history: Option<History>,
    /// Relative file names are taken from here (the script's folder).
    pub base_dir: PathBuf,
    /// Draw progress bars (stdout is a terminal).
    pub progress: bool,
    /// When set, every random draw is noted here (for `export --torch`).
    pub draws: Option<draws::DrawLog>,
    tape: Tape,
    infer: infer::Inference,
}

impl Default for Interp {
    fn default() -> Self {
        Interp::new()
    }
}

impl Interp {
    /// A fresh interpreter: seed 0, files relative to the current folder.
    pub fn new() -> Interp {
        use std::io::IsTerminal;
        Interp {
            tensors: HashMap::new(),
            models: HashMap::new(),
            model_order: Vec::new(),
            rng: ChaCha8Rng::seed_from_u64(0),
            train_data: None,
            test_data: None,
            history: None,
            base_dir: PathBuf::from("."),
            progress: std::io::stdout().is_terminal(),
            draws: None,
            tape: Tape::new(),
            infer: infer::Inference::new(),
        }
    }

    /// Tensor names bound so far, sorted.
    pub fn tensor_names(&self) -> Vec<String> {
        let mut v: Vec<String> = self.tensors.keys().cloned().collect();
        v.sort();
        v
    }

    /// A path from a script, relative to the script's folder.
    pub fn path(&self, p: &str) -> PathBuf {
        let path = Path::new(p);
        if path.is_absolute() {
            path.to_path_buf()
        } else {
            self.base_dir.join(path)
        }
    }
}

/// Execute a checked script, printing results; returns the exit status (130
/// when Ctrl-C stopped it).
pub fn run_checked(src: &Source, script: &Script, checked: &Checked) -> u8 {
    let mut interp = Interp::new();
    if let Some(dir) = Path::new(&src.name).parent() {
        if !dir.as_os_str().is_empty() {
            interp.base_dir = dir.to_path_buf();
        }
    }
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for (stmt, info) in script.stmts.iter().zip(&checked.stmts) {
        if let Err(e) = interp.exec_stmt(stmt, info, &mut out) {
            let _ = out.flush();
            eprint!("{}", render(&e, &src.name, &src.text, Style::for_stderr()));
            return if e.interrupted {
                crate::interrupt::EXIT_INTERRUPTED
            } else {
                EXIT_SCRIPT
            };
        }
    }
    let _ = out.flush();
    0
}
