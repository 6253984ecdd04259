//! What a model and a loss accept: the shape rules of tensors fed to a model
//! (`m(X)`, the inputs of `data` for `train` and `eval`) and of training
//! targets. Written once: the checker applies them to the shapes it knows,
//! the interpreter to the tensors it has.

use super::model::Model;
use super::shape::{Dim, Shape};
use super::train_options::Loss;
use crate::value::shape_words;

/// A tensor a model or loss does not accept: the message, a label, a help line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FeedError {
    pub message: String,
    pub label: &'static str,
    pub help: Option<String>,
}

impl FeedError {
    fn new(message: String, label: &'static str, help: Option<String>) -> Self {
        FeedError {
            message,
            label,
            help,
        }
    }
}

/// The shape an input of shape `got` takes in `model`: rank 2/3 promoted to
/// 4 with leading 1s when the model is 4-D; only the batch (and symbolic
/// sizes) may differ from the model's type.
pub fn input_shape(model: &Model, got: &[usize]) -> Result<Vec<usize>, FeedError> {
    let want = &model.input;
    let mut shape = got.to_vec();
    if want.rank() == 4 && (shape.len() == 2 || shape.len() == 3) {
        let mut s = vec![1; 4 - shape.len()];
        s.extend(shape);
        shape = s;
    }
    let fits = shape.len() == want.rank()
        && shape.iter().zip(&want.0).skip(1).all(|(got, d)| match d {
            Dim::Known(n) => *n == *got as u64,
            Dim::Sym(_) => true,
        })
        && shape.first().is_some_and(|b| *b > 0);
    if fits {
        Ok(shape)
    } else {
        Err(FeedError::new(
            format!(
                "`{}` takes {} but the tensor is {}",
                model.name,
                want,
                shape_words(got)
            ),
            "wrong input shape",
            Some("only the batch (first) size may differ from the model's input type".into()),
        ))
    }
}

/// Targets of `xent` whose values are not whole numbers.
pub const NOT_LABELS: &str = "xent needs integer class labels";

/// `data X -> Y`: as many image inputs as targets.
pub fn data_lengths(x: &[usize], y: &[usize]) -> Result<(), FeedError> {
    match (x.first(), y.first()) {
        (Some(a), Some(b)) if a != b && x.len() == 4 && y.len() != 4 => Err(FeedError::new(
            format!("{a} inputs but {b} targets"),
            "lengths differ",
            Some("the inputs and the targets are paired along their first dimension".into()),
        )),
        _ => Ok(()),
    }
}

/// The number of classes of a model trained with `loss`: xent needs NxC
/// class scores.
pub fn classes(loss: Loss, out: &Shape) -> Result<Option<u64>, FeedError> {
    let classes = if out.rank() == 2 {
        out.0[1].known()
    } else {
        None
    };
    match (loss, classes) {
        (Loss::Xent, None) => Err(FeedError::new(
            format!("xent needs a model whose output is NxC (class scores), but it gives {out}"),
            "not class scores",
            Some("end the model with `flatten` and `linear(out=CLASSES)`".into()),
        )),
        _ => Ok(classes),
    }
}

/// Targets of shape `y` for `n` inputs, a model giving `out`, and `loss`.
pub fn targets(loss: Loss, y: &[usize], n: usize, out: &Shape) -> Result<(), FeedError> {
    let len: usize = y.iter().product();
    match loss {
        Loss::Xent => {
            let classes = classes(loss, out)?;
            if y.len() == 2 && y[0] == n && y[1] > 1 && classes == Some(y[1] as u64) {
                return Err(FeedError::new(
                    format!(
                        "xent takes class indices, but the targets are {} rows of {} (one-hot or probabilities)",
                        y[0], y[1]
                    ),
                    "not class indices",
                    Some("labels are class indices; use argmax(dim=1): `data X -> Y.argmax(dim=1)`".into()),
                ));
            }
            if len != n {
                return Err(FeedError::new(
                    format!("{n} inputs but {len} labels"),
                    "counts differ",
                    None,
                ));
            }
            Ok(())
        }
        Loss::Sse | Loss::Mse => {
            let want = out.per_item().map(|p| p as usize * n);
            if want == Some(len) {
                return Ok(());
            }
            Err(FeedError::new(
                format!(
                    "the targets have shape {} ({len} values) but the model gives {out} per item for {n} items",
                    shape_words(y),
                ),
                "targets do not match the model's output",
                Some("the targets must have the model's output shape (a rank-2/3 target is promoted when its size fits)".into()),
            ))
        }
    }
}
