//! `plot` and `show`: the statements that draw pictures (see
//! [`crate::picture`]) of the last training and of tensors.

use std::io::Write;

use super::error::{Depends, RunError, RunResult};
use super::eval::Evaluated;
use super::train::History;
use super::{Interp, Output};
use crate::picture::grid::{draw_grid, tiles};
use crate::picture::plot::{draw_chart, Chart, Curve, BLUE, GREEN, ORANGE};
use crate::picture::Canvas;
use crate::syntax::ast::{Expr, ExprKind, Span, StrLit};
use crate::value::Value;

impl Interp {
    /// `plot "loss.png"`: the loss (and accuracies, when known) per step or
    /// epoch of the last `train`. Without a file, `out` must show pictures.
    pub fn plot(
        &mut self,
        path: Option<&StrLit>,
        span: Span,
        out: &mut dyn Output,
    ) -> RunResult<()> {
        check_destination(path, span, "plot", out)?;
        let history = match &self.history {
            Some(h) if !h.records.is_empty() => h,
            _ => {
                return Err(RunError::new(
                    "nothing to plot: no model has been trained yet",
                    span,
                    "no training so far",
                )
                .help("`plot` draws the last `train`; put it after a `train` statement"))
            }
        };
        let canvas = draw_chart(&history_chart(history));
        self.write_picture(path, &canvas, span, out)
    }

    /// `show value "file.png"`: a labelled grid of grey tiles, one per kernel
    /// (`show m.0.weight`) or per channel of the first item (`show m[0:2](X)`).
    pub fn show(
        &mut self,
        value: &Expr,
        path: Option<&StrLit>,
        span: Span,
        out: &mut dyn Output,
    ) -> RunResult<()> {
        check_destination(path, span, "show", out)?;
        let kernels = self.is_parameter(value);
        let array = match self.eval_any(value)? {
            Evaluated::Value(Value::Bundle(m)) => {
                let names: Vec<&str> = m.keys().map(String::as_str).collect();
                return Err(RunError::new(
                    "`show` draws one tensor, not a bundle of arrays",
                    value.span,
                    "a bundle",
                )
                .help(format!("pick one of its arrays: {}", names.join(", "))));
            }
            Evaluated::Value(v) => v
                .to_float()
                .ok_or_else(|| RunError::new("expected a tensor", value.span, "not a tensor"))?,
            Evaluated::Model(name) => {
                return Err(RunError::from_check(crate::ir::check::files::shown_model(
                    &name, value.span,
                )))
            }
            Evaluated::Tuple(_) => {
                return Err(RunError::new(
                    "`show` draws one tensor at a time",
                    value.span,
                    "several values",
                ))
            }
        };
        let shape = array.shape().to_vec();
        let data: Vec<f32> = array.iter().copied().collect();
        let grid = tiles(&shape, &data, kernels)
            .map_err(|msg| RunError::new(msg, value.span, "cannot draw this"))?;
        let canvas =
            draw_grid(&grid).map_err(|msg| RunError::new(msg, value.span, "too large to draw"))?;
        self.write_picture(path, &canvas, span, out)
    }

    /// Whether an expression names a model parameter (`m.0.weight`).
    fn is_parameter(&self, expr: &Expr) -> bool {
        let mut root = expr;
        let mut fields = 0;
        while let ExprKind::Field { base, .. } = &root.kind {
            root = base;
            fields += 1;
        }
        matches!(&root.kind, ExprKind::Name(id) if fields > 0 && self.models.contains_key(&id.name))
    }

    /// Write the picture to its file, then hand it to `out` (a notebook shows it).
    fn write_picture(
        &self,
        path: Option<&StrLit>,
        canvas: &Canvas,
        span: Span,
        out: &mut dyn Output,
    ) -> RunResult<()> {
        let bytes = canvas.png().map_err(|msg| {
            RunError::new(format!("cannot encode the picture: {msg}"), span, "here")
        })?;
        if let Some(path) = path {
            crate::io::atomic_write(&self.path(&path.value), |w| w.write_all(&bytes))
                .map_err(|e| RunError::io(&e, path.span))?;
        }
        out.image(&bytes)
            .map_err(|e| RunError::new(format!("cannot show the picture: {e}"), span, "here"))
    }
}

/// A file name must end in .png; without one, `out` must show pictures.
fn check_destination(
    path: Option<&StrLit>,
    span: Span,
    what: &str,
    out: &dyn Output,
) -> RunResult<()> {
    match path {
        Some(p) => match crate::ir::check::files::png_name(p, what) {
            Some(e) => Err(RunError::from_check(e)),
            None => Ok(()),
        },
        None if out.shows_pictures() => Ok(()),
        None => Err(RunError::new(
            format!("`{what}` needs a file name here: only a notebook shows pictures"),
            span,
            "no file to write",
        )
        .help(format!("name a PNG file: `{what} ... \"picture.png\"`"))
        .depends(Depends::FrontEnd)),
    }
}

/// The loss per step or epoch on the left axis, the accuracies on the right.
fn history_chart(history: &History) -> Chart {
    let unit = history.unit;
    let points = |get: fn(&super::train::Record) -> Option<f64>| -> Vec<(f64, f64)> {
        history
            .records
            .iter()
            .filter_map(|r| get(r).map(|v| (r.at as f64, v)))
            .collect()
    };
    Chart {
        title: format!("loss per {unit}"),
        x_label: unit.to_string(),
        left: Curve {
            name: "loss",
            colour: BLUE,
            points: points(|r| Some(r.loss)),
        },
        right: vec![
            Curve {
                name: "train acc",
                colour: ORANGE,
                points: points(|r| r.train_acc),
            },
            Curve {
                name: "test acc",
                colour: GREEN,
                points: points(|r| r.test_acc),
            },
        ],
    }
}
