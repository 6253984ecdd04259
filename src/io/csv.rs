//! `.csv`: numeric tables with an optional header row; a `label` column becomes integer
//! class labels (`{x, y, label}` bundle), otherwise the table is one rows x columns tensor.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use ndarray::{ArrayD, IxDyn};

use super::IoError;
use crate::value::{dims_string, Value};

/// Parses a label cell: an integer, or a float with an integral value (`3.0`).
fn parse_label(text: &str) -> Option<i64> {
    if let Ok(v) = text.parse::<i64>() {
        return Some(v);
    }
    let v = text.parse::<f64>().ok()?;
    // i64::MAX as f64 rounds up to 2^63, so the upper bound is exclusive
    (v.fract() == 0.0 && v >= i64::MIN as f64 && v < i64::MAX as f64).then_some(v as i64)
}

/// Reads a CSV table (see the module doc).
pub(crate) fn read(path: &Path, bytes: &[u8]) -> Result<Value, IoError> {
    let mut reader = ::csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .trim(::csv::Trim::All)
        .from_reader(bytes);
    let syntax = |e: ::csv::Error| IoError::CsvSyntax {
        path: path.to_path_buf(),
        reason: e.to_string(),
    };
    let mut records = reader.records();
    let Some(first) = records.next().transpose().map_err(syntax)? else {
        return Err(IoError::CsvEmpty {
            path: path.to_path_buf(),
        });
    };
    let width = first.len();
    let is_header = first.iter().any(|cell| cell.parse::<f64>().is_err());
    let header: Option<Vec<String>> = is_header.then(|| first.iter().map(str::to_string).collect());
    let label_col = header
        .as_ref()
        .and_then(|h| h.iter().position(|name| name.eq_ignore_ascii_case("label")));
    let column_name = |col: usize| match &header {
        Some(h) => format!("{} ('{}')", col + 1, h[col]),
        None => (col + 1).to_string(),
    };

    let mut features: Vec<f32> = Vec::new();
    let mut labels: Vec<i64> = Vec::new();
    let mut rows = 0usize;
    let data_rows = (!is_header).then_some(Ok(first)).into_iter().chain(records);
    for record in data_rows {
        let record = record.map_err(syntax)?;
        let line = record.position().map_or(0, |p| p.line());
        if record.len() != width {
            return Err(IoError::CsvRagged {
                path: path.to_path_buf(),
                line,
                expected: width,
                found: record.len(),
            });
        }
        for (col, cell) in record.iter().enumerate() {
            if Some(col) == label_col {
                let label = parse_label(cell).ok_or_else(|| IoError::CsvNumber {
                    path: path.to_path_buf(),
                    line,
                    column: column_name(col),
                    text: cell.to_string(),
                    expected: "an integer label",
                })?;
                labels.push(label);
            } else {
                let value = cell.parse::<f32>().map_err(|_| IoError::CsvNumber {
                    path: path.to_path_buf(),
                    line,
                    column: column_name(col),
                    text: cell.to_string(),
                    expected: "a number",
                })?;
                features.push(value);
            }
        }
        rows += 1;
    }
    if rows == 0 {
        return Err(IoError::CsvEmpty {
            path: path.to_path_buf(),
        });
    }
    let mismatch = || IoError::SizeMismatch {
        path: path.to_path_buf(),
        reason: "the table's cell count does not match its rows and columns".to_string(),
    };
    let columns = width - usize::from(label_col.is_some());
    let x = ArrayD::from_shape_vec(IxDyn(&[rows, columns]), features).map_err(|_| mismatch())?;
    match label_col {
        None => Ok(Value::Float(x)),
        Some(_) => {
            let y = ArrayD::from_shape_vec(IxDyn(&[rows]), labels).map_err(|_| mismatch())?;
            Ok(Value::Bundle(BTreeMap::from([
                ("x".to_string(), Value::Float(x)),
                ("label".to_string(), Value::Int(y.clone())),
                ("y".to_string(), Value::Int(y)),
            ])))
        }
    }
}

/// One cell's text: shortest round-trip form for floats.
fn cells(value: &Value) -> Vec<String> {
    match value {
        Value::Float(a) => a.iter().map(|v| v.to_string()).collect(),
        Value::Int(a) => a.iter().map(|v| v.to_string()).collect(),
        Value::Bool(a) => a.iter().map(|v| u8::from(*v).to_string()).collect(),
        Value::Dims(_) | Value::Count(_) | Value::Bundle(_) => Vec::new(),
    }
}

/// Writes a rank-1 (one value per line) or rank-2 tensor, or a bundle `{x, y}` as
/// `x0,...,label` columns (x flattened per row, so `load` reads it back).
pub(crate) fn write(path: &Path, value: &Value) -> Result<(), IoError> {
    let cannot = |what: &'static str, reason: String, help: &str| IoError::CannotSave {
        path: path.to_path_buf(),
        what,
        reason,
        help: help.to_string(),
    };
    let (table, columns, header) = match value {
        Value::Dims(_) | Value::Count(_) => {
            return Err(cannot(
                value.type_name(),
                "CSV holds tensors".to_string(),
                "save a tensor",
            ))
        }
        Value::Float(_) | Value::Int(_) | Value::Bool(_) => {
            let shape = value.shape().unwrap_or(&[]);
            let columns = match shape {
                [_] => 1,
                [_, c] => *c,
                _ => {
                    return Err(cannot(
                        value.type_name(),
                        format!(
                            "CSV holds rank 1 or 2 tensors; this one is {}",
                            dims_string(shape)
                        ),
                        "reshape it to rows x columns first, or save it as .npy",
                    ))
                }
            };
            (cells(value), columns, None)
        }
        Value::Bundle(map) => {
            let x = map.get("x");
            let y = map.get("y").or_else(|| map.get("label"));
            let help = "CSV takes a bundle {x: rows x ..., y: labels}; save other bundles as .npz";
            let (Some(x), Some(y)) = (x, y) else {
                return Err(cannot(
                    "bundle",
                    "it has no arrays named x and y".to_string(),
                    help,
                ));
            };
            let (Some(xs), Some(ys)) = (x.shape(), y.shape()) else {
                return Err(cannot(
                    "bundle",
                    "x and y must be tensors".to_string(),
                    help,
                ));
            };
            let rows = xs.first().copied().unwrap_or(0);
            if xs.is_empty() || ys != [rows] {
                return Err(cannot(
                    "bundle",
                    format!(
                        "x is {} and y is {}; y needs one label per row of x",
                        dims_string(xs),
                        dims_string(ys)
                    ),
                    help,
                ));
            }
            let columns = xs[1..].iter().product::<usize>();
            let mut header: Vec<String> = (0..columns).map(|c| format!("x{c}")).collect();
            header.push("label".to_string());
            let x_cells = cells(x);
            let y_cells = cells(y);
            let mut table = Vec::with_capacity(x_cells.len() + y_cells.len());
            for (r, label) in y_cells.into_iter().enumerate() {
                table.extend_from_slice(&x_cells[r * columns..(r + 1) * columns]);
                table.push(label);
            }
            (table, columns + 1, Some(header))
        }
    };
    super::atomic_write(path, |w| {
        if let Some(header) = &header {
            writeln!(w, "{}", header.join(","))?;
        }
        if columns > 0 {
            for row in table.chunks(columns) {
                writeln!(w, "{}", row.join(","))?;
            }
        }
        Ok(())
    })
}
