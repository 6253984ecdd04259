//! The layer kinds with their resolved arguments, and the table of layer
//! names, arguments and defaults that the checker, `:help` and completion share.

/// Padding per side after resolving `same`/`valid`/`p=1x2`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Pad4 {
    pub top: u64,
    pub bottom: u64,
    pub left: u64,
    pub right: u64,
}

/// How a layer's weights start (PyTorch's default, or a fixed fill).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Init {
    /// PyTorch's: uniform ±1/sqrt(fan_in) for weight and bias.
    Default,
    Randn,
    Zeros,
    Ones,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Conv {
    pub in_ch: u64,
    pub out_ch: u64,
    /// (height, width)
    pub kernel: [u64; 2],
    pub stride: [u64; 2],
    pub pad: Pad4,
    pub dilation: [u64; 2],
    pub groups: u64,
    pub bias: bool,
    /// True convolution: the stored kernel is flipped before cross-correlating.
    pub flip: bool,
    pub init: Init,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Pool {
    pub kernel: [u64; 2],
    pub stride: [u64; 2],
    pub pad: Pad4,
    /// Always `[1, 1]` for average pooling.
    pub dilation: [u64; 2],
    pub ceil: bool,
    /// Average pooling only: divide by the window clipped to the padded input
    /// (true) or by the number of real pixels (false).
    pub count_pad: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Linear {
    pub in_f: u64,
    pub out_f: u64,
    pub bias: bool,
    pub init: Init,
}

#[derive(Clone, Debug, PartialEq)]
pub struct BatchNorm {
    pub channels: u64,
    pub eps: f64,
    pub momentum: f64,
}

/// Every layer kind. Matches over it are exhaustive (no `_ =>`), so adding a
/// kind makes the compiler list every place that must learn about it.
#[derive(Clone, Debug, PartialEq)]
pub enum LayerKind {
    Conv(Conv),
    MaxPool(Pool),
    AvgPool(Pool),
    Gap,
    Linear(Linear),
    Flatten,
    Relu,
    Sigmoid,
    Tanh,
    Softmax,
    Dropout { p: f64 },
    BatchNorm(BatchNorm),
}

impl LayerKind {
    /// Learnable tensors and buffers in state-dict order: (suffix, shape).
    pub fn param_shapes(&self) -> Vec<(&'static str, Vec<usize>)> {
        let u = |n: u64| n as usize;
        match self {
            LayerKind::Conv(c) => {
                let mut v = vec![(
                    "weight",
                    vec![
                        u(c.out_ch),
                        u(c.in_ch / c.groups.max(1)),
                        u(c.kernel[0]),
                        u(c.kernel[1]),
                    ],
                )];
                if c.bias {
                    v.push(("bias", vec![u(c.out_ch)]));
                }
                v
            }
            LayerKind::Linear(l) => {
                let mut v = vec![("weight", vec![u(l.out_f), u(l.in_f)])];
                if l.bias {
                    v.push(("bias", vec![u(l.out_f)]));
                }
                v
            }
            LayerKind::BatchNorm(b) => vec![
                ("weight", vec![u(b.channels)]),
                ("bias", vec![u(b.channels)]),
                ("running_mean", vec![u(b.channels)]),
                ("running_var", vec![u(b.channels)]),
                ("num_batches_tracked", vec![]),
            ],
            LayerKind::MaxPool(_)
            | LayerKind::AvgPool(_)
            | LayerKind::Gap
            | LayerKind::Flatten
            | LayerKind::Relu
            | LayerKind::Sigmoid
            | LayerKind::Tanh
            | LayerKind::Softmax
            | LayerKind::Dropout { .. } => vec![],
        }
    }

    /// Whether a state-dict entry is a learnable parameter (not a buffer).
    pub fn is_learnable(suffix: &str) -> bool {
        matches!(suffix, "weight" | "bias")
    }
}

/// The kind of value an argument takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArgType {
    /// A positive integer.
    Count,
    /// `3` or `3x5`, positive.
    Pair,
    /// `1`, `1x2`, `0`, `same` or `valid`.
    Padding,
    Bool,
    /// A real number.
    Real,
    /// One of `default`, `randn`, `zeros`, `ones`.
    Init,
}

impl ArgType {
    pub fn describe(self) -> &'static str {
        match self {
            ArgType::Count => "a positive integer",
            ArgType::Pair => "a positive integer or a pair such as 3x5",
            ArgType::Padding => "a padding: an integer, a pair such as 1x2, `same` or `valid`",
            ArgType::Bool => "`true` or `false`",
            ArgType::Real => "a number",
            ArgType::Init => "one of `default`, `randn`, `zeros`, `ones`",
        }
    }
}

/// One argument of a layer: its name, type, default (as written in a
/// script; `None` when required or inferred) and meaning.
#[derive(Clone, Copy, Debug)]
pub struct ArgSpec {
    pub name: &'static str,
    pub ty: ArgType,
    pub default: Option<&'static str>,
    pub help: &'static str,
}

/// One layer name with its arguments.
#[derive(Clone, Copy, Debug)]
pub struct LayerSpec {
    pub name: &'static str,
    pub args: &'static [ArgSpec],
    pub help: &'static str,
}

const fn arg(
    name: &'static str,
    ty: ArgType,
    default: Option<&'static str>,
    help: &'static str,
) -> ArgSpec {
    ArgSpec {
        name,
        ty,
        default,
        help,
    }
}

/// The layer table: the single source of layer names, arguments and defaults.
pub const LAYERS: &[LayerSpec] = &[
    LayerSpec {
        name: "conv",
        help: "2-D cross-correlation (nn.Conv2d)",
        args: &[
            arg(
                "in",
                ArgType::Count,
                None,
                "input channels (inferred if omitted)",
            ),
            arg("out", ArgType::Count, None, "output channels (required)"),
            arg("k", ArgType::Pair, None, "kernel size (required)"),
            arg("s", ArgType::Pair, Some("1"), "stride"),
            arg("p", ArgType::Padding, Some("0"), "padding per side"),
            arg("d", ArgType::Pair, Some("1"), "dilation"),
            arg("groups", ArgType::Count, Some("1"), "channel groups"),
            arg("bias", ArgType::Bool, Some("true"), "learnable bias"),
            arg(
                "flip",
                ArgType::Bool,
                Some("false"),
                "true convolution (kernel flipped)",
            ),
            arg(
                "init",
                ArgType::Init,
                Some("default"),
                "weight initialisation",
            ),
        ],
    },
    LayerSpec {
        name: "maxpool",
        help: "max pooling (nn.MaxPool2d)",
        args: &[
            arg("k", ArgType::Pair, None, "window size (required)"),
            arg("s", ArgType::Pair, Some("k"), "stride"),
            arg(
                "p",
                ArgType::Padding,
                Some("0"),
                "padding per side, at most k/2",
            ),
            arg("d", ArgType::Pair, Some("1"), "dilation"),
            arg("ceil", ArgType::Bool, Some("false"), "ceil mode"),
        ],
    },
    LayerSpec {
        name: "avgpool",
        help: "average pooling (nn.AvgPool2d)",
        args: &[
            arg("k", ArgType::Pair, None, "window size (required)"),
            arg("s", ArgType::Pair, Some("k"), "stride"),
            arg(
                "p",
                ArgType::Padding,
                Some("0"),
                "padding per side, at most k/2",
            ),
            arg("ceil", ArgType::Bool, Some("false"), "ceil mode"),
            arg(
                "count_pad",
                ArgType::Bool,
                Some("true"),
                "count padding in the divisor",
            ),
        ],
    },
    LayerSpec {
        name: "gap",
        help: "global average pooling to Cx1x1",
        args: &[],
    },
    LayerSpec {
        name: "linear",
        help: "fully connected layer (nn.Linear)",
        args: &[
            arg(
                "in",
                ArgType::Count,
                None,
                "input features (inferred if omitted)",
            ),
            arg("out", ArgType::Count, None, "output features (required)"),
            arg("bias", ArgType::Bool, Some("true"), "learnable bias"),
            arg(
                "init",
                ArgType::Init,
                Some("default"),
                "weight initialisation",
            ),
        ],
    },
    LayerSpec {
        name: "flatten",
        help: "flatten all but the batch dimension",
        args: &[],
    },
    LayerSpec {
        name: "relu",
        help: "max(0, x)",
        args: &[],
    },
    LayerSpec {
        name: "sigmoid",
        help: "1 / (1 + exp(-x))",
        args: &[],
    },
    LayerSpec {
        name: "tanh",
        help: "hyperbolic tangent",
        args: &[],
    },
    LayerSpec {
        name: "softmax",
        help: "softmax over dim 1",
        args: &[],
    },
    LayerSpec {
        name: "dropout",
        help: "zero elements with probability p while training",
        args: &[arg("p", ArgType::Real, Some("0.5"), "drop probability")],
    },
    LayerSpec {
        name: "batchnorm",
        help: "batch normalisation over channels (nn.BatchNorm2d / 1d)",
        args: &[
            arg("eps", ArgType::Real, Some("1e-5"), "added to the variance"),
            arg(
                "momentum",
                ArgType::Real,
                Some("0.1"),
                "running statistics update",
            ),
        ],
    },
];

/// The table entry of a layer name.
pub fn layer_spec(name: &str) -> Option<&'static LayerSpec> {
    LAYERS.iter().find(|l| l.name == name)
}
