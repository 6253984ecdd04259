//! The public conformance cases (generated from PyTorch), vendored in
//! tests/conformance with their runner, against the binary under test.

#[test]
fn public_conformance_cases_pass() {
    let bin = env!("CARGO_BIN_EXE_cnnscript");
    let out = std::process::Command::new("python3")
        .args([
            "tests/conformance/run.py",
            "--bin",
            bin,
            "tests/conformance",
        ])
        .output()
        .expect("python3 runs the conformance runner");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "conformance failures:\n{stdout}");
    assert!(stdout.contains(" 0 failed"), "{stdout}");
}
