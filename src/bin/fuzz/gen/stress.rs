//! Stress scripts: long lines, deep nesting, many statements, absurd
//! numbers and shapes, odd Unicode, and bytes that are not UTF-8, alone or
//! injected into a valid script.

use rand::seq::IndexedRandom;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// Numbers at and past every limit.
pub const ABSURD_NUMBERS: &[&str] = &[
    "0",
    "-1",
    "-0",
    "1e999",
    "-1e999",
    "1e39",
    "1e-45",
    "1e-999",
    "4294967296",
    "2147483648",
    "9223372036854775807",
    "9223372036854775808",
    "18446744073709551616",
    "99999999999999999999",
    "340282366920938463463374607431768211456",
    "0.0000000000000000000000000000000000000000000001",
    "65536",
    "1000000",
    "3.4028236e38",
];

/// Shapes past memory, alone or multiplied.
const ABSURD_DIMS: &[&str] = &[
    "100000x100000",
    "65536x65536",
    "1x1x100000x100000",
    "99999999999x2",
    "4294967296x4294967296",
    "200000x1",
    "1x200000",
    "18446744073709551615",
    "99999999999999999999x2",
    "0x5",
    "Nx1x99999x99999",
];

/// Text that is valid UTF-8 but odd for a script.
const ODD_TEXT: &[&str] = &[
    "\u{FEFF}",
    "\u{202E}",
    "\u{200B}",
    "\u{2028}",
    "é",
    "e\u{301}",
    "🦀",
    "\u{0}",
    "\r",
    "\t",
    "ｘ",
    "\u{FFFD}",
    "\u{10FFFF}",
    "Ω",
    "\\",
    "\"",
];

/// Byte sequences that are not UTF-8.
const BAD_BYTES: &[&[u8]] = &[
    b"\xff",
    b"\xfe\xff",
    b"\xc0\x80",
    b"\xed\xa0\x80",
    b"\x80",
    b"\xe2\x82",
    b"\xf8\x88\x80\x80\x80",
    b"\xc3",
];

/// A stress script; `base` is a valid script to inject into.
pub fn stress(rng: &mut ChaCha8Rng, base: &str) -> Vec<u8> {
    match rng.random_range(0..9) {
        0 => long_line(rng).into_bytes(),
        1 => deep(rng).into_bytes(),
        2 => many_statements(rng).into_bytes(),
        3 => absurd_numbers(rng, base).into_bytes(),
        4 => absurd_shapes(rng).into_bytes(),
        5 => odd_unicode(rng, base).into_bytes(),
        6 | 7 => not_utf8(rng, base),
        _ => duplicates(rng, base).into_bytes(),
    }
}

fn long_line(rng: &mut ChaCha8Rng) -> String {
    // log-uniform: mostly kilobytes, sometimes megabytes (which cost seconds)
    let n = 10f64.powf(rng.random_range(3.0..6.3)) as usize;
    let ident = "a".repeat(n);
    match rng.random_range(0..6) {
        0 => format!("let {ident} = 1\nprint {ident}\nprint b\n"),
        1 => format!("let a = {ident} + 1\n"),
        2 => format!(
            "shape 8x8 -> {}conv(out=1, k=99)\n",
            "relu -> ".repeat(n / 8)
        ),
        3 => format!("let a = \"{}\"\n", "x".repeat(n)),
        4 => format!("print 1 +{} $\n", " ".repeat(n)),
        _ => format!("model {ident}(x: 4x4) = relu\nsummary {ident}x\n"),
    }
}

fn deep(rng: &mut ChaCha8Rng) -> String {
    let d = rng.random_range(1..600);
    match rng.random_range(0..5) {
        0 => format!("let a = {}1{}\nprint a\n", "(".repeat(d), ")".repeat(d)),
        1 => format!("let a = {}1{}\nprint a\n", "[".repeat(d), "]".repeat(d)),
        2 => format!("let a = {}1\n", "-".repeat(d)),
        3 => format!("let a = 1{}\nprint a\n", " + 1".repeat(d * 10)),
        _ => format!("let a = ones(2x2){}\nprint a\n", ".sum()".repeat(d)),
    }
}

fn many_statements(rng: &mut ChaCha8Rng) -> String {
    let n = rng.random_range(100..5_000);
    let mut s = String::new();
    for i in 0..n {
        s.push_str(&format!("let a{i} = {i}\n"));
    }
    let tail = [
        "print b\n",
        "print a1 + a2\n",
        "model m(x: 4x4) = conv(out=1, k=9)\n",
    ];
    s.push_str(tail.choose(rng).copied().unwrap_or(""));
    s
}

/// Every number of `base` replaced, with some chance, by an absurd one.
fn absurd_numbers(rng: &mut ChaCha8Rng, base: &str) -> String {
    let mut out = String::with_capacity(base.len());
    let mut chars = base.char_indices().peekable();
    let mut prev_word = false;
    while let Some((_, c)) = chars.next() {
        if c.is_ascii_digit() && !prev_word {
            while chars
                .peek()
                .is_some_and(|(_, d)| d.is_ascii_digit() || *d == '.')
            {
                chars.next();
            }
            if rng.random_bool(0.3) {
                out.push_str(ABSURD_NUMBERS.choose(rng).copied().unwrap_or("0"));
            } else {
                out.push(c);
            }
        } else {
            out.push(c);
        }
        prev_word = c.is_alphanumeric() || c == '_';
    }
    out
}

/// Scripts whose tensors or models would not fit in memory.
fn absurd_shapes(rng: &mut ChaCha8Rng) -> String {
    let d = ABSURD_DIMS.choose(rng).copied().unwrap_or("100000x100000");
    let n = ABSURD_NUMBERS.choose(rng).copied().unwrap_or("0");
    match rng.random_range(0..20) {
        0 => format!("let a = ones({d})\nprint a\n"),
        12 => format!("let a = ones({d}) @ ones({d})\nprint a\n"),
        13 => "let a = ones(100000x1) @ ones(1x100000)\nprint a.shape\n".into(),
        14 => format!("let a = cat([ones({d}), ones({d})], dim={n})\nprint a\n"),
        15 => format!("let a = stack([ones(2x2), ones(2x2)], dim={n})\nprint a\n"),
        16 => format!("print ones(3x4).sum(dim={n}, keepdim=true)\nprint ones(3x4).argmax(dim={n})\n"),
        17 => format!("print maxpool(ones(4x4), k={n}, s={n})\nprint conv2d(ones(4x4), ones({d}), p={n})\n"),
        18 => format!("print ones(2x3x4).permute(0, {n}, 1)\nprint ones(2x3).flip(dim={n})\n"),
        19 => format!("model m(x: Nx4) = linear(out=3)\nm.0.weight = ones({d})\nprint m.0.weight\n"),
        1 => "let a = ones(200000x1) * ones(1x200000)\n".into(),
        2 => format!("let a = rand(4x4) + full({d}, 1)\n"),
        3 => format!("let a = arange({n})\nprint a.sum()\n"),
        4 => format!("let a = arange(24).reshape({d})\n"),
        5 => format!("let a = ones(4x4)[0:{n}:{n}]\nprint a\n"),
        6 => format!("model m(x: {d}) = conv(out=8, k=3)\nprint m(ones(1x1x8x8))\n"),
        7 => format!(
            "model m(x: Nx1x8x8) = conv(out={n}, k=3)\nlet X = ones(2x1x8x8)\nprint m(X)\n"
        ),
        8 => format!(
            "model m(x: Nx4) = linear(out=8)\nlet X = ones(2x4)\ndata X -> ones(2x8)\ntrain sgd lr={n} steps=2\nprint m.0.weight\n"
        ),
        9 => format!(
            "model m(x: Nx1x8x8) = conv(out=2, k=3) -> batchnorm(eps={n}, momentum={n}) -> dropout(p={n})\nlet X = rand(2x1x8x8)\ndata X -> rand(2x2x6x6)\ntrain adam lr=0.1 b1={n} b2={n} eps={n} steps=1\n"
        ),
        10 => format!("let a = full(2x2, {n}) * full(2x2, {n})\nprint a\nprint a.sum()\n"),
        _ => format!(
            "model m(x: Nx3x64x64) = conv(out=64, k={n}, p={n}, s={n}, d={n})\nlet X = ones(1x3x64x64)\nprint m(X)\n"
        ),
    }
}

/// A few odd characters put anywhere.
fn odd_unicode(rng: &mut ChaCha8Rng, base: &str) -> String {
    let mut s = base.to_string();
    for _ in 0..rng.random_range(1..4) {
        let at = char_boundary(&s, rng.random_range(0..=s.len()));
        s.insert_str(at, ODD_TEXT.choose(rng).copied().unwrap_or("é"));
    }
    s
}

/// A valid script with bytes that are not UTF-8 put in.
fn not_utf8(rng: &mut ChaCha8Rng, base: &str) -> Vec<u8> {
    let mut b = base.as_bytes().to_vec();
    for _ in 0..rng.random_range(1..3) {
        let at = char_boundary(base, rng.random_range(0..=base.len())).min(b.len());
        let bad = BAD_BYTES.choose(rng).copied().unwrap_or(b"\xff");
        b.splice(at..at, bad.iter().copied());
    }
    b
}

/// A script with one of its lines (a model, say) written twice.
fn duplicates(rng: &mut ChaCha8Rng, base: &str) -> String {
    let lines: Vec<&str> = base.lines().collect();
    let Some(line) = lines.choose(rng) else {
        return "model m(x: 4x4) = relu\nmodel m(x: 4x4) = relu\n".into();
    };
    format!("{base}\n{line}\n")
}

fn char_boundary(s: &str, mut i: usize) -> usize {
    i = i.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}
