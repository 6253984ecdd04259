//! Each layer kind as a PyTorch module constructor: one self-contained
//! function per kind, chosen by one exhaustive match.

use super::py;
use crate::ir::model::Layer;
use crate::layers::{BatchNorm, Conv, LayerKind, Linear, Pad4, Pool};

/// Helper classes of model.py that some layers need.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Needs {
    /// `ScriptConv2d`: per-side padding or `flip=true`.
    pub conv: bool,
    /// `ScriptMaxPool2d`: per-side padding.
    pub maxpool: bool,
    /// `ScriptAvgPool2d`: per-side padding.
    pub avgpool: bool,
}

/// The constructor of a layer's module, e.g. `nn.Conv2d(1, 6, kernel_size=5, padding=2)`.
pub fn module(layer: &Layer, needs: &mut Needs) -> String {
    match &layer.kind {
        LayerKind::Conv(c) => conv(c, needs),
        LayerKind::MaxPool(p) => maxpool(p, needs),
        LayerKind::AvgPool(p) => avgpool(p, needs),
        LayerKind::Gap => gap(),
        LayerKind::Linear(l) => linear(l),
        LayerKind::Flatten => "nn.Flatten()".into(),
        LayerKind::Relu => "nn.ReLU()".into(),
        LayerKind::Sigmoid => "nn.Sigmoid()".into(),
        LayerKind::Tanh => "nn.Tanh()".into(),
        LayerKind::Softmax => softmax(),
        LayerKind::Dropout { p } => dropout(*p),
        LayerKind::BatchNorm(b) => batchnorm(b, layer.in_shape.rank()),
    }
}

/// The padding PyTorch's `padding=` can say (equal on opposite sides), or `None`.
fn symmetric(pad: &Pad4) -> Option<[u64; 2]> {
    (pad.top == pad.bottom && pad.left == pad.right).then_some([pad.top, pad.left])
}

/// `pad=(left, right, top, bottom)`, F.pad's order.
fn sides(pad: &Pad4) -> String {
    format!(
        "pad=({}, {}, {}, {})",
        pad.left, pad.right, pad.top, pad.bottom
    )
}

/// `nn.Conv2d`, or `ScriptConv2d` for per-side padding and `flip=true`.
fn conv(c: &Conv, needs: &mut Needs) -> String {
    let mut args = vec![
        c.in_ch.to_string(),
        c.out_ch.to_string(),
        format!("kernel_size={}", py::pair(c.kernel)),
    ];
    if c.stride != [1, 1] {
        args.push(format!("stride={}", py::pair(c.stride)));
    }
    let sym = symmetric(&c.pad);
    match sym {
        Some([0, 0]) => {}
        Some(p) => args.push(format!("padding={}", py::pair(p))),
        None => args.push(sides(&c.pad)),
    }
    if c.dilation != [1, 1] {
        args.push(format!("dilation={}", py::pair(c.dilation)));
    }
    if c.groups != 1 {
        args.push(format!("groups={}", c.groups));
    }
    if !c.bias {
        args.push("bias=False".into());
    }
    if c.flip {
        args.push("flip=True".into());
    }
    let class = if sym.is_none() || c.flip {
        needs.conv = true;
        "ScriptConv2d"
    } else {
        "nn.Conv2d"
    };
    format!("{class}({})", args.join(", "))
}

/// The arguments pools share: window, stride (when not the window), padding.
fn pool_args(p: &Pool) -> (Vec<String>, bool) {
    let mut args = vec![format!("kernel_size={}", py::pair(p.kernel))];
    if p.stride != p.kernel {
        args.push(format!("stride={}", py::pair(p.stride)));
    }
    let sym = symmetric(&p.pad);
    match sym {
        Some([0, 0]) => {}
        Some(q) => args.push(format!("padding={}", py::pair(q))),
        None => args.push(sides(&p.pad)),
    }
    (args, sym.is_some())
}

/// `nn.MaxPool2d` (padding pads with −∞, as PyTorch).
fn maxpool(p: &Pool, needs: &mut Needs) -> String {
    let (mut args, sym) = pool_args(p);
    if p.dilation != [1, 1] {
        args.push(format!("dilation={}", py::pair(p.dilation)));
    }
    if p.ceil {
        args.push("ceil_mode=True".into());
    }
    let class = if sym {
        "nn.MaxPool2d"
    } else {
        needs.maxpool = true;
        "ScriptMaxPool2d"
    };
    format!("{class}({})", args.join(", "))
}

/// `nn.AvgPool2d` with `count_include_pad` for `count_pad`.
fn avgpool(p: &Pool, needs: &mut Needs) -> String {
    let (mut args, sym) = pool_args(p);
    if p.ceil {
        args.push("ceil_mode=True".into());
    }
    if !p.count_pad {
        args.push("count_include_pad=False".into());
    }
    let class = if sym {
        "nn.AvgPool2d"
    } else {
        needs.avgpool = true;
        "ScriptAvgPool2d"
    };
    format!("{class}({})", args.join(", "))
}

/// Global average pooling to `C x 1 x 1`.
fn gap() -> String {
    "nn.AdaptiveAvgPool2d(1)".into()
}

fn linear(l: &Linear) -> String {
    if l.bias {
        format!("nn.Linear({}, {})", l.in_f, l.out_f)
    } else {
        format!("nn.Linear({}, {}, bias=False)", l.in_f, l.out_f)
    }
}

/// Softmax over dim 1 (classes, or channels).
fn softmax() -> String {
    "nn.Softmax(dim=1)".into()
}

fn dropout(p: f64) -> String {
    format!("nn.Dropout({})", py::float(p))
}

/// `nn.BatchNorm2d` on NCHW maps, `nn.BatchNorm1d` on `NxC` (or `NxCxL`).
fn batchnorm(b: &BatchNorm, rank: usize) -> String {
    let class = if rank == 4 {
        "nn.BatchNorm2d"
    } else {
        "nn.BatchNorm1d"
    };
    let mut args = vec![b.channels.to_string()];
    if b.eps != 1e-5 {
        args.push(format!("eps={}", py::float(b.eps)));
    }
    if b.momentum != 0.1 {
        args.push(format!("momentum={}", py::float(b.momentum)));
    }
    format!("{class}({})", args.join(", "))
}

/// Python for the helper classes some layers need.
pub fn helper_classes(needs: Needs) -> Vec<&'static str> {
    let mut out = Vec::new();
    if needs.conv {
        out.push(SCRIPT_CONV);
    }
    if needs.maxpool {
        out.push(SCRIPT_MAXPOOL);
    }
    if needs.avgpool {
        out.push(SCRIPT_AVGPOOL);
    }
    out
}

const SCRIPT_CONV: &str = r#"class ScriptConv2d(nn.Conv2d):
    """nn.Conv2d with cnnscript's extras: `pad=(left, right, top, bottom)` pads each
    side on its own (p=same with an even kernel puts the extra row and column at the
    bottom and right), and `flip=True` flips the stored kernel in both spatial dims
    before the cross-correlation (a true convolution; training updates the stored
    kernel)."""

    def __init__(self, *args, pad=None, flip=False, **kwargs):
        super().__init__(*args, **kwargs)
        self.pad = pad
        self.flip = flip

    def forward(self, x):
        if self.pad is not None:
            x = F.pad(x, self.pad)
        weight = self.weight.flip(2, 3) if self.flip else self.weight
        return self._conv_forward(x, weight, self.bias)"#;

const SCRIPT_MAXPOOL: &str = r#"class ScriptMaxPool2d(nn.MaxPool2d):
    """nn.MaxPool2d with padding per side, `pad=(left, right, top, bottom)` (p=same
    with an even window): the padding is -inf, so it never wins."""

    def __init__(self, *args, pad, **kwargs):
        super().__init__(*args, **kwargs)
        self.pad = pad

    def forward(self, x):
        return super().forward(F.pad(x, self.pad, value=float("-inf")))"#;

const SCRIPT_AVGPOOL: &str = r#"class ScriptAvgPool2d(nn.AvgPool2d):
    """nn.AvgPool2d with padding per side, `pad=(left, right, top, bottom)` (p=same
    with an even window). The padding counts in the divisor unless
    count_include_pad=False, which divides by the real pixels of each window."""

    def __init__(self, *args, pad, **kwargs):
        super().__init__(*args, **kwargs)
        self.pad = pad

    def forward(self, x):
        total = super().forward(F.pad(x, self.pad))
        if self.count_include_pad:
            return total
        real = super().forward(F.pad(torch.ones_like(x[:1, :1]), self.pad))
        return total / real"#;
