//! `cnnscript export FILE --torch DIR`: the whole script as a PyTorch project.
//!
//! `model.py` holds one `nn.Module` per model (state-dict keys are
//! cnnscript's names), `train.py` the script's statements in order,
//! `init.safetensors` every number the script draws at random (recorded by
//! a dry run of the script through the interpreter, so both sides start
//! from the same numbers) and `README.md` the commands.

mod example;
mod expr;
mod init;
mod keys;
mod model;
mod py;
mod readme;
mod stmt;
mod support;
mod write;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::cli::{front_end, Output};
use crate::diag::{render, Style};
use crate::run::dryrun::DryRun;
use crate::session::{Source, EXIT_SCRIPT, EXIT_USAGE};
use crate::syntax::ast::StmtKind;
use crate::value::Value;
use keys::Keys;
use model::ModelClass;
use py::{Code, Names};
use stmt::{Declared, Translator};

pub use write::write_project;

/// The generated project, in memory.
#[derive(Debug)]
pub struct Project {
    /// model.py: the models.
    pub model_py: String,
    /// train.py: the statements.
    pub train_py: String,
    /// README.md: the commands.
    pub readme: String,
    /// The tensors of init.safetensors: initial weights and random draws.
    pub init: Vec<(String, Value)>,
    /// The checker's warnings, rendered.
    pub warnings: String,
}

/// What the export needs to know besides the script.
pub struct Options<'a> {
    /// DIR as a user types it from the script's folder (for the commands
    /// the project documents).
    pub dir: &'a str,
    /// How diagnostics are rendered.
    pub style: Style,
}

/// Check, dry-run and translate a script. On errors: what `check` (or `run`)
/// prints on stderr.
pub fn generate(src: &Source, opts: &Options) -> Result<Project, String> {
    let mut stderr = String::new();
    let Some((script, checked)) = front_end(src, opts.style, &mut stderr) else {
        return Err(stderr);
    };
    let warnings = stderr;
    let fail = |e: &crate::run::error::RunError| {
        let text = render(e, &src.name, &src.text, opts.style);
        format!("{warnings}{text}")
    };
    let file = Path::new(&src.name)
        .file_name()
        .map_or_else(|| src.name.clone(), |f| f.to_string_lossy().into_owned());
    let keys = Keys::new(&script, &src.text);

    let mut models = Vec::new();
    let mut classes: HashMap<usize, Declared> = HashMap::new();
    let mut taken: Vec<String> = support::MODULE_NAMES
        .iter()
        .map(|s| s.to_string())
        .collect();
    for (stmt, info) in script.stmts.iter().zip(&checked.stmts) {
        if let (StmtKind::Model(decl), Some(ir)) = (&stmt.kind, &info.model) {
            // a model declared again is a class of its own: `M`, `M2`
            let base = py::camel(&ir.name);
            let mut class = base.clone();
            let mut k = 2;
            while taken.contains(&class) || py::is_keyword(&class) {
                class = format!("{base}{k}");
                k += 1;
            }
            taken.push(class.clone());
            let line = py::line_col(&src.text, stmt.span.start).0;
            let declared = Declared {
                class: class.clone(),
                decl,
            };
            classes.insert(stmt.span.start, declared);
            models.push(ModelClass { ir, class, line });
        }
    }
    let model_py = model::model_py(&file, &src.text, &models).map_err(|e| fail(&e))?;

    let mut reserved: Vec<&str> = support::defined_names();
    reserved.extend(support::MODULE_NAMES);
    reserved.extend(["main", "train_data", "test_data"]);
    // the helper classes of layers applied as functions (`ScriptConv2d`...)
    reserved.extend(crate::layers::TORCH_HELPER_CLASSES);
    reserved.extend(models.iter().map(|m| m.class.as_str()));
    let mut tr = Translator::new(&src.text, &file, &keys, Names::new(reserved), &classes);

    let mut dry = DryRun::new(&base_dir(&src.name), true);
    let mut init = Vec::new();
    for (stmt, info) in script.stmts.iter().zip(&checked.stmts) {
        tr.stmt(stmt, info, dry.interp()).map_err(|e| fail(&e))?;
        dry.exec(stmt, info).map_err(|e| fail(&e))?;
        if let StmtKind::Model(decl) = &stmt.kind {
            if let Some(state) = dry.interp().models.get(&decl.name.name) {
                let prefix = keys.model(&decl.name.name, stmt.span);
                init.extend(init::model_tensors(state, &prefix));
            }
        }
    }
    init.extend(init::draw_tensors(dry.draws(), &keys).map_err(|e| fail(&e))?);

    let uses_data = script.stmts.iter().any(|s| {
        matches!(
            s.kind,
            StmtKind::Data { .. } | StmtKind::Train { .. } | StmtKind::Eval { .. }
        )
    });
    let imports: Vec<&str> = models.iter().map(|m| m.class.as_str()).collect();
    let train_py = train_py(&file, opts.dir, tr, &imports, uses_data);
    let readme = readme::readme(&file, opts.dir, &models, &script);
    Ok(Project {
        model_py,
        train_py,
        readme,
        init,
        warnings,
    })
}

/// Relative file names in a script are taken from its folder.
fn base_dir(name: &str) -> PathBuf {
    match Path::new(name).parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Assemble train.py: docstring, imports, the helpers used, `main()`, the texts.
fn train_py(file: &str, dir: &str, tr: Translator, classes: &[&str], uses_data: bool) -> String {
    let (imports, helpers) = support::select(&tr.helpers);
    let mut c = Code::new();
    c.line(format!(
        "#!/usr/bin/env python3\n\"\"\"{file} in PyTorch: the script's statements in order.\n\n\
         Written by `cnnscript export --torch`. Run it from the script's folder, where the\n\
         files it reads and writes are (see README.md):\n\n    \
         python {dir}/train.py [--device cpu|cuda]\n    \
         torchrun --nproc_per_node=2 {dir}/train.py\n\"\"\""
    ));
    c.line(imports);
    if !classes.is_empty() {
        c.blank();
        c.line(format!("from model import {}", classes.join(", ")));
    }
    c.blank();
    c.blank();
    c.line("def main():");
    c.indent();
    c.line("setup()");
    if uses_data {
        c.line("train_data = test_data = None  # the pairs `data` declares");
    }
    c.line(tr.body.finish().trim_end());
    c.line("finish()");
    c.dedent();
    c.blank();
    c.blank();
    c.line("# ---- cnnscript's statements in PyTorch terms: the helpers main() calls");
    c.blank();
    c.line(helpers);
    for class in &tr.layer_classes {
        c.blank();
        c.blank();
        c.line(*class);
    }
    if !tr.texts.is_empty() {
        c.blank();
        c.blank();
        c.line("# What cnnscript prints for `summary` and `shape`, computed by its checker.");
        for (name, text) in &tr.texts {
            c.line(format!("{name} = {}", py::text_block(text)));
        }
    }
    c.blank();
    c.blank();
    c.line("if __name__ == \"__main__\":\n    main()");
    c.finish()
}

/// `cnnscript export FILE --torch DIR [--force]`: what it prints and its status.
pub fn export(path: &Path, dir: &Path, force: bool, style: Style) -> Output {
    let mut out = Output::default();
    let src = match crate::cli::read_source(path) {
        Ok(s) => s,
        Err(code) => {
            out.code = code;
            return out;
        }
    };
    if let Err(e) = write::check_target(dir, force) {
        out.stderr = format!("error: {e}\n");
        out.code = EXIT_USAGE;
        return out;
    }
    let shown = write::relative_to(&base_dir(&src.name), dir);
    let project = match generate(&src, &Options { dir: &shown, style }) {
        Ok(p) => p,
        Err(stderr) => {
            out.stderr = stderr;
            out.code = EXIT_SCRIPT;
            return out;
        }
    };
    out.stderr = project.warnings.clone();
    match write_project(&project, dir, force) {
        Ok(()) => {
            out.stdout = format!(
                "wrote {0}/model.py, {0}/train.py, {0}/init.safetensors, {0}/README.md\n",
                dir.display()
            );
        }
        Err(e) => {
            out.stderr.push_str(&format!("error: {e}\n"));
            out.code = EXIT_SCRIPT;
        }
    }
    out
}
