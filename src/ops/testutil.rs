//! Helpers shared by the kernel tests: the kernel families to run, seeded
//! random data, tolerant comparison and central-difference gradients.

use super::isa::{self, Isa};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The kernel families to test: the one `CNNSCRIPT_ISA` pins for the whole
/// process (how `.ci/run` runs the kernel tests once per family), else every
/// family this CPU supports.
pub fn families() -> Vec<Isa> {
    match std::env::var("CNNSCRIPT_ISA") {
        Ok(value) if !value.trim().is_empty() => vec![isa::selected()],
        _ => Isa::supported(),
    }
}

/// Run `f` once per family of [`families`], pinned on this thread (so tests
/// running side by side do not disturb each other); a failure names the family.
pub fn for_each_isa(f: impl Fn(Isa)) {
    for isa in families() {
        let run = std::panic::AssertUnwindSafe(|| isa::with(isa, || f(isa)));
        if let Err(panic) = std::panic::catch_unwind(run) {
            eprintln!("(kernel family: {})", isa.family());
            std::panic::resume_unwind(panic);
        }
    }
}

/// Run `f` on a private rayon pool of `threads` threads (parallel paths
/// whatever the machine's core count), keeping this thread's kernel family.
pub fn on_threads<R: Send>(threads: usize, f: impl FnOnce() -> R + Send) -> R {
    let family = isa::current();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("a test thread pool");
    pool.install(|| isa::with(family, f))
}

/// `len` values uniform in [-1, 1), reproducible from `seed`.
pub fn random_vec(len: usize, seed: u64) -> Vec<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..len).map(|_| rng.random_range(-1.0f32..1.0)).collect()
}

/// Widen to f64 for reference computations.
pub fn to_f64(values: &[f32]) -> Vec<f64> {
    values.iter().map(|&v| v as f64).collect()
}

/// Element-wise |actual − expected| ≤ tol·(1 + |expected|).
pub fn assert_close<E: Copy + Into<f64>>(actual: &[f32], expected: &[E], tol: f64) {
    assert_eq!(actual.len(), expected.len(), "length mismatch");
    for (i, (&a, &e)) in actual.iter().zip(expected).enumerate() {
        let e: f64 = e.into();
        let diff = (a as f64 - e).abs();
        assert!(
            diff <= tol * (1.0 + e.abs()),
            "element {i}: got {a}, expected {e} (diff {diff})"
        );
    }
}

/// Central differences ∂f/∂x_i ≈ (f(x + εe_i) − f(x − εe_i)) / 2ε, in f64.
pub fn numeric_grad(f: impl Fn(&[f64]) -> f64, x: &[f64], eps: f64) -> Vec<f64> {
    let mut probe = x.to_vec();
    (0..x.len())
        .map(|i| {
            probe[i] = x[i] + eps;
            let up = f(&probe);
            probe[i] = x[i] - eps;
            let down = f(&probe);
            probe[i] = x[i];
            (up - down) / (2.0 * eps)
        })
        .collect()
}

/// Σ dy·y: the scalar whose gradient w.r.t. y is `dy`, used to turn a
/// forward function into something `numeric_grad` can differentiate.
pub fn dot(dy: &[f64], y: &[f64]) -> f64 {
    dy.iter().zip(y).map(|(a, b)| a * b).sum()
}
