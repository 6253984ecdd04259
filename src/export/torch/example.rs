//! A concrete input for a model with symbolic sizes, for what PyTorch must
//! run once to see the model (tracing for `torch.onnx.export`, an `assert
//! shape` checked on a real output): the batch is 2 (1 is special-cased by
//! tracers), every other symbolic size 32 when the model checks with it
//! (sizes of 1 can be special-cased too), else the smallest from 1 up.

use std::collections::HashMap;

use crate::ir::check::check_model;
use crate::ir::model::Model;
use crate::ir::shape::Dim;
use crate::syntax::ast::{DimLit, ModelDecl};

/// The batch used for a symbolic batch size.
const BATCH: u64 = 2;
/// The size tried first for other symbolic sizes, and the largest tried.
const TYPICAL: u64 = 32;
const LARGEST: u64 = 1024;

/// A model's input in its rank-promoted shape, with every size a number,
/// and the output the checker infers for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Example {
    pub input: Vec<u64>,
    pub output: Vec<u64>,
}

/// An input the model accepts, or `None` when no size up to 1024 fits.
pub fn example(decl: &ModelDecl, ir: &Model) -> Option<Example> {
    let batch = match ir.input.dims().first() {
        Some(Dim::Sym(s)) if ir.input.rank() == ir.declared_input.rank() => Some(s.as_str()),
        _ => None,
    };
    let others = ir
        .input
        .dims()
        .iter()
        .any(|d| matches!(d, Dim::Sym(s) if Some(s.as_str()) != batch));
    // without other symbolic sizes one try settles it
    let last = if others { LARGEST } else { 0 };
    let sizes = std::iter::once(if others { TYPICAL } else { 1 }).chain(1..=last);
    sizes.into_iter().find_map(|size| {
        let sizes: HashMap<&str, u64> = ir
            .input
            .dims()
            .iter()
            .filter_map(|d| match d {
                Dim::Sym(s) if Some(s.as_str()) == batch => Some((s.as_str(), BATCH)),
                Dim::Sym(s) => Some((s.as_str(), size)),
                Dim::Known(_) => None,
            })
            .collect();
        let mut concrete = decl.clone();
        for d in &mut concrete.input.dims {
            if let DimLit::Sym(s) = d {
                *d = DimLit::Known(sizes.get(s.as_str()).copied().unwrap_or(size));
            }
        }
        let (model, notes) = check_model(&concrete).ok()?;
        if notes.iter().any(|n| !n.warning) {
            return None;
        }
        Some(Example {
            input: model.input.known()?,
            output: model.output().known()?,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::check::check_script;
    use crate::syntax::ast::StmtKind;
    use crate::syntax::parse::parse_script;

    fn of(text: &str) -> Option<Example> {
        let script = parse_script(text).expect("parses");
        let checked = check_script(&script);
        assert!(!checked.has_errors(), "{:?}", checked.diagnostics);
        let StmtKind::Model(decl) = &script.stmts[0].kind else {
            panic!("a model")
        };
        let model = checked.models().next().expect("checked");
        example(decl, model)
    }

    #[test]
    fn the_batch_is_two_and_other_sizes_the_smallest_that_fit() {
        let e = of("model m(x: Nx1x28x28) = conv(out=2, k=5) -> flatten").expect("fits");
        assert_eq!(e.input, [2, 1, 28, 28]);
        assert_eq!(e.output, [2, 2 * 24 * 24]);
        let e = of("model m(x: Nx3xHxW) = conv(out=2, k=3) -> conv(out=2, k=3) -> maxpool(k=2)")
            .expect("fits");
        assert_eq!(e.input, [2, 3, 32, 32]);
        assert_eq!(e.output, [2, 2, 14, 14]);
        // a flatten into a linear fixes the size: 2x2x7x7 is 98 features
        let e = of("model m(x: Nx2xSxS) = conv(out=2, k=2) -> flatten -> linear(in=98, out=1)")
            .expect("fits");
        assert_eq!(e.input, [2, 2, 8, 8]);
        // a promoted input has no batch of its own
        let e = of("model m(x: HxW) = conv(in=1, out=1, k=2)").expect("fits");
        assert_eq!(e.input, [1, 1, 32, 32]);
        let e = of("model m(x: 4x3) = linear(out=2)").expect("fits");
        assert_eq!((e.input, e.output), (vec![4, 3], vec![4, 2]));
    }
}
