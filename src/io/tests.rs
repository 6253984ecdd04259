//! Round trips and hostile inputs for every format.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ndarray::{ArrayD, IxDyn};
use proptest::prelude::*;

use super::*;

fn floats(shape: &[usize]) -> ArrayD<f32> {
    let n: usize = shape.iter().product();
    ArrayD::from_shape_vec(
        IxDyn(shape),
        (0..n).map(|i| i as f32 * 0.25 - 3.0).collect(),
    )
    .unwrap()
}

fn ints(shape: &[usize]) -> ArrayD<i64> {
    let n: usize = shape.iter().product();
    ArrayD::from_shape_vec(IxDyn(shape), (0..n as i64).map(|i| i * 7 - 20).collect()).unwrap()
}

fn bundle() -> Value {
    Value::Bundle(BTreeMap::from([
        ("x".to_string(), Value::Float(floats(&[3, 1, 2, 2]))),
        ("y".to_string(), Value::Int(ints(&[3]))),
    ]))
}

fn roundtrip(dir: &Path, name: &str, value: &Value) -> Value {
    let path = dir.join(name);
    save_value(&path, value).unwrap();
    load_value(&path).unwrap()
}

/// The folder holds exactly these names (no temporary files left over).
fn assert_only(dir: &Path, names: &[&str]) {
    let mut found: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    found.sort();
    assert_eq!(found, names);
}

fn shared_data(name: &str) -> Option<PathBuf> {
    let path = Path::new("/work/shared/data/digits").join(name);
    path.exists().then_some(path)
}

// ---- round trips ----

#[test]
fn npy_round_trips_floats_and_ints_of_every_rank() {
    let dir = tempfile::tempdir().unwrap();
    for shape in [&[][..], &[5], &[2, 3], &[4, 2, 3, 5], &[0, 3]] {
        let v = Value::Float(floats(shape));
        assert_eq!(roundtrip(dir.path(), "a.npy", &v), v);
        let v = Value::Int(ints(shape));
        assert_eq!(roundtrip(dir.path(), "b.npy", &v), v);
    }
    assert_only(dir.path(), &["a.npy", "b.npy"]);
}

#[test]
fn npy_writes_non_contiguous_views_in_logical_order() {
    let dir = tempfile::tempdir().unwrap();
    let t = floats(&[2, 3]).reversed_axes();
    let v = Value::Float(t.clone());
    let back = roundtrip(dir.path(), "t.npy", &v);
    assert_eq!(back, Value::Float(t.as_standard_layout().into_owned()));
}

#[test]
fn npz_round_trips_bundles_and_single_tensors() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(roundtrip(dir.path(), "d.npz", &bundle()), bundle());
    let single = roundtrip(dir.path(), "s.npz", &Value::Float(floats(&[2, 2])));
    assert_eq!(single.get("arr_0"), Some(&Value::Float(floats(&[2, 2]))));
}

#[test]
fn safetensors_round_trips_and_is_valid_for_the_reference_reader() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(roundtrip(dir.path(), "d.safetensors", &bundle()), bundle());
    let single = roundtrip(dir.path(), "s.safetensors", &Value::Int(ints(&[4])));
    assert_eq!(single.get("tensor"), Some(&Value::Int(ints(&[4]))));
    // The safetensors crate (the reader behind safetensors.torch.load_file) accepts it.
    let bytes = std::fs::read(dir.path().join("d.safetensors")).unwrap();
    let st = ::safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let x = st.tensor("x").unwrap();
    assert_eq!(x.dtype(), ::safetensors::Dtype::F32);
    assert_eq!(x.shape(), &[3, 1, 2, 2]);
    assert_eq!(st.tensor("y").unwrap().dtype(), ::safetensors::Dtype::I64);
}

#[test]
fn state_dicts_hold_f32_parameters_and_int64_scalar_counters() {
    let dir = tempfile::tempdir().unwrap();
    let weight = floats(&[6, 1, 5, 5]);
    let bias = floats(&[6]);
    let tracked = ArrayD::from_elem(IxDyn(&[]), 30i64);
    let entries = vec![
        ("c1.weight".to_string(), TensorRef::from(&weight)),
        ("c1.bias".to_string(), TensorRef::from(&bias)),
        (
            "bn.num_batches_tracked".to_string(),
            TensorRef::from(&tracked),
        ),
    ];
    for name in ["m.safetensors", "m.npz"] {
        let path = dir.path().join(name);
        save_state_dict(&path, &entries).unwrap();
        let loaded = load_state_dict(&path).unwrap();
        let names: Vec<&str> = loaded.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["bn.num_batches_tracked", "c1.bias", "c1.weight"]);
        assert_eq!(loaded[0].1, Value::Int(tracked.clone()));
        assert_eq!(loaded[2].1, Value::Float(weight.clone()));
    }
    let bytes = std::fs::read(dir.path().join("m.safetensors")).unwrap();
    let st = ::safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let counter = st.tensor("bn.num_batches_tracked").unwrap();
    assert_eq!(counter.dtype(), ::safetensors::Dtype::I64);
    assert!(counter.shape().is_empty());
    assert_eq!(counter.data(), 30i64.to_le_bytes());
    // header metadata as safetensors.torch.save_file writes it
    assert!(String::from_utf8_lossy(&bytes[8..100]).contains("\"format\":\"pt\""));
}

#[test]
fn state_dict_errors() {
    let dir = tempfile::tempdir().unwrap();
    let w = floats(&[2]);
    let dup = vec![
        ("0.weight".to_string(), TensorRef::from(&w)),
        ("0.weight".to_string(), TensorRef::from(&w)),
    ];
    let err = save_state_dict(&dir.path().join("m.safetensors"), &dup).unwrap_err();
    assert!(matches!(err, IoError::DuplicateName { .. }), "{err}");
    let err = save_state_dict(&dir.path().join("m.npy"), &dup[..1]).unwrap_err();
    assert!(matches!(err, IoError::CannotSave { .. }), "{err}");
    let err = load_state_dict(&dir.path().join("m.csv")).unwrap_err();
    assert!(matches!(err, IoError::NotAStateDict { .. }), "{err}");
    assert_only(dir.path(), &[]);
}

#[test]
fn reads_the_conformance_weights_written_by_pytorch() {
    let path = Path::new("/work/shared/conformance/forward-004/w.safetensors");
    if !path.exists() {
        return;
    }
    let sd = load_state_dict(path).unwrap();
    let shapes: Vec<(&str, Vec<usize>)> = sd
        .iter()
        .map(|(n, v)| (n.as_str(), v.shape().unwrap().to_vec()))
        .collect();
    assert_eq!(
        shapes,
        [
            ("2.bias", vec![4]),
            ("2.weight", vec![4, 1, 1, 1]),
            ("c1.bias", vec![4]),
            ("c1.weight", vec![4, 1, 4, 4])
        ]
    );
    let x = load_value(&path.with_file_name("x.npy")).unwrap();
    assert_eq!(x.shape(), Some(&[2, 2, 11, 6][..]));
}

#[test]
fn csv_round_trips_tables_and_labelled_bundles() {
    let dir = tempfile::tempdir().unwrap();
    let table = Value::Float(floats(&[3, 4]));
    assert_eq!(roundtrip(dir.path(), "t.csv", &table), table);
    let column = Value::Float(floats(&[5]));
    assert_eq!(
        roundtrip(dir.path(), "c.csv", &column),
        Value::Float(floats(&[5]).into_shape_with_order(IxDyn(&[5, 1])).unwrap())
    );
    let back = roundtrip(dir.path(), "b.csv", &bundle());
    assert_eq!(
        back.get("x"),
        Some(&Value::Float(
            floats(&[3, 1, 2, 2])
                .into_shape_with_order(IxDyn(&[3, 4]))
                .unwrap()
        ))
    );
    assert_eq!(back.get("y"), Some(&Value::Int(ints(&[3]))));
    assert_eq!(back.get("label"), Some(&Value::Int(ints(&[3]))));
    let err = save_value(&dir.path().join("r.csv"), &Value::Float(floats(&[2, 2, 2]))).unwrap_err();
    assert!(err.to_string().contains("2x2x2"), "{err}");
}

#[test]
fn csv_header_is_detected_and_label_column_becomes_integers() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("d.csv");
    std::fs::write(&path, "a, b ,label\n1,2,3\n4.5,-6,7.0\n").unwrap();
    let v = load_value(&path).unwrap();
    assert_eq!(
        v.get("x"),
        Some(&Value::Float(
            ArrayD::from_shape_vec(IxDyn(&[2, 2]), vec![1., 2., 4.5, -6.]).unwrap()
        ))
    );
    assert_eq!(
        v.get("y"),
        Some(&Value::Int(
            ArrayD::from_shape_vec(IxDyn(&[2]), vec![3, 7]).unwrap()
        ))
    );
    std::fs::write(&path, "1,2\n3,4\n").unwrap();
    assert_eq!(load_value(&path).unwrap().shape(), Some(&[2, 2][..]));
}

#[test]
fn loads_the_shared_digits_files() {
    if let Some(path) = shared_data("digits.npz") {
        let v = load_value(&path).unwrap();
        assert_eq!(v.get("x").unwrap().shape(), Some(&[1797, 1, 8, 8][..]));
        assert_eq!(v.get("y").unwrap().type_name(), "integer tensor");
    }
    if let Some(path) = shared_data("digits.csv") {
        let v = load_value(&path).unwrap();
        assert_eq!(v.get("x").unwrap().shape(), Some(&[1797, 64][..]));
        assert_eq!(v.get("y").unwrap().shape(), Some(&[1797][..]));
    }
    if let (Some(npz), Some(csv)) = (shared_data("digits.npz"), shared_data("digits.csv")) {
        let (a, b) = (load_value(&npz).unwrap(), load_value(&csv).unwrap());
        assert_eq!(a.get("y"), b.get("y"));
        let xa = a.get("x").unwrap().to_float().unwrap();
        let xb = b.get("x").unwrap().to_float().unwrap();
        assert_eq!(xa.as_slice().unwrap(), xb.as_slice().unwrap());
    }
}

// ---- npy dtypes and layouts ----

/// An .npy file with the given header dict and raw data.
fn npy_bytes(dict: &str, data: &[u8]) -> Vec<u8> {
    let mut header = dict.to_string();
    while !(10 + header.len() + 1).is_multiple_of(64) {
        header.push(' ');
    }
    header.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(data);
    out
}

fn load_bytes(dir: &Path, name: &str, bytes: &[u8]) -> Result<Value, IoError> {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    load_value(&path)
}

#[test]
fn npy_reads_numpy_dtypes() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let f64s: Vec<u8> = [1.5f64, -2.0]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    let v = load_bytes(
        d,
        "a.npy",
        &npy_bytes(
            "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }",
            &f64s,
        ),
    )
    .unwrap();
    assert_eq!(
        v,
        Value::Float(ArrayD::from_shape_vec(IxDyn(&[2]), vec![1.5, -2.0]).unwrap())
    );
    let be: Vec<u8> = [1i32, -3].iter().flat_map(|v| v.to_be_bytes()).collect();
    let v = load_bytes(
        d,
        "b.npy",
        &npy_bytes(
            "{'descr': '>i4', 'fortran_order': False, 'shape': (2,), }",
            &be,
        ),
    )
    .unwrap();
    assert_eq!(
        v,
        Value::Int(ArrayD::from_shape_vec(IxDyn(&[2]), vec![1, -3]).unwrap())
    );
    let v = load_bytes(
        d,
        "c.npy",
        &npy_bytes(
            "{'descr': '|b1', 'fortran_order': False, 'shape': (3,), }",
            &[1, 0, 1],
        ),
    )
    .unwrap();
    assert_eq!(
        v,
        Value::Int(ArrayD::from_shape_vec(IxDyn(&[3]), vec![1, 0, 1]).unwrap())
    );
    let v = load_bytes(
        d,
        "d.npy",
        &npy_bytes(
            "{'descr': '|u1', 'fortran_order': False, 'shape': (1,), }",
            &[200],
        ),
    )
    .unwrap();
    assert_eq!(
        v,
        Value::Int(ArrayD::from_shape_vec(IxDyn(&[1]), vec![200]).unwrap())
    );
    let halves: Vec<u8> = [0x3c00u16, 0xc000]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    let v = load_bytes(
        d,
        "e.npy",
        &npy_bytes(
            "{'descr': '<f2', 'fortran_order': False, 'shape': (2,), }",
            &halves,
        ),
    )
    .unwrap();
    assert_eq!(
        v,
        Value::Float(ArrayD::from_shape_vec(IxDyn(&[2]), vec![1.0, -2.0]).unwrap())
    );
    let big = u64::MAX.to_le_bytes();
    let err = load_bytes(
        d,
        "f.npy",
        &npy_bytes(
            "{'descr': '<u8', 'fortran_order': False, 'shape': (1,), }",
            &big,
        ),
    )
    .unwrap_err();
    assert!(matches!(err, IoError::OutOfRange { .. }), "{err}");
}

#[test]
fn npy_fortran_order_is_transposed_into_place() {
    let dir = tempfile::tempdir().unwrap();
    // np.asfortranarray(np.arange(6, dtype=np.float32).reshape(2, 3)) stores 0 3 1 4 2 5
    let data: Vec<u8> = [0f32, 3., 1., 4., 2., 5.]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    let v = load_bytes(
        dir.path(),
        "f.npy",
        &npy_bytes(
            "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }",
            &data,
        ),
    )
    .unwrap();
    assert_eq!(v, Value::Float(floats(&[2, 3]).mapv(|x| (x + 3.0) * 4.0)));
}

// ---- hostile inputs ----

#[test]
fn missing_files_and_unknown_extensions_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let err = load_value(&dir.path().join("nope.npy")).unwrap_err();
    assert!(matches!(err, IoError::NotFound { .. }), "{err}");
    assert!(err.to_string().contains("nope.npy"));
    let err = load_value(&dir.path().join("x.txt")).unwrap_err();
    assert!(matches!(err, IoError::UnknownExtension { .. }), "{err}");
    assert!(err.to_string().contains(".txt"));
    let help = miette::Diagnostic::help(&err).unwrap().to_string();
    assert!(help.contains(".npy") && help.contains(".safetensors") && help.contains(".csv"));
    let err = load_value(dir.path()).unwrap_err();
    assert!(matches!(err, IoError::UnknownExtension { .. }), "{err}");
    let err = save_value(&dir.path().join("b.npy"), &bundle()).unwrap_err();
    assert!(matches!(err, IoError::CannotSave { .. }), "{err}");
    assert_only(dir.path(), &[]);
}

#[cfg(unix)]
#[test]
fn permission_errors_are_reported() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let locked = dir.path().join("locked");
    std::fs::create_dir(&locked).unwrap();
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o500)).unwrap();
    let result = save_value(&locked.join("a.npy"), &Value::Float(floats(&[2])));
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o700)).unwrap();
    // root ignores permissions; only check when the write was refused
    if let Err(err) = result {
        assert!(matches!(err, IoError::PermissionDenied { .. }), "{err}");
        assert!(err.to_string().contains("a.npy"));
    }
}

#[test]
fn truncated_npy_reports_expected_and_found_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let full = npy_bytes(
        "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }",
        &[0u8; 24],
    );
    let err = load_bytes(dir.path(), "t.npy", &full[..full.len() - 5]).unwrap_err();
    match &err {
        IoError::Truncated {
            expected,
            found,
            shape,
            ..
        } => {
            assert_eq!((*expected, *found, shape.as_str()), (24, 19, "2x3"));
        }
        other => panic!("wrong error {other}"),
    }
    let err = load_bytes(dir.path(), "h.npy", &full[..30]).unwrap_err();
    assert!(matches!(err, IoError::BadHeader { .. }), "{err}");
}

#[test]
fn bad_npy_headers_are_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let err = load_bytes(d, "a.npy", b"hello world, not numpy").unwrap_err();
    assert!(err.to_string().contains("not a valid npy header"), "{err}");
    let err = load_bytes(
        d,
        "b.npy",
        &npy_bytes(
            "{'descr': '<c8', 'fortran_order': False, 'shape': (1,), }",
            &[0; 8],
        ),
    )
    .unwrap_err();
    assert!(err.to_string().contains("unsupported dtype '<c8'"), "{err}");
    let err = load_bytes(
        d,
        "c.npy",
        &npy_bytes("{'descr': '<f4', 'shape': (1,), }", &[0; 4]),
    )
    .unwrap_err();
    assert!(err.to_string().contains("fortran_order"), "{err}");
    let err = load_bytes(
        d,
        "d.npy",
        &npy_bytes(
            "{'descr': '<f4', 'fortran_order': False, 'shape': (-1,), }",
            &[0; 4],
        ),
    )
    .unwrap_err();
    assert!(matches!(err, IoError::BadHeader { .. }), "{err}");
    let mut v9 = npy_bytes(
        "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }",
        &[0; 4],
    );
    v9[6] = 9;
    let err = load_bytes(d, "e.npy", &v9).unwrap_err();
    assert!(err.to_string().contains("version 9.0"), "{err}");
}

#[test]
fn huge_declared_shapes_are_refused_before_allocating() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let err = load_bytes(
        d,
        "a.npy",
        &npy_bytes(
            "{'descr': '<f4', 'fortran_order': False, 'shape': (100000, 100000, 1000), }",
            &[0; 16],
        ),
    )
    .unwrap_err();
    match &err {
        IoError::Truncated {
            expected, found, ..
        } => {
            assert_eq!((*expected, *found), (40_000_000_000_000, 16));
        }
        other => panic!("wrong error {other}"),
    }
    let err = load_bytes(
        d,
        "b.npy",
        &npy_bytes(
            "{'descr': '<f8', 'fortran_order': False, 'shape': (4294967296, 4294967296, 4), }",
            &[0; 16],
        ),
    )
    .unwrap_err();
    assert!(matches!(err, IoError::ShapeOverflow { .. }), "{err}");
}

#[test]
fn bad_safetensors_are_rejected_with_reasons() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let file = |header: &str, data: &[u8]| {
        let mut out = (header.len() as u64).to_le_bytes().to_vec();
        out.extend_from_slice(header.as_bytes());
        out.extend_from_slice(data);
        out
    };
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (b"abc".to_vec(), "fewer than the 8-byte"),
        (u64::MAX.to_le_bytes().to_vec(), "only 0 follow"),
        (file("{not json", &[]), "not a JSON object"),
        (file("[1, 2]", &[]), "not a JSON object"),
        (
            file(r#"{"a": {"dtype": "F32", "shape": [2]}}"#, &[]),
            "no \"data_offsets\"",
        ),
        (
            file(
                r#"{"a": {"dtype": "C64", "shape": [1], "data_offsets": [0, 8]}}"#,
                &[0; 8],
            ),
            "unsupported dtype 'C64'",
        ),
        (
            file(
                r#"{"a": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}}"#,
                &[0; 8],
            ),
            "needs 12 bytes",
        ),
        (
            file(
                r#"{"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}"#,
                &[0; 5],
            ),
            "needs 8 bytes, found 5",
        ),
        (
            file(
                r#"{"a": {"dtype": "F32", "shape": [4294967296, 4294967296, 4294967296], "data_offsets": [0, 8]}}"#,
                &[],
            ),
            "more elements than can be counted",
        ),
        (
            file(
                r#"{"a": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}}"#,
                &[0; 4],
            ),
            "non-negative",
        ),
    ];
    for (i, (bytes, expected)) in cases.iter().enumerate() {
        let err = load_bytes(d, &format!("c{i}.safetensors"), bytes).unwrap_err();
        assert!(err.to_string().contains(expected), "case {i}: {err}");
    }
}

#[test]
fn bad_npz_archives_are_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let err = load_bytes(d, "a.npz", b"PK\x03\x04 not really a zip").unwrap_err();
    assert!(matches!(err, IoError::BadArchive { .. }), "{err}");
    // A valid archive whose member is not an npy file: the error names the member.
    let path = d.join("b.npz");
    let mut zip = zip::ZipWriter::new(std::fs::File::create(&path).unwrap());
    zip.start_file("x.npy", zip::write::SimpleFileOptions::default())
        .unwrap();
    std::io::Write::write_all(&mut zip, b"garbage").unwrap();
    zip.finish().unwrap();
    let err = load_value(&path).unwrap_err();
    assert!(err.to_string().contains("b.npz/x.npy"), "{err}");
    // An end record claiming millions of members in a tiny file.
    let mut eocd = vec![0u8; 22];
    eocd[..4].copy_from_slice(&[0x50, 0x4b, 0x05, 0x06]);
    eocd[8..10].copy_from_slice(&0xfffeu16.to_le_bytes());
    eocd[10..12].copy_from_slice(&0xfffeu16.to_le_bytes());
    let err = load_bytes(d, "c.npz", &eocd).unwrap_err();
    assert!(err.to_string().contains("declares 65534 members"), "{err}");
}

#[test]
fn npz_members_declaring_huge_sizes_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bomb.npz");
    save_value(&path, &Value::Float(floats(&[4]))).unwrap();
    let mut bytes = std::fs::read(&path).unwrap();
    // Patch the uncompressed size in the central directory entry to 0xFFFFFFF0 (4 GiB).
    let cd = bytes
        .windows(4)
        .position(|w| w == [0x50, 0x4b, 0x01, 0x02])
        .unwrap();
    bytes[cd + 24..cd + 28].copy_from_slice(&0xffff_fff0u32.to_le_bytes());
    let err = load_bytes(dir.path(), "bomb.npz", &bytes).unwrap_err();
    assert!(
        matches!(
            err,
            IoError::SizeMismatch { .. } | IoError::OutOfMemory { .. } | IoError::BadArchive { .. }
        ),
        "{err}"
    );
}

#[test]
fn csv_errors_name_the_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let err = load_bytes(d, "a.csv", b"p0,p1,label\n1,2,3\n4,x5,6\n").unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "{}: line 3, column 2 ('p1'): 'x5' is not a number",
            d.join("a.csv").display()
        )
    );
    let err = load_bytes(d, "b.csv", b"1,2,3\n4,5\n").unwrap_err();
    assert!(
        matches!(
            err,
            IoError::CsvRagged {
                line: 2,
                expected: 3,
                found: 2,
                ..
            }
        ),
        "{err}"
    );
    let err = load_bytes(d, "c.csv", b"a,label\n1,2.5\n").unwrap_err();
    assert!(
        err.to_string().contains("'2.5' is not an integer label"),
        "{err}"
    );
    let err = load_bytes(d, "d.csv", b"").unwrap_err();
    assert!(matches!(err, IoError::CsvEmpty { .. }), "{err}");
    let err = load_bytes(d, "e.csv", b"a,b\n").unwrap_err();
    assert!(matches!(err, IoError::CsvEmpty { .. }), "{err}");
    let err = load_bytes(d, "f.csv", b"1,\xff\xfe\n").unwrap_err();
    assert!(
        matches!(err, IoError::CsvSyntax { .. } | IoError::CsvNumber { .. }),
        "{err}"
    );
}

#[test]
fn failing_saves_leave_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let nested = Value::Bundle(BTreeMap::from([("inner".to_string(), bundle())]));
    for name in ["n.npz", "n.safetensors", "n.csv"] {
        assert!(save_value(&dir.path().join(name), &nested).is_err());
    }
    assert_only(dir.path(), &[]);
}

// ---- random bytes never panic ----

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn loaders_never_panic_on_random_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let dir = tempfile::tempdir().unwrap();
        for name in ["r.npy", "r.npz", "r.safetensors", "r.csv"] {
            let _ = load_bytes(dir.path(), name, &bytes);
        }
    }

    #[test]
    fn loaders_never_panic_on_mutated_valid_files(
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        cut in any::<prop::sample::Index>(),
    ) {
        let dir = tempfile::tempdir().unwrap();
        for name in ["v.npy", "v.npz", "v.safetensors", "v.csv"] {
            let path = dir.path().join(name);
            let value = if name.ends_with(".npy") { Value::Float(floats(&[3, 4])) } else { bundle() };
            save_value(&path, &value).unwrap();
            let mut bytes = std::fs::read(&path).unwrap();
            for (at, byte) in &flips {
                let i = at.index(bytes.len());
                bytes[i] = *byte;
            }
            let _ = load_bytes(dir.path(), name, &bytes);
            let keep = cut.index(bytes.len());
            let _ = load_bytes(dir.path(), name, &bytes[..keep]);
        }
    }

    #[test]
    fn npy_headers_with_random_shapes_never_panic(dims in proptest::collection::vec(any::<u64>(), 0..5), data in 0usize..64) {
        let dir = tempfile::tempdir().unwrap();
        let shape = dims.iter().map(|d| format!("{d},")).collect::<String>();
        let bytes = npy_bytes(&format!("{{'descr': '<f4', 'fortran_order': False, 'shape': ({shape}), }}"), &vec![0u8; data]);
        let _ = load_bytes(dir.path(), "s.npy", &bytes);
    }
}

// ---- files written by numpy and the safetensors Python package (see testdata/README.md) ----

fn fixture(name: &str) -> Result<Value, IoError> {
    load_value(
        &Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("src/io/testdata")
            .join(name),
    )
}

fn float_vec(shape: &[usize], data: Vec<f32>) -> Value {
    Value::Float(ArrayD::from_shape_vec(IxDyn(shape), data).unwrap())
}

fn int_vec(shape: &[usize], data: Vec<i64>) -> Value {
    Value::Int(ArrayD::from_shape_vec(IxDyn(shape), data).unwrap())
}

#[test]
fn reads_numpy_written_files() {
    let v = fixture("compressed.npz").unwrap();
    assert_eq!(
        v.get("x"),
        Some(&float_vec(&[3, 4], (0..12).map(|i| i as f32).collect()))
    );
    assert_eq!(v.get("y"), Some(&int_vec(&[3], vec![0, 1, 2])));
    assert_eq!(
        fixture("fortran_f8.npy").unwrap(),
        float_vec(&[2, 3, 4], (0..24).map(|i| i as f32).collect())
    );
    assert_eq!(
        fixture("big_endian_i4.npy").unwrap(),
        int_vec(&[3], vec![1, -2, 300])
    );
    assert_eq!(
        fixture("half.npy").unwrap(),
        float_vec(&[3], vec![1.5, -2.0, 65504.0])
    );
    assert_eq!(
        fixture("bool.npy").unwrap(),
        int_vec(&[1, 3], vec![1, 0, 1])
    );
    let err = fixture("complex.npy").unwrap_err();
    assert!(
        err.to_string().ends_with("unsupported dtype '<c8'"),
        "{err}"
    );
    let err = fixture("structured.npy").unwrap_err();
    assert!(
        err.to_string().contains("[('a', '<f4'), ('b', '<i4')]"),
        "{err}"
    );
}

#[test]
fn reads_safetensors_of_every_common_dtype() {
    let v = fixture("mixed.safetensors").unwrap();
    assert_eq!(v.get("h"), Some(&float_vec(&[2], vec![0.5, -1.0])));
    assert_eq!(v.get("d"), Some(&float_vec(&[1, 1], vec![1.25])));
    assert_eq!(v.get("i"), Some(&int_vec(&[2], vec![-5, 6])));
    assert_eq!(v.get("u"), Some(&int_vec(&[1], vec![255])));
    assert_eq!(v.get("b"), Some(&int_vec(&[2], vec![1, 0])));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn random_tensors_round_trip_bit_for_bit(
        shape in proptest::collection::vec(0usize..4, 0..4),
        seed in any::<u32>(),
    ) {
        let n: usize = shape.iter().product();
        let bits: Vec<f32> = (0..n as u32)
            .map(|i| f32::from_bits(i.wrapping_mul(2_654_435_761).wrapping_add(seed)))
            .collect();
        let labels: Vec<i64> = (0..n as i64).map(|i| i.wrapping_mul(i64::from(seed)) - 7).collect();
        let x = ArrayD::from_shape_vec(IxDyn(&shape), bits).unwrap();
        let y = ArrayD::from_shape_vec(IxDyn(&shape), labels).unwrap();
        let dir = tempfile::tempdir().unwrap();
        for name in ["r.npy", "r.npz", "r.safetensors"] {
            let back = roundtrip(dir.path(), name, &Value::Float(x.clone()));
            let back = back.get("arr_0").or(back.get("tensor")).unwrap_or(&back).clone();
            let Value::Float(b) = back else { panic!("not float") };
            prop_assert_eq!(b.shape(), x.shape());
            prop_assert!(b.iter().zip(x.iter()).all(|(p, q)| p.to_bits() == q.to_bits()));
            let back = roundtrip(dir.path(), name, &Value::Int(y.clone()));
            let back = back.get("arr_0").or(back.get("tensor")).unwrap_or(&back).clone();
            prop_assert_eq!(back, Value::Int(y.clone()));
        }
    }
}

#[test]
fn deflated_members_that_inflate_past_their_declared_size_are_refused() {
    // numpy's compressed.npz with the central directory's unpacked sizes lowered to 16
    // bytes: the inflater stops at the declared size instead of trusting the stream.
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/io/testdata/compressed.npz");
    let mut bytes = std::fs::read(path).unwrap();
    let mut at = 0;
    while let Some(i) = bytes[at..]
        .windows(4)
        .position(|w| w == [0x50, 0x4b, 0x01, 0x02])
    {
        let cd = at + i;
        bytes[cd + 24..cd + 28].copy_from_slice(&16u32.to_le_bytes());
        at = cd + 4;
    }
    let dir = tempfile::tempdir().unwrap();
    let err = load_bytes(dir.path(), "bomb.npz", &bytes).unwrap_err();
    assert!(
        err.to_string()
            .contains("does not inflate to its declared 16 bytes"),
        "{err}"
    );
}

#[test]
fn members_declaring_more_than_eight_gib_are_refused_as_bombs() {
    // A zip64 member whose central-directory record claims 100 GiB unpacked.
    let mut buf = std::io::Cursor::new(Vec::new());
    let mut zip = zip::ZipWriter::new(&mut buf);
    let options = zip::write::SimpleFileOptions::default().large_file(true);
    zip.start_file("x.npy", options).unwrap();
    std::io::Write::write_all(&mut zip, b"tiny").unwrap();
    zip.finish().unwrap();
    let mut bytes = buf.into_inner();
    let cd = bytes
        .windows(4)
        .position(|w| w == [0x50, 0x4b, 0x01, 0x02])
        .unwrap();
    let name_len = usize::from(u16::from_le_bytes([bytes[cd + 28], bytes[cd + 29]]));
    let extra = cd + 46 + name_len;
    assert_eq!(&bytes[extra..extra + 2], &[1, 0], "zip64 extra field");
    bytes[extra + 4..extra + 12].copy_from_slice(&(100u64 << 30).to_le_bytes());
    let dir = tempfile::tempdir().unwrap();
    let err = load_bytes(dir.path(), "bomb.npz", &bytes).unwrap_err();
    assert!(matches!(err, IoError::MemberTooLarge { .. }), "{err}");
    assert!(
        err.to_string()
            .ends_with("member 'x.npy' declares 100.0 GiB unpacked, more than the 8.0 GiB cap"),
        "{err}"
    );
}
