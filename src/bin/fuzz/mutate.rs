//! Mutations of a script: token deletion, insertion, replacement,
//! duplication and swaps, absurd numbers, truncation and bracket soup.

use rand::seq::IndexedRandom;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::gen::ABSURD_NUMBERS;

/// Tokens worth inserting: keywords, layers, arguments, operators, odd text.
const TOKENS: &[&str] = &[
    "conv",
    "maxpool",
    "avgpool",
    "gap",
    "linear",
    "relu",
    "sigmoid",
    "tanh",
    "softmax",
    "dropout",
    "batchnorm",
    "flatten",
    "model",
    "let",
    "train",
    "data",
    "print",
    "shape",
    "explain",
    "summary",
    "save",
    "load",
    "seed",
    "eval",
    "plot",
    "show",
    "assert",
    "export",
    "params",
    "rf",
    "->",
    "(",
    ")",
    "[",
    "]",
    "{",
    "}",
    ",",
    "=",
    "==",
    ":",
    "::",
    ";",
    ".",
    "\n",
    "\t",
    "\"",
    "x",
    "N",
    "k=",
    "s=",
    "p=",
    "d=",
    "in=",
    "out=",
    "groups=",
    "lr=",
    "steps=",
    "epochs=",
    "batch=",
    "loss=",
    "log=",
    "momentum=",
    "eps=",
    "b1=",
    "b2=",
    "weight_decay=",
    "same",
    "valid",
    "true",
    "false",
    "sgd",
    "adam",
    "sse",
    "mse",
    "xent",
    "test =",
    "train =",
    "add(",
    "concat(",
    "ones(",
    "zeros(",
    "full(",
    "rand(",
    "randn(",
    "arange(",
    "corr2d(",
    "split(",
    ".reshape(",
    ".sum()",
    ".mean()",
    ".max()",
    ".min()",
    ".float()",
    ".T",
    ".0.weight",
    "*",
    "/",
    "+",
    "-",
    "#",
    "3x3",
    "0x0",
    "Nx1x28x28",
    "1x1x6x8",
    "é",
    "\u{202E}",
    "\u{0}",
    "@",
    "matmul(",
    "cat([",
    "stack([",
    "], dim=",
    "dim=",
    "keepdim=true",
    ".flip()",
    ".permute(",
    ".argmax(",
    ".argmin(",
    ".shape",
    ".ndim",
    ".numel",
    ">",
    "<=",
    "!=",
    "conv2d(",
    "maxpool(",
    ".0.weight =",
    "-1",
    "99999999999",
    "\"x.npy\"",
    "\"d.npz\"",
    "\"w.safetensors\"",
    "\"data.csv\"",
    "\"out.onnx\"",
];

/// A script with `ops` random mutations (at least one).
pub fn mutate(rng: &mut ChaCha8Rng, text: &str, ops: usize) -> String {
    let mut toks = tokens(text);
    for _ in 0..ops.max(1) {
        if toks.is_empty() {
            toks.push(TOKENS.choose(rng).copied().unwrap_or("x").to_string());
        }
        let i = rng.random_range(0..toks.len());
        match rng.random_range(0..100) {
            0..=19 => {
                toks.remove(i);
            }
            20..=39 => toks.insert(i, TOKENS.choose(rng).copied().unwrap_or("x").to_string()),
            40..=51 => toks[i] = TOKENS.choose(rng).copied().unwrap_or("x").to_string(),
            52..=61 => {
                let j = rng.random_range(0..toks.len());
                toks.swap(i, j);
            }
            62..=73 => {
                let absurd = ABSURD_NUMBERS
                    .choose(rng)
                    .copied()
                    .unwrap_or("0")
                    .to_string();
                if toks[i].chars().all(|c| c.is_ascii_digit()) {
                    toks[i] = absurd;
                } else {
                    toks.insert(i, absurd);
                }
            }
            74..=83 => {
                let end = (i + rng.random_range(1..20)).min(toks.len());
                let piece = toks[i..end].to_vec();
                for _ in 0..rng.random_range(1..50) {
                    toks.splice(i..i, piece.iter().cloned());
                }
            }
            84..=91 => toks.truncate(i),
            _ => {
                let soup: String = (0..rng.random_range(1..400))
                    .map(|_| *b"([{)]}".choose(rng).unwrap_or(&b'(') as char)
                    .collect();
                toks.insert(i, soup);
            }
        }
    }
    toks.concat()
}

/// Words, runs of spaces, and single other characters.
fn tokens(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        let mut tok = c.to_string();
        let word = |d: &char| d.is_alphanumeric() || *d == '_';
        if word(&c) {
            while let Some(d) = chars.next_if(word) {
                tok.push(d);
            }
        } else if c == ' ' {
            while let Some(d) = chars.next_if(|d| *d == ' ') {
                tok.push(d);
            }
        }
        out.push(tok);
    }
    out
}

/// Bytes with a few flipped, inserted, deleted or cut off (for any text).
pub fn bytes(rng: &mut ChaCha8Rng, data: &mut Vec<u8>, ops: usize) {
    for _ in 0..ops.max(1) {
        if data.is_empty() {
            data.push(rng.random());
            continue;
        }
        let i = rng.random_range(0..data.len());
        match rng.random_range(0..5) {
            0 => data[i] ^= 1 << rng.random_range(0..8),
            1 => data[i] = rng.random(),
            2 => data.insert(i, rng.random()),
            3 => {
                data.remove(i);
            }
            _ => data.truncate(i),
        }
    }
}
