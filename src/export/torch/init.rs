//! What init.safetensors holds: a model's initial tensors as the dry run
//! declared it, and every draw the dry run noted, named by where the script
//! drew it (`keys.rs`).

use std::collections::BTreeMap;

use ndarray::{ArrayD, IxDyn};

use super::keys::Keys;
use crate::run::draws::Draw;
use crate::run::error::{RunError, RunResult};
use crate::run::params::ModelState;
use crate::syntax::ast::Span;
use crate::value::Value;

/// A model's tensors under its key: `digits@11/0.weight`.
pub fn model_tensors(state: &ModelState, prefix: &str) -> Vec<(String, Value)> {
    state
        .state_dict()
        .into_iter()
        .map(|(name, value)| (format!("{prefix}/{name}"), value))
        .collect()
}

/// The recorded draws as named tensors for init.safetensors (a `train`
/// statement's epochs stacked into one `epochs x n` tensor).
pub fn draw_tensors(draws: &[(Span, Draw)], keys: &Keys) -> RunResult<Vec<(String, Value)>> {
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
            Draw::Uniform(t) => out.push((keys.draw("rand", *span), Value::Float(t.clone()))),
            Draw::Normal(t) => out.push((keys.draw("randn", *span), Value::Float(t.clone()))),
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
    use crate::run::dryrun::DryRun;
    use crate::syntax::parse::parse_script;

    #[test]
    fn draws_are_named_by_their_site_and_epochs_stacked() {
        let text = "seed 3
let X = randn(10x1x5x5)
let Y = [0, 1, 2, 0, 1, 2, 0, 1, 2, 0]
model a(x: Nx1x5x5) = conv(out=2, k=3) -> flatten -> linear(out=3)
let (u, v) = split(X, 0.7)
data X -> Y
train a sgd lr=0.1 epochs=3 batch=4 loss=xent
model b(x: Nx1xHxW) = conv(out=2, k=3) -> dropout -> gap -> flatten -> linear(out=3)
train b adam lr=0.01 epochs=2 batch=3 loss=xent
let R = rand(2x2)
";
        let script = parse_script(text).unwrap();
        let checked = check_script(&script);
        assert!(!checked.has_errors(), "{:?}", checked.diagnostics);
        let keys = Keys::new(&script, text);
        let mut dry = DryRun::new(std::path::Path::new("."), true);
        for (stmt, info) in script.stmts.iter().zip(&checked.stmts) {
            dry.exec(stmt, info).unwrap();
        }
        let names: Vec<String> = model_tensors(&dry.interp().models["b"], "b@8")
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        assert_eq!(names[0], "b@8/0.weight");
        assert!(names.contains(&"b@8/4.bias".to_string()), "{names:?}");
        let tensors = draw_tensors(dry.draws(), &keys).unwrap();
        let shapes: Vec<(String, String)> = tensors
            .iter()
            .map(|(k, v)| (k.clone(), v.dims_string()))
            .collect();
        let want = [
            ("randn@2", "10x1x5x5"),
            ("split@5.first", "7"),
            ("split@5.rest", "3"),
            ("rand@10", "2x2"),
            ("order@7", "3x10"),
            ("order@9", "2x10"),
        ];
        let want: Vec<(String, String)> = want
            .iter()
            .map(|(k, s)| (k.to_string(), s.to_string()))
            .collect();
        assert_eq!(shapes, want);
    }
}
