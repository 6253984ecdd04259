//! The machine's measured f32 FMA peak, the yardstick of the GFLOP/s
//! figures in BENCHMARKS.md: twelve independent chains of vector FMAs
//! (enough to cover the FMA latency on two ports) per thread, on one
//! thread and on every thread rayon gives the kernels. `cargo bench --bench
//! peak`; criterion's `elem/s` is FLOP/s (an FMA counts two).

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use std::time::Duration;

/// Independent accumulator chains.
const CHAINS: usize = 12;
/// FMAs per chain per call.
const ROUNDS: usize = 1_000_000;

/// One vector width's FMA loop: returns a value that depends on every
/// chain, so no FMA can be dropped.
struct Kernel {
    name: &'static str,
    lanes: usize,
    run: fn(usize) -> f32,
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::CHAINS;
    use criterion::black_box;
    use std::arch::x86_64::*;

    /// # Safety
    /// The CPU must have AVX-512F (checked by the caller).
    #[target_feature(enable = "avx512f")]
    unsafe fn avx512(rounds: usize) -> f32 {
        let (b, c) = (_mm512_set1_ps(black_box(0.999_9)), _mm512_set1_ps(1e-4));
        // Opaque starting values: from a constant start the compiler
        // would find the chain's fixed point and drop the loop.
        let mut acc = [_mm512_set1_ps(black_box(0.5)); CHAINS];
        for _ in 0..rounds {
            for a in acc.iter_mut() {
                *a = _mm512_fmadd_ps(*a, b, c);
            }
        }
        acc.iter().map(|&a| _mm512_reduce_add_ps(a)).sum()
    }

    /// # Safety
    /// The CPU must have AVX2 and FMA (checked by the caller).
    #[target_feature(enable = "avx2,fma")]
    unsafe fn avx2(rounds: usize) -> f32 {
        let (b, c) = (_mm256_set1_ps(black_box(0.999_9)), _mm256_set1_ps(1e-4));
        let mut acc = [_mm256_set1_ps(black_box(0.5)); CHAINS];
        for _ in 0..rounds {
            for a in acc.iter_mut() {
                *a = _mm256_fmadd_ps(*a, b, c);
            }
        }
        let mut lanes = [0.0f32; 8];
        let mut sum = 0.0;
        for a in acc {
            _mm256_storeu_ps(lanes.as_mut_ptr(), a);
            sum += lanes.iter().sum::<f32>();
        }
        sum
    }

    pub fn kernels() -> Vec<super::Kernel> {
        let mut found = Vec::new();
        if is_x86_feature_detected!("avx512f") {
            found.push(super::Kernel {
                name: "avx512",
                lanes: 16,
                // SAFETY: avx512f was detected just above.
                run: |rounds| unsafe { avx512(rounds) },
            });
        }
        if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
            found.push(super::Kernel {
                name: "avx2",
                lanes: 8,
                // SAFETY: avx2 and fma were detected just above.
                run: |rounds| unsafe { avx2(rounds) },
            });
        }
        found
    }
}

#[cfg(target_arch = "aarch64")]
mod arm {
    use super::CHAINS;
    use criterion::black_box;
    use std::arch::aarch64::*;

    fn neon(rounds: usize) -> f32 {
        // SAFETY: NEON is part of the aarch64 baseline.
        unsafe {
            let (b, c) = (vdupq_n_f32(black_box(0.999_9)), vdupq_n_f32(1e-4));
            let mut acc = [vdupq_n_f32(black_box(0.5)); CHAINS];
            for _ in 0..rounds {
                for a in acc.iter_mut() {
                    *a = vfmaq_f32(c, *a, b);
                }
            }
            acc.iter().map(|&a| vaddvq_f32(a)).sum()
        }
    }

    pub fn kernels() -> Vec<super::Kernel> {
        vec![super::Kernel {
            name: "neon",
            lanes: 4,
            run: neon,
        }]
    }
}

fn kernels() -> Vec<Kernel> {
    #[cfg(target_arch = "x86_64")]
    return x86::kernels();
    #[cfg(target_arch = "aarch64")]
    return arm::kernels();
    #[allow(unreachable_code)]
    Vec::new()
}

fn peak(c: &mut Criterion) {
    let found = kernels();
    if found.is_empty() {
        eprintln!("SKIPPED: fma peak: no vector FMA kernel for this architecture");
    }
    let all = rayon::current_num_threads();
    let mut group = c.benchmark_group("fma peak");
    group
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    for kernel in &found {
        for threads in [1, all] {
            let flops = 2 * CHAINS * ROUNDS * kernel.lanes * threads;
            group.throughput(Throughput::Elements(flops as u64));
            let name = format!("{} x{threads} thread(s)", kernel.name);
            group.bench_function(name, |b| {
                b.iter(|| {
                    std::thread::scope(|s| {
                        let handles: Vec<_> = (0..threads)
                            .map(|_| s.spawn(|| (kernel.run)(black_box(ROUNDS))))
                            .collect();
                        handles
                            .into_iter()
                            .map(|h| h.join().unwrap_or(f32::NAN))
                            .sum::<f32>()
                    })
                })
            });
            if all == 1 {
                break;
            }
        }
    }
    group.finish();
}

criterion_group!(benches, peak);
criterion_main!(benches);
