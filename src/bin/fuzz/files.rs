//! Data files for the readers: valid `.npy`, `.npz`, `.safetensors` and
//! `.csv` files written byte by byte (so any header field can be absurd),
//! then truncated, bit-flipped, or given absurd headers and huge declared
//! shapes.

use rand::seq::IndexedRandom;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::mutate;

/// The formats, by extension.
pub const FORMATS: [&str; 4] = ["npy", "npz", "safetensors", "csv"];

/// Shapes as a header writes them, absurd ones included.
const SHAPES: &[&str] = &[
    "()",
    "(0,)",
    "(3,)",
    "(2, 3)",
    "(1, 1, 2, 2)",
    "(2, 0, 3)",
    "(-1,)",
    "(4294967296,)",
    "(9223372036854775807,)",
    "(18446744073709551615,)",
    "(99999999999999999999,)",
    "(100000, 100000)",
    "(65536, 65536, 65536)",
    "(1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1)",
    "(2.5,)",
    "('a',)",
    "(3",
    "[3]",
];

/// dtypes as an `.npy` header writes them.
const DESCRS: &[&str] = &[
    "<f4",
    "<f4",
    "<f8",
    "<i8",
    "<i4",
    "<i2",
    "|i1",
    "|u1",
    "<u8",
    "|b1",
    ">f4",
    "<f2",
    "<c8",
    "|O",
    "<U10",
    "<V4",
    "f4",
    "",
    "<f16",
    "<f99999999999999999999",
];

/// dtypes as a `.safetensors` header writes them.
const DTYPES: &[&str] = &[
    "F32", "F32", "F64", "I64", "I32", "I16", "I8", "U8", "U16", "U32", "U64", "F16", "BF16",
    "BOOL", "F8_E4M3", "C64", "f32", "",
];

/// Element size of a descr or dtype, for sizing the data (4 when unknown).
fn element_size(dtype: &str) -> usize {
    let digits: String = dtype.chars().filter(|c| c.is_ascii_digit()).collect();
    match dtype {
        "BOOL" | "|b1" | "|u1" | "|i1" | "U8" | "I8" => 1,
        _ => match digits.parse::<usize>() {
            Ok(bits @ (16 | 32 | 64)) if dtype.starts_with(['F', 'I', 'U', 'B', 'C']) => bits / 8,
            Ok(n @ (1 | 2 | 4 | 8)) => n,
            _ => 4,
        },
    }
}

/// Elements of a header shape, when it is a small valid one.
fn elements(shape: &str) -> usize {
    let inner = shape.trim_matches(|c| c == '(' || c == ')' || c == '[' || c == ']');
    inner
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.parse::<usize>().ok().filter(|n| *n <= 4096))
        .try_fold(1usize, |acc, n| n.map(|n| acc * n))
        .unwrap_or(7)
}

/// One case for `format`: mostly a file mutated in some way.
pub fn case(rng: &mut ChaCha8Rng, format: &str) -> Vec<u8> {
    let mut data = match format {
        "npy" => npy(rng),
        "npz" => npz(rng),
        "safetensors" => safetensors(rng),
        _ => csv(rng),
    };
    match rng.random_range(0..10) {
        0..=2 => {}
        3..=6 => {
            let ops = rng.random_range(1..8);
            mutate::bytes(rng, &mut data, ops);
        }
        _ => {
            let at = rng.random_range(0..=data.len());
            data.truncate(at);
        }
    }
    data
}

/// A valid-looking `.npy`, its header fields drawn from lists with absurd entries.
fn npy(rng: &mut ChaCha8Rng) -> Vec<u8> {
    let valid = rng.random_bool(0.5);
    let (descr, shape) = if valid {
        (
            ["<f4", "<i8", "<f8", "|u1"].choose(rng),
            SHAPES[..5].choose(rng),
        )
    } else {
        (DESCRS.choose(rng), SHAPES.choose(rng))
    };
    let (descr, shape) = (
        descr.copied().unwrap_or("<f4"),
        shape.copied().unwrap_or("(3,)"),
    );
    let fortran = match rng.random_range(0..8) {
        0 => "True",
        1 if !valid => "maybe",
        _ => "False",
    };
    let mut dict =
        format!("{{'descr': '{descr}', 'fortran_order': {fortran}, 'shape': {shape}, }}");
    if !valid && rng.random_bool(0.2) {
        dict = [
            "{}",
            "{'descr': '<f4'}",
            "not a dict",
            "{'shape': (2,), 'shape': (3,)}",
        ]
        .choose(rng)
        .copied()
        .unwrap_or("{}")
        .to_string();
    }
    let version: u8 = *[1u8, 1, 2, 3, 9].choose(rng).unwrap_or(&1);
    let prefix = if version == 1 { 10 } else { 12 };
    let mut header = dict.into_bytes();
    while (prefix + header.len() + 1) % 64 != 0 {
        header.push(b' ');
    }
    header.push(b'\n');
    let mut out = b"\x93NUMPY".to_vec();
    out.extend([version, 0]);
    let len = header.len() as u32;
    if version == 1 {
        out.extend((len as u16).to_le_bytes());
    } else {
        let declared = if !valid && rng.random_bool(0.2) {
            u32::MAX
        } else {
            len
        };
        out.extend(declared.to_le_bytes());
    }
    out.extend(header);
    let n = elements(shape) * element_size(descr);
    out.extend((0..n).map(|i| (i * 31 % 251) as u8));
    out
}

/// A zip of `.npy` members, stored or deflated, its size fields sometimes absurd.
fn npz(rng: &mut ChaCha8Rng) -> Vec<u8> {
    let members: Vec<(String, Vec<u8>)> = (0..rng.random_range(0..4))
        .map(|i| {
            let name = ["x.npy", "y.npy", "0.weight.npy", "dir/", "", "é.npy"]
                .choose(rng)
                .copied()
                .unwrap_or("x.npy");
            (format!("{i}{name}"), npy(rng))
        })
        .collect();
    let mut out = Vec::new();
    let mut central = Vec::new();
    for (name, data) in &members {
        let deflate = rng.random_bool(0.4);
        let packed = if deflate {
            miniz_oxide::deflate::compress_to_vec(data, 6)
        } else {
            data.clone()
        };
        let absurd = rng.random_bool(0.1);
        let size = if absurd { u32::MAX } else { data.len() as u32 };
        let csize = if absurd && rng.random_bool(0.5) {
            u32::MAX - 1
        } else {
            packed.len() as u32
        };
        let offset = out.len() as u32;
        let method: u16 = if deflate { 8 } else { 0 };
        let crc = crc32(data);
        let mut fields = Vec::new();
        fields.extend(20u16.to_le_bytes()); // version needed
        fields.extend(0u16.to_le_bytes()); // flags
        fields.extend(method.to_le_bytes());
        fields.extend([0u8; 4]); // time, date
        fields.extend(crc.to_le_bytes());
        fields.extend(csize.to_le_bytes());
        fields.extend(size.to_le_bytes());
        fields.extend((name.len() as u16).to_le_bytes());
        fields.extend(0u16.to_le_bytes()); // extra length
        out.extend(b"PK\x03\x04");
        out.extend(&fields);
        out.extend(name.as_bytes());
        out.extend(&packed);
        central.extend(b"PK\x01\x02");
        central.extend(20u16.to_le_bytes()); // version made by
        central.extend(&fields);
        central.extend([0u8; 8]); // comment length, disk, internal attributes
        central.extend([0u8; 4]); // external attributes
        central.extend(offset.to_le_bytes());
        central.extend(name.as_bytes());
    }
    let count = if rng.random_bool(0.05) {
        u16::MAX
    } else {
        members.len() as u16
    };
    let dir_at = out.len() as u32;
    out.extend(&central);
    out.extend(b"PK\x05\x06");
    out.extend([0u8; 4]); // disk numbers
    out.extend(count.to_le_bytes());
    out.extend(count.to_le_bytes());
    out.extend((central.len() as u32).to_le_bytes());
    out.extend(dir_at.to_le_bytes());
    out.extend(0u16.to_le_bytes()); // comment length
    out
}

/// A `.safetensors` file, its header fields sometimes absurd.
fn safetensors(rng: &mut ChaCha8Rng) -> Vec<u8> {
    let mut entries = Vec::new();
    let mut data = Vec::new();
    for i in 0..rng.random_range(0..4) {
        let valid = rng.random_bool(0.6);
        let dtype = if valid {
            "F32"
        } else {
            DTYPES.choose(rng).copied().unwrap_or("F32")
        };
        let shape = if valid {
            SHAPES[..5].choose(rng)
        } else {
            SHAPES.choose(rng)
        }
        .copied()
        .unwrap_or("(3,)");
        let inner = shape
            .trim_start_matches(['(', '['])
            .trim_end_matches([')', ']']);
        let json_shape = format!("[{}]", inner.trim_end_matches(','));
        let n = elements(shape) * element_size(dtype);
        let start = data.len();
        data.extend((0..n).map(|i| (i * 17 % 253) as u8));
        let (a, b) = match (valid, rng.random_range(0..6)) {
            (false, 0) => (0u64, u64::MAX),
            (false, 1) => (start as u64 + 4, start as u64),
            (false, 2) => (0, 0),
            _ => (start as u64, data.len() as u64),
        };
        let name = ["w", "0.weight", "", "__metadata__", "é"]
            .choose(rng)
            .copied()
            .unwrap_or("w");
        entries.push(format!(
            "\"{name}{i}\": {{\"dtype\": \"{dtype}\", \"shape\": {json_shape}, \"data_offsets\": [{a}, {b}]}}"
        ));
    }
    if rng.random_bool(0.3) {
        entries.push("\"__metadata__\": {\"format\": \"pt\"}".into());
    }
    let mut header = format!("{{{}}}", entries.join(", ")).into_bytes();
    if rng.random_bool(0.1) {
        header = b"{\"a\": [".to_vec();
    }
    while header.len() % 8 != 0 {
        header.push(b' ');
    }
    let declared = match rng.random_range(0..20) {
        0 => u64::MAX,
        1 => 1 << 40,
        _ => header.len() as u64,
    };
    let mut out = declared.to_le_bytes().to_vec();
    out.extend(header);
    out.extend(data);
    out
}

/// A CSV table: header or not, a label column, odd cells.
fn csv(rng: &mut ChaCha8Rng) -> Vec<u8> {
    let cols = rng.random_range(1..5);
    let rows = rng.random_range(0..8);
    let mut text = String::new();
    if rng.random_bool(0.5) {
        let mut names: Vec<String> = (0..cols).map(|i| format!("c{i}")).collect();
        if rng.random_bool(0.5) {
            names[rng.random_range(0..cols)] = "label".into();
        }
        text.push_str(&names.join(","));
        text.push('\n');
    }
    let cells = [
        "0",
        "1",
        "2",
        "-1.5",
        "3e2",
        "nan",
        "inf",
        "-inf",
        "1e999",
        "99999999999999999999",
        "",
        "\"1\"",
        "x",
        " 4 ",
        "2.0",
        "9223372036854775807",
        "-9223372036854775809",
    ];
    for _ in 0..rows {
        let n = if rng.random_bool(0.1) {
            rng.random_range(0..cols + 2)
        } else {
            cols
        };
        let row: Vec<&str> = (0..n)
            .map(|_| {
                if rng.random_bool(0.8) {
                    ["0", "1", "2", "0.5"].choose(rng).copied().unwrap_or("0")
                } else {
                    cells.choose(rng).copied().unwrap_or("0")
                }
            })
            .collect();
        text.push_str(&row.join(","));
        text.push_str(if rng.random_bool(0.1) { "\r\n" } else { "\n" });
    }
    text.into_bytes()
}

/// The CRC-32 of zip members (bit by bit: members are small).
fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}
