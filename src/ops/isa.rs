//! Which kernel family runs: the one place the CPU is asked.
//!
//! Every kernel entry point takes [`current`] once and passes the [`Isa`]
//! down to the code it calls, worker threads included, so one call never
//! mixes families. `CNNSCRIPT_ISA=avx512|avx2|portable` pins the family for
//! the whole process (default: the best this CPU has); tests pin it per
//! thread with [`with`], which cannot race between tests running side by
//! side.
//!
//! | family | matrix products | convolution | vector loops (pool, losses, direct conv) |
//! |---|---|---|---|
//! | `avx512` | own 16-wide kernel | implicit GEMM, masked depthwise | AVX2+FMA copies |
//! | `avx2` | `gemm` crate | im2col / wide rows + GEMM, direct depthwise | AVX2+FMA copies |
//! | `portable` | `gemm` crate | im2col / wide rows + GEMM, direct depthwise | baseline copies |
//!
//! The `gemm` crate picks its own micro-kernel at run time (AVX2+FMA, NEON
//! or scalar); `portable` means no instruction-set-specific code of ours.

use std::cell::Cell;
use std::fmt;
use std::sync::OnceLock;

/// A kernel family, as named by `CNNSCRIPT_ISA`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Family {
    /// Plain Rust, compiled for the build target (SSE2 on x86-64, NEON on aarch64).
    Portable,
    /// x86-64 with AVX2 and FMA.
    Avx2,
    /// x86-64 with AVX-512F (and AVX2, FMA).
    Avx512,
}

impl Family {
    /// Every family, best first.
    pub const ALL: [Family; 3] = [Family::Avx512, Family::Avx2, Family::Portable];

    /// The value `CNNSCRIPT_ISA` takes for this family.
    pub fn name(self) -> &'static str {
        match self {
            Family::Portable => "portable",
            Family::Avx2 => "avx2",
            Family::Avx512 => "avx512",
        }
    }

    /// Parse a `CNNSCRIPT_ISA` value (ASCII case and surrounding blanks ignored).
    pub fn parse(text: &str) -> Option<Family> {
        let text = text.trim();
        Family::ALL
            .into_iter()
            .find(|f| f.name().eq_ignore_ascii_case(text))
    }

    /// Whether this CPU can run the family.
    fn supported(self) -> bool {
        match self {
            Family::Portable => true,
            Family::Avx2 => cpu().avx2_fma,
            Family::Avx512 => cpu().avx2_fma && cpu().avx512f,
        }
    }
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A kernel family this CPU supports. The field is private and every
/// constructor checks the CPU first, so holding an `Isa` whose family is
/// `Avx2` or `Avx512` is proof that those instructions may run: the
/// `unsafe` calls into `#[target_feature]` code rely on exactly that.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Isa(Family);

impl Isa {
    /// `family` if this CPU supports it.
    pub fn new(family: Family) -> Option<Isa> {
        family.supported().then_some(Isa(family))
    }

    /// The best family this CPU has.
    pub fn best() -> Isa {
        Family::ALL
            .into_iter()
            .find_map(Isa::new)
            .unwrap_or(Isa(Family::Portable))
    }

    /// Every family this CPU supports, best first (always ends with portable).
    pub fn supported() -> Vec<Isa> {
        Family::ALL.into_iter().filter_map(Isa::new).collect()
    }

    pub fn family(self) -> Family {
        self.0
    }

    /// AVX-512F (and AVX2, FMA) may run.
    // Only x86-64 has kernels that ask (here and below).
    #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
    pub(crate) fn avx512(self) -> bool {
        self.0 == Family::Avx512
    }

    /// AVX2 and FMA may run.
    #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
    pub(crate) fn avx2_fma(self) -> bool {
        self.0 >= Family::Avx2
    }
}

/// What the CPU reported, asked once.
struct Cpu {
    avx2_fma: bool,
    avx512f: bool,
}

fn cpu() -> &'static Cpu {
    static CPU: OnceLock<Cpu> = OnceLock::new();
    CPU.get_or_init(|| {
        #[cfg(target_arch = "x86_64")]
        {
            use std::arch::is_x86_feature_detected as has;
            Cpu {
                avx2_fma: has!("avx2") && has!("fma"),
                avx512f: has!("avx512f"),
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        Cpu {
            avx2_fma: false,
            avx512f: false,
        }
    })
}

/// The family `CNNSCRIPT_ISA` asks for, or why it cannot be had; `Ok(None)`
/// when the variable is unset or empty.
fn requested(value: Option<&str>) -> Result<Option<Isa>, String> {
    let Some(value) = value.filter(|v| !v.trim().is_empty()) else {
        return Ok(None);
    };
    let Some(family) = Family::parse(value) else {
        return Err(format!(
            "CNNSCRIPT_ISA={value:?} is not one of avx512, avx2, portable"
        ));
    };
    match Isa::new(family) {
        Some(isa) => Ok(Some(isa)),
        None => Err(format!(
            "CNNSCRIPT_ISA={family}: this CPU does not support the {family} kernels"
        )),
    }
}

/// The process-wide family: `CNNSCRIPT_ISA` if it names one this CPU has,
/// else the best. A value that cannot be honoured is reported once on
/// stderr, then the best family runs.
pub fn selected() -> Isa {
    static SELECTED: OnceLock<Isa> = OnceLock::new();
    *SELECTED.get_or_init(|| {
        let value = std::env::var("CNNSCRIPT_ISA").ok();
        match requested(value.as_deref()) {
            Ok(isa) => isa.unwrap_or_else(Isa::best),
            Err(why) => {
                let best = Isa::best();
                eprintln!("warning: {why}; using {}", best.family());
                best
            }
        }
    })
}

thread_local! {
    /// The family [`with`] pinned on this thread, if any.
    static PINNED: Cell<Option<Isa>> = const { Cell::new(None) };
}

/// The family kernel calls made on this thread use now.
pub fn current() -> Isa {
    PINNED.get().unwrap_or_else(selected)
}

/// Run `f` with `isa` as this thread's family (restored afterwards, also
/// on panic). Kernels called inside pass it on to their worker threads.
pub fn with<R>(isa: Isa, f: impl FnOnce() -> R) -> R {
    struct Restore(Option<Isa>);
    impl Drop for Restore {
        fn drop(&mut self) {
            PINNED.set(self.0);
        }
    }
    let _restore = Restore(PINNED.replace(Some(isa)));
    f()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_and_rejects_others() {
        assert_eq!(Family::parse("avx512"), Some(Family::Avx512));
        assert_eq!(Family::parse(" AVX2 "), Some(Family::Avx2));
        assert_eq!(Family::parse("portable"), Some(Family::Portable));
        assert_eq!(Family::parse("sse9"), None);
        assert_eq!(requested(None), Ok(None));
        assert_eq!(requested(Some("  ")), Ok(None));
        let err = requested(Some("neon512")).unwrap_err();
        assert!(err.contains("not one of avx512, avx2, portable"), "{err}");
        assert_eq!(requested(Some("portable")), Ok(Some(Isa(Family::Portable))));
    }

    #[test]
    fn unsupported_family_is_an_error_not_a_value() {
        for family in Family::ALL {
            match Isa::new(family) {
                Some(isa) => {
                    assert_eq!(requested(Some(family.name())), Ok(Some(isa)));
                }
                None => {
                    let err = requested(Some(family.name())).unwrap_err();
                    assert!(err.contains("does not support"), "{err}");
                }
            }
        }
        // Portable runs everywhere and is always the last choice.
        assert_eq!(Isa::supported().last(), Some(&Isa(Family::Portable)));
        assert_eq!(Isa::supported()[0], Isa::best());
    }

    #[test]
    fn pinning_is_per_thread_and_restored() {
        let portable = Isa::new(Family::Portable).expect("portable runs everywhere");
        let before = current();
        let inner = with(portable, || {
            // Another thread does not see this thread's pin.
            let other = std::thread::spawn(current).join().expect("thread runs");
            assert_eq!(other, selected());
            current()
        });
        assert_eq!(inner, portable);
        assert_eq!(current(), before);
        let caught = std::panic::catch_unwind(|| with(portable, || panic!("inside")));
        assert!(caught.is_err());
        assert_eq!(current(), before);
    }
}
