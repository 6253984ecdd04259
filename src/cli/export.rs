//! `cnnscript export FILE --onnx OUT [--model M] [--weights W]`: a model as
//! ONNX without running the script.

use std::path::{Path, PathBuf};

use super::{front_end, read_source, Output, Source, EXIT_SCRIPT, EXIT_USAGE};
use crate::diag::{render, Style};
use crate::ir::model::Model;
use crate::run::error::RunError;
use crate::run::params::ModelState;

/// What to export as ONNX.
#[derive(Clone, Debug, Default)]
pub struct OnnxRequest {
    /// The file to write.
    pub out: PathBuf,
    /// The model (default: the script's only one).
    pub model: Option<String>,
    /// A state dict (`.safetensors`/`.npz`) loaded strictly, as `load`; else
    /// the seeded initial weights `run` gives the model.
    pub weights: Option<PathBuf>,
}

/// `cnnscript export FILE --onnx OUT ...`
pub fn onnx(path: &Path, req: &OnnxRequest) -> u8 {
    match read_source(path) {
        Ok(src) => {
            let out = onnx_source(&src, req, Style::for_stderr());
            eprint!("{}", out.stderr);
            print!("{}", out.stdout);
            out.code
        }
        Err(code) => code,
    }
}

/// Export from a script's text: check it (diagnostics as `check` prints
/// them), pick the model, get its weights, write the file atomically.
pub fn onnx_source(src: &Source, req: &OnnxRequest, style: Style) -> Output {
    let mut out = Output::default();
    let Some((script, checked)) = front_end(src, style, &mut out.stderr) else {
        out.code = EXIT_SCRIPT;
        return out;
    };
    let decls: Vec<(usize, &Model)> = checked
        .stmts
        .iter()
        .enumerate()
        .filter_map(|(i, s)| s.model.as_ref().map(|m| (i, m)))
        .collect();
    let mut names: Vec<&str> = Vec::new();
    for (_, m) in &decls {
        if !names.contains(&m.name.as_str()) {
            names.push(&m.name);
        }
    }
    let name = match (&req.model, names.as_slice()) {
        (Some(m), _) if names.contains(&m.as_str()) => m.as_str(),
        (_, []) => {
            out.stderr += &format!("error: {} declares no model to export\n", src.name);
            out.code = EXIT_SCRIPT;
            return out;
        }
        (Some(m), _) => {
            out.stderr += &format!(
                "error: {} has no model `{m}`; its models are: {}\n",
                src.name,
                names.join(", ")
            );
            out.code = EXIT_USAGE;
            return out;
        }
        (None, [only]) => only,
        (None, several) => {
            out.stderr += &format!(
                "error: {} declares several models ({}); choose one with --model\n",
                src.name,
                several.join(", ")
            );
            out.code = EXIT_USAGE;
            return out;
        }
    };
    let Some(&(decl, model)) = decls.iter().rev().find(|(_, m)| m.name == name) else {
        out.code = EXIT_SCRIPT;
        return out;
    };
    let shown = |e: &dyn miette::Diagnostic| render(e, &src.name, &src.text, style);
    let written = weights(src, req, &script, &checked, decl, model, style)
        .and_then(|state| crate::run::export::onnx_bytes(&state, None).map_err(|e| shown(&e)))
        .and_then(|bytes| crate::export::onnx::write(&req.out, &bytes).map_err(|e| shown(&e)));
    match written {
        Ok(()) => out.stdout = format!("exported `{name}` to {}\n", req.out.display()),
        Err(text) => {
            out.stderr += &text;
            out.code = EXIT_SCRIPT;
        }
    }
    out
}

/// The model's weights: loaded from `--weights`, else as `run` draws them.
/// An error comes back rendered.
fn weights(
    src: &Source,
    req: &OnnxRequest,
    script: &crate::syntax::ast::Script,
    checked: &crate::ir::check::Checked,
    decl: usize,
    model: &Model,
    style: Style,
) -> Result<ModelState, String> {
    let shown = |e: &dyn miette::Diagnostic| render(e, &src.name, &src.text, style);
    let at = model.span;
    let Some(file) = &req.weights else {
        let base = Path::new(&src.name)
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        return crate::run::dryrun::initial_state(script, checked, decl, base)
            .map_err(|e| shown(&e));
    };
    crate::io::check_alloc_bytes(
        model.total_params().saturating_mul(4),
        &format!("the parameters of `{}`", model.name),
    )
    .map_err(|e| shown(&e))?;
    let entries = crate::io::load_state_dict(file).map_err(|e| shown(&e))?;
    let mut rng = <rand_chacha::ChaCha8Rng as rand::SeedableRng>::seed_from_u64(0);
    let mut state = ModelState::new(model.clone(), &mut rng);
    state.load_state_dict(entries).map_err(|(msg, help)| {
        shown(
            &RunError::new(
                format!("{}: {msg}", file.display()),
                at,
                "does not fit this model",
            )
            .help(help),
        )
    })?;
    Ok(state)
}

/// `cnnscript export FILE --torch DIR [--force]`
pub fn torch(path: &Path, dir: &Path, force: bool) -> u8 {
    super::emit(&crate::export::torch::export(
        path,
        dir,
        force,
        Style::for_stderr(),
    ))
}
