//! The dry run: a script's statements through the interpreter, drawing
//! exactly the random numbers a real run draws, in the same order, so the
//! generator ends where a real run leaves it, while printing nothing,
//! writing no file and training nothing. It is how the exporters learn what
//! a script draws without running it: `cnnscript export --onnx` takes a
//! model's initial weights from it ([`initial_state`]), `--torch` records
//! every draw for init.safetensors ([`DryRun::new`] with `record`).
//!
//! Per statement: what decides the draws runs for real (`let`, assignments,
//! `m.0.weight = K`, `seed`, `model`, `data`); `train` only draws (each epoch's shuffle and
//! every step's dropout masks, by the dropout kernel itself on scratch
//! buffers), the weights staying as they were; `print`, `save` and `show`
//! evaluate their expression only when it draws; `export` checks that ONNX
//! can say the model, as a run would fail there, and writes nothing; `load`,
//! `eval`, `plot`, `shape`, `summary` and `assert` draw nothing and are
//! skipped.
//!
//! Not reproduced: a draw whose size depends on trained values, or on a file
//! the script writes and then reads back (the dry run trains and writes
//! nothing).

use std::path::Path;

use super::draws::{shuffle, Draw, DrawLog};
use super::error::{RunError, RunResult};
use super::params::ModelState;
use super::train::{default_loss, plan, Schedule, TrainPlan};
use super::{input_shape, Interp};
use crate::ir::builtins::{self, Function};
use crate::ir::check::{Checked, StmtInfo};
use crate::layers::LayerKind;
use crate::syntax::ast::{Expr, ExprKind, Ident, KeyValue, Script, Span, Stmt, StmtKind};
use crate::syntax::visit;

/// A script's statements run dry, one at a time.
pub struct DryRun {
    interp: Interp,
}

impl DryRun {
    /// A dry run reading files relative to `base_dir`; with `record`, every
    /// draw is noted (see [`DryRun::draws`]).
    pub fn new(base_dir: &Path, record: bool) -> DryRun {
        let mut interp = Interp::new();
        interp.base_dir = base_dir.to_path_buf();
        interp.progress = false;
        interp.draws = record.then(Vec::new);
        DryRun { interp }
    }

    /// The interpreter's state: what each name holds before the next statement.
    pub fn interp(&self) -> &Interp {
        &self.interp
    }

    /// The draws noted so far, in order (none unless recording).
    pub fn draws(&self) -> &DrawLog {
        static NONE: DrawLog = Vec::new();
        self.interp.draws.as_ref().unwrap_or(&NONE)
    }

    /// The interpreter after the statements run so far.
    pub fn into_interp(self) -> Interp {
        self.interp
    }

    /// Run one checked statement dry (see the module doc).
    pub fn exec(&mut self, stmt: &Stmt, info: &StmtInfo) -> RunResult<()> {
        let interp = &mut self.interp;
        match &stmt.kind {
            StmtKind::Let { .. }
            | StmtKind::LetTuple { .. }
            | StmtKind::Assign { .. }
            | StmtKind::SetParam { .. }
            | StmtKind::Seed { .. }
            | StmtKind::Model(_)
            | StmtKind::Data { .. } => interp.exec_stmt(stmt, info, &mut std::io::sink()),
            StmtKind::Print(e)
            | StmtKind::Save { value: e, .. }
            | StmtKind::Show { value: e, .. } => {
                if draws(e) {
                    interp.eval_any(e)?;
                }
                Ok(())
            }
            StmtKind::Train {
                model,
                optimizer,
                options,
            } => {
                let name = interp.model_for(model.as_ref(), stmt.span, true)?;
                self.train(&name, optimizer, options, stmt.span)
            }
            StmtKind::Export { model, .. } => {
                let state = interp.models.get(&model.name).ok_or_else(|| {
                    RunError::new(
                        format!("unknown model `{}`", model.name),
                        model.span,
                        "not a model",
                    )
                })?;
                super::export::onnx_bytes(state, Some(stmt.span)).map(drop)
            }
            StmtKind::LoadModel { .. }
            | StmtKind::Eval { .. }
            | StmtKind::Plot { .. }
            | StmtKind::Shape { .. }
            | StmtKind::Summary { .. }
            | StmtKind::Assert { .. } => Ok(()),
        }
    }

    /// `train` without the arithmetic: the same plan, the same shuffles and,
    /// for dropout layers, the same masks drawn; the weights do not change.
    /// A model whose dropout input has a symbolic size other than the batch
    /// trains for real instead (the mask sizes depend on the data's).
    fn train(
        &mut self,
        name: &str,
        optimizer: &Ident,
        options: &[KeyValue],
        span: Span,
    ) -> RunResult<()> {
        let interp = &mut self.interp;
        let data = interp.train_data.as_ref().ok_or_else(|| {
            RunError::new("no training data", span, "needs data")
                .help("declare it first: `data X -> Y`")
        })?;
        // every field named: a new option that draws must be reproduced here
        let TrainPlan {
            schedule,
            optimizer: _,
            loss: _,
            log: _,
            // resuming reads a file: the dry run draws as a fresh start does
            checkpoints: _,
            header: _,
        } = plan(optimizer, options, default_loss(data))?;
        let ir = &interp.models[name].ir;
        let shape = data.x.shape().ok_or_else(|| {
            RunError::new(
                "the training inputs are not a tensor",
                data.span,
                "not a tensor",
            )
        })?;
        let n = input_shape(ir, shape, data.span)?[0];
        // (drop probability, values per item) of each dropout layer, in forward order
        let dropouts: Option<Vec<(f32, usize)>> = ir
            .layers()
            .filter_map(|(_, layer)| match layer.kind {
                LayerKind::Dropout { p } if p > 0.0 => Some((p, &layer.in_shape)),
                _ => None,
            })
            .map(|(p, shape)| Some((p as f32, shape.per_item()? as usize)))
            .collect();
        let Some(dropouts) = dropouts else {
            return interp.train(name, optimizer, options, span, &mut std::io::sink());
        };
        let largest = dropouts.iter().map(|d| d.1).max().unwrap_or(0);
        crate::io::check_alloc(
            3u64.saturating_mul(n.saturating_mul(largest) as u64),
            "dropout masks for training",
        )
        .map_err(|e| RunError::io(&e, span))?;
        let mut scratch = Scratch::default();
        let mut masks = |interp: &mut Interp, batch: usize| {
            for &(p, per) in &dropouts {
                scratch.dropout(interp, p, batch * per);
            }
        };
        match schedule {
            Schedule::Steps(steps) => (0..steps).for_each(|_| masks(interp, n)),
            Schedule::Epochs { epochs, batch } => {
                let batch = batch.min(n).max(1);
                let mut order: Vec<usize> = (0..n).collect();
                for _ in 0..epochs {
                    shuffle(&mut interp.rng, &mut order);
                    interp.note_draw(span, || Draw::Order(order.clone()));
                    for chunk in order.chunks(batch) {
                        masks(interp, chunk.len());
                    }
                }
            }
        }
        Ok(())
    }
}

/// Buffers for drawing dropout masks.
#[derive(Default)]
struct Scratch {
    x: Vec<f32>,
    y: Vec<f32>,
    mask: Vec<f32>,
}

impl Scratch {
    fn dropout(&mut self, interp: &mut Interp, p: f32, len: usize) {
        for v in [&mut self.x, &mut self.y, &mut self.mask] {
            v.resize(len, 0.0);
        }
        crate::ops::activation::dropout_forward(
            &self.x,
            &mut self.y,
            &mut self.mask,
            p,
            &mut interp.rng,
        );
    }
}

/// The model declared by statement `decl` of a checked script, with the
/// weights `run` gives it right after its declaration; relative file names
/// are taken from `base_dir`. When nothing between the last `seed` and the
/// declaration draws, only `seed`s and models are run (no data is read);
/// otherwise everything before it, dry.
pub fn initial_state(
    script: &Script,
    checked: &Checked,
    decl: usize,
    base_dir: &Path,
) -> RunResult<ModelState> {
    let stmts = &script.stmts[..=decl.min(script.stmts.len().saturating_sub(1))];
    let Some(StmtKind::Model(model)) = stmts.last().map(|s| &s.kind) else {
        return Err(RunError::new(
            "no model is declared here",
            stmts.last().map(|s| s.span).unwrap_or_default(),
            "not a model",
        ));
    };
    let after_seed = stmts
        .iter()
        .rposition(|s| matches!(s.kind, StmtKind::Seed { .. }))
        .map_or(0, |i| i + 1);
    let drawing = stmts[after_seed..stmts.len() - 1]
        .iter()
        .any(|s| !matches!(s.kind, StmtKind::Model(_)) && stmt_draws(&s.kind));
    let mut dry = DryRun::new(base_dir, false);
    for (stmt, info) in stmts.iter().zip(&checked.stmts) {
        if drawing || matches!(stmt.kind, StmtKind::Seed { .. } | StmtKind::Model(_)) {
            dry.exec(stmt, info)?;
        }
    }
    dry.interp
        .models
        .remove(&model.name.name)
        .ok_or_else(|| RunError::new("this model did not check", model.name.span, "unchecked"))
}

/// Whether running a statement may draw from the random generator.
pub fn stmt_draws(kind: &StmtKind) -> bool {
    matches!(kind, StmtKind::Model(_) | StmtKind::Train { .. })
        || visit::stmt_exprs(kind).into_iter().any(draws)
}

/// Whether evaluating `e` draws from the random generator.
pub fn draws(e: &Expr) -> bool {
    visit::any(e, &|x| drawing_call(x).is_some())
}

/// The builtin when `e` calls one that draws (`rand`, `randn`, `split`).
pub fn drawing_call(e: &Expr) -> Option<Function> {
    let ExprKind::Call { callee, .. } = &e.kind else {
        return None;
    };
    let ExprKind::Name(id) = &callee.kind else {
        return None;
    };
    builtins::function(&id.name)
        .map(|(_, f)| f)
        .filter(|f| random(*f))
}

/// Whether a builtin draws from the script's generator.
fn random(f: Function) -> bool {
    match f {
        Function::Rand | Function::Randn | Function::Split => true,
        Function::Ones
        | Function::Zeros
        | Function::Full
        | Function::Arange
        | Function::Load
        | Function::Corr2d
        | Function::Matmul
        | Function::Cat
        | Function::Stack
        | Function::Layer
        | Function::Conv2d
        | Function::Linear => false,
    }
}

#[cfg(test)]
mod tests;
