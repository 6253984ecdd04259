//! `assert shape|params|rf MODEL == value`: compared with what inference
//! found, without running anything. A false assertion names both values.

use super::check::{require_model, Scope};
use super::error::CheckError;
use super::model::{Model, Node};
use super::shape::{Dim, Shape};
use crate::syntax::ast::{AssertWhat, DimLit, Dims, Ident};

/// Check one `assert` statement against the models in scope.
pub fn check_assert(
    scope: &Scope,
    what: AssertWhat,
    name: &Ident,
    value: &Dims,
    errs: &mut Vec<CheckError>,
) {
    let Some(model) = scope.models.get(&name.name) else {
        require_model(scope, name, errs);
        return;
    };
    let (actual, matches) = match what {
        AssertWhat::Shape => {
            let out = model.output();
            (out.to_string(), same_shape(out, &value.dims))
        }
        AssertWhat::Params => {
            let Some(n) = whole_number(value) else {
                errs.push(bad_value(what, value, "a whole number such as 61706"));
                return;
            };
            let params = model.total_params();
            (params.to_string(), params == n)
        }
        AssertWhat::Rf => {
            let Some(pair) = rf_pair(value) else {
                errs.push(bad_value(what, value, "a size such as 32 or 32x32"));
                return;
            };
            let rf = model_rf(model);
            (format!("{}x{}", rf[0], rf[1]), rf == pair)
        }
    };
    if !matches {
        errs.push(failed(what, name, value, &actual));
    }
}

/// The receptive field (height, width) of one element of the model's output.
pub fn model_rf(model: &Model) -> [u64; 2] {
    model
        .nodes
        .last()
        .map(Node::out_rf)
        .map(|rf| rf.size)
        .unwrap_or([1, 1])
}

fn same_shape(shape: &Shape, dims: &[DimLit]) -> bool {
    shape.rank() == dims.len()
        && shape.0.iter().zip(dims).all(|(d, lit)| match (d, lit) {
            (Dim::Known(a), DimLit::Known(b)) => a == b,
            (Dim::Sym(a), DimLit::Sym(b)) => a == b,
            _ => false,
        })
}

fn whole_number(value: &Dims) -> Option<u64> {
    match value.dims.as_slice() {
        [DimLit::Known(n)] => Some(*n),
        _ => None,
    }
}

/// `32` (both dims) or `32x28` (height x width).
fn rf_pair(value: &Dims) -> Option<[u64; 2]> {
    match value.dims.as_slice() {
        [DimLit::Known(n)] => Some([*n, *n]),
        [DimLit::Known(h), DimLit::Known(w)] => Some([*h, *w]),
        _ => None,
    }
}

fn written(value: &Dims) -> String {
    value
        .dims
        .iter()
        .map(|d| d.to_string())
        .collect::<Vec<_>>()
        .join("x")
}

fn bad_value(what: AssertWhat, value: &Dims, expected: &str) -> CheckError {
    CheckError::bad_value(
        format!(
            "`assert {}` compares with {expected}, found {}",
            what.word(),
            written(value)
        ),
        value.span,
        "not a valid value here",
        format!("write `assert {} MODEL == {}`", what.word(), example(what)),
    )
}

fn example(what: AssertWhat) -> &'static str {
    match what {
        AssertWhat::Shape => "Nx10",
        AssertWhat::Params => "61706",
        AssertWhat::Rf => "32x32",
    }
}

fn failed(what: AssertWhat, name: &Ident, value: &Dims, actual: &str) -> CheckError {
    let model = &name.name;
    let said = written(value);
    let fact = match what {
        AssertWhat::Shape => format!("the output is {actual}"),
        AssertWhat::Params => format!("the model has {actual} parameters"),
        AssertWhat::Rf => format!("the receptive field is {actual}"),
    };
    let word = what.word();
    CheckError::other(
        "assert",
        format!("assert {word} {model}: {fact}, the assertion says {said}"),
        value.span,
        &format!("{model} gives {actual}"),
        format!("if the model is right, write `assert {word} {model} == {actual}`"),
    )
    .fix(value.span, actual)
}
