//! The export's dry run: the script's statements run through the interpreter
//! so that every random draw comes from cnnscript's own code (ChaCha8, the
//! seeded init, `split`, the epoch shuffles), and is recorded for
//! init.safetensors. What decides the draws runs for real (`let`, `model`,
//! `seed`, `data`); `train` only draws (its shuffles and dropout masks,
//! without the arithmetic); nothing is printed or written.

use std::collections::BTreeMap;

use ndarray::{ArrayD, IxDyn};

use super::keys::{self, Keys};
use crate::ir::check::StmtInfo;
use crate::layers::LayerKind;
use crate::run::draws::{shuffle, Draw};
use crate::run::error::{RunError, RunResult};
use crate::run::train::{plan, Loss, Schedule};
use crate::run::Interp;
use crate::syntax::ast::{Ident, KeyValue, Span, Stmt, StmtKind};
use crate::value::Value;

/// Execute one statement the way the export needs it (see the module doc);
/// a model's initial tensors are added to `init`.
pub fn exec(
    interp: &mut Interp,
    stmt: &Stmt,
    info: &StmtInfo,
    keys: &Keys,
    init: &mut Vec<(String, Value)>,
) -> RunResult<()> {
    let mut sink = std::io::sink();
    match &stmt.kind {
        StmtKind::Let { .. }
        | StmtKind::LetTuple { .. }
        | StmtKind::Assign { .. }
        | StmtKind::Seed { .. }
        | StmtKind::Data { .. } => interp.exec_stmt(stmt, info, &mut sink)?,
        StmtKind::Model(decl) => {
            interp.exec_stmt(stmt, info, &mut sink)?;
            if let Some(m) = interp.models.get(&decl.name.name) {
                let prefix = keys.model(&decl.name.name, stmt.span);
                for (name, value) in m.state_dict() {
                    init.push((format!("{prefix}/{name}"), value));
                }
            }
        }
        StmtKind::Print(e) | StmtKind::Save { value: e, .. } | StmtKind::Show { value: e, .. } => {
            if keys::draws(e) {
                interp.eval_any(e)?;
            }
        }
        StmtKind::Train {
            model,
            optimizer,
            options,
        } => dry_train(interp, model.as_ref(), optimizer, options, stmt.span)?,
        StmtKind::LoadModel { .. }
        | StmtKind::Shape { .. }
        | StmtKind::Summary { .. }
        | StmtKind::Eval { .. }
        | StmtKind::Plot { .. }
        | StmtKind::Export { .. }
        | StmtKind::Assert { .. } => {}
    }
    Ok(())
}

/// The model a `train`/`eval` statement means: the named one, or the last declared.
pub fn target_model(interp: &Interp, named: Option<&Ident>, span: Span) -> RunResult<String> {
    match named {
        Some(m) if interp.models.contains_key(&m.name) => Ok(m.name.clone()),
        Some(m) => Err(RunError::new(
            format!("unknown model `{}`", m.name),
            m.span,
            "not a model",
        )),
        None => interp
            .model_order
            .last()
            .cloned()
            .ok_or_else(|| RunError::new("no model is declared", span, "needs a model")),
    }
}

/// The loss `train` uses when `loss=` is not given: xent for integer labels.
pub fn default_loss(interp: &Interp) -> Loss {
    match interp.train_data.as_ref().map(|d| &d.y) {
        Some(Value::Int(_)) => Loss::Xent,
        _ => Loss::Mse,
    }
}

/// `train` without the arithmetic: the same plan, the same shuffles and, for
/// dropout layers, the same masks drawn (by the dropout kernel itself, on
/// scratch buffers); the weights do not change. A model whose dropout input
/// has a symbolic size other than the batch trains for real instead.
fn dry_train(
    interp: &mut Interp,
    named: Option<&Ident>,
    optimizer: &Ident,
    options: &[KeyValue],
    span: Span,
) -> RunResult<()> {
    let name = target_model(interp, named, span)?;
    let data = interp.train_data.clone().ok_or_else(|| {
        RunError::new("no training data", span, "needs data")
            .help("declare it first: `data X -> Y`")
    })?;
    let plan = plan(optimizer, options, default_loss(interp))?;
    let x = data.x.into_float().ok_or_else(|| {
        RunError::new(
            "the training inputs are not a tensor",
            data.span,
            "not a tensor",
        )
    })?;
    let n = interp.conform_input(&name, x, data.span)?.shape()[0];
    // (drop probability, values per item) of each dropout layer, in forward order
    let dropouts: Option<Vec<(f32, usize)>> = interp.models[&name]
        .ir
        .layers()
        .filter_map(|(_, layer)| match layer.kind {
            LayerKind::Dropout { p } if p > 0.0 => Some((p, &layer.in_shape)),
            _ => None,
        })
        .map(|(p, shape)| Some((p as f32, shape.per_item()? as usize)))
        .collect();
    let Some(dropouts) = dropouts else {
        return interp.train(&name, optimizer, options, span, &mut std::io::sink());
    };
    let largest = dropouts.iter().map(|d| d.1).max().unwrap_or(0);
    crate::io::check_alloc(
        3u64.saturating_mul((n * largest) as u64),
        "dropout masks for training",
    )
    .map_err(|e| RunError::io(&e, span))?;
    let mut scratch = Scratch::default();
    let mut draw_masks = |interp: &mut Interp, batch: usize| {
        for &(p, per) in &dropouts {
            scratch.dropout(interp, p, batch * per);
        }
    };
    match plan.schedule {
        Schedule::Steps(steps) => (0..steps).for_each(|_| draw_masks(interp, n)),
        Schedule::Epochs { epochs, batch } => {
            let batch = batch.min(n).max(1);
            let mut order: Vec<usize> = (0..n).collect();
            for _ in 0..epochs {
                shuffle(&mut interp.rng, &mut order);
                interp.note_draw(span, || Draw::Order(order.clone()));
                for chunk in order.chunks(batch) {
                    draw_masks(interp, chunk.len());
                }
            }
        }
    }
    Ok(())
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

/// The recorded draws as named tensors for init.safetensors (a `train`
/// statement's epochs stacked into one `epochs x n` tensor).
pub fn draw_tensors(
    draws: &[(Span, Draw)],
    text: &str,
    keys: &Keys,
) -> RunResult<Vec<(String, Value)>> {
    let mut out = Vec::new();
    let mut orders: BTreeMap<usize, (Span, Vec<Vec<usize>>)> = BTreeMap::new();
    let int = |v: &[usize], shape: &[usize]| -> Value {
        let data = v.iter().map(|&i| i as i64).collect();
        Value::Int(
            ArrayD::from_shape_vec(IxDyn(shape), data)
                .unwrap_or_else(|_| ArrayD::zeros(IxDyn(&[0]))),
        )
    };
    for (span, draw) in draws {
        match draw {
            Draw::Tensor(t) => {
                let call = text.get(span.start..span.end).unwrap_or("");
                let kind = if call.starts_with("randn") {
                    "randn"
                } else {
                    "rand"
                };
                out.push((keys.draw(kind, *span), Value::Float(t.clone())));
            }
            Draw::Split { first, rest } => {
                let key = keys.draw("split", *span);
                out.push((format!("{key}.first"), int(first, &[first.len()])));
                out.push((format!("{key}.rest"), int(rest, &[rest.len()])));
            }
            Draw::Order(order) => orders
                .entry(span.start)
                .or_insert_with(|| (*span, Vec::new()))
                .1
                .push(order.clone()),
        }
    }
    for (span, epochs) in orders.into_values() {
        let n = epochs.first().map_or(0, Vec::len);
        let flat: Vec<usize> = epochs.concat();
        crate::io::check_alloc(flat.len() as u64, "the epoch orders")
            .map_err(|e| RunError::io(&e, span))?;
        out.push((keys.order(span), int(&flat, &[epochs.len(), n])));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::check::check_script;
    use crate::syntax::parse::parse_script;

    /// The dry run draws exactly what a real run draws, in the same order,
    /// and leaves the generator in the same state: shuffles, dropout masks
    /// (known sizes and symbolic ones), splits and later draws.
    #[test]
    fn the_dry_run_draws_what_the_real_run_draws() {
        let text = "seed 3
let X = randn(10x1x5x5)
let Y = [0, 1, 2, 0, 1, 2, 0, 1, 2, 0]
model a(x: Nx1x5x5) = conv(out=2, k=3) -> dropout(p=0.3) -> flatten -> linear(out=3) -> dropout(p=0.2)
let (u, v) = split(X, 0.7)
data X -> Y
train a sgd lr=0.1 epochs=3 batch=4 loss=xent
train a sgd lr=0.1 steps=2 loss=xent
model b(x: Nx1xHxW) = conv(out=2, k=3) -> dropout -> gap -> flatten -> linear(out=3)
train b adam lr=0.01 epochs=2 batch=3 loss=xent
let R = rand(2x2)
";
        let script = parse_script(text).unwrap();
        let checked = check_script(&script);
        assert!(!checked.has_errors(), "{:?}", checked.diagnostics);
        let keys = Keys::new(&script, text);
        let (mut real, mut dry) = (Interp::new(), Interp::new());
        real.draws = Some(Vec::new());
        dry.draws = Some(Vec::new());
        let mut init = Vec::new();
        for (stmt, info) in script.stmts.iter().zip(&checked.stmts) {
            real.exec_stmt(stmt, info, &mut std::io::sink()).unwrap();
            exec(&mut dry, stmt, info, &keys, &mut init).unwrap();
        }
        let orders = |i: &Interp| {
            i.draws
                .as_ref()
                .unwrap()
                .iter()
                .filter(|(_, d)| matches!(d, Draw::Order(_)))
                .count()
        };
        assert_eq!(orders(&real), 5, "3 + 2 epochs");
        assert_eq!(real.draws, dry.draws);
        assert_eq!(real.rng, dry.rng);
        let names: Vec<&str> = init.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(names[0], "a@4/0.weight");
        assert!(names.contains(&"b@9/4.bias"), "{names:?}");
        let tensors = draw_tensors(dry.draws.as_ref().unwrap(), text, &keys).unwrap();
        let shapes: Vec<(String, String)> = tensors
            .iter()
            .map(|(k, v)| (k.clone(), v.dims_string()))
            .collect();
        let want = [
            ("randn@2", "10x1x5x5"),
            ("split@5.first", "7"),
            ("split@5.rest", "3"),
            ("rand@11", "2x2"),
            ("order@7", "3x10"),
            ("order@10", "2x10"),
        ];
        let want: Vec<(String, String)> = want
            .iter()
            .map(|(k, s)| (k.to_string(), s.to_string()))
            .collect();
        assert_eq!(shapes, want);
    }
}
