//! Cases by number: case `i` of a run with seed `s` is always the same
//! bytes, so a supervisor can save the case a crashed worker was running,
//! and `--print-case` can show any case again.

use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::files::FORMATS;
use crate::{gen, mutate};

/// Where a script case comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// Generated from the grammar to check and run.
    Valid,
    /// A valid script with one small change.
    NearValid,
    /// Long lines, deep nesting, absurd numbers and shapes, odd bytes.
    Stress,
    /// A script of the repository, mutated.
    Mutated,
}

impl Origin {
    pub const ALL: [Origin; 4] = [
        Origin::Valid,
        Origin::NearValid,
        Origin::Stress,
        Origin::Mutated,
    ];
    pub fn code(self) -> char {
        match self {
            Origin::Valid => 'V',
            Origin::NearValid => 'N',
            Origin::Stress => 'S',
            Origin::Mutated => 'M',
        }
    }
    pub fn words(self) -> &'static str {
        match self {
            Origin::Valid => "generated valid",
            Origin::NearValid => "generated near-valid",
            Origin::Stress => "stress",
            Origin::Mutated => "mutated repository scripts",
        }
    }
}

/// What a case is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Script(Origin),
    /// A data file of `FORMATS[i]`.
    File(usize),
}

impl Kind {
    /// One letter for the worker protocol: the origin, or the format's digit.
    pub fn code(self) -> char {
        match self {
            Kind::Script(o) => o.code(),
            Kind::File(f) => char::from(b'0' + f as u8),
        }
    }
    /// The file extension a saved case gets.
    pub fn ext(self) -> &'static str {
        match self {
            Kind::Script(_) => "cnn",
            Kind::File(f) => FORMATS[f],
        }
    }
}

/// One case.
pub struct Case {
    pub kind: Kind,
    pub bytes: Vec<u8>,
}

/// The cases of a run: `scripts` script cases, then `files` cases per format.
#[derive(Clone)]
pub struct Plan {
    pub seed: u64,
    pub scripts: u64,
    pub files: u64,
    seeds: std::sync::Arc<Vec<String>>,
}

impl Plan {
    pub fn new(seed: u64, scripts: u64, files: u64) -> Plan {
        let seeds = crate::corpus::seeds().into_iter().map(|(_, t)| t).collect();
        Plan {
            seed,
            scripts,
            files,
            seeds: std::sync::Arc::new(seeds),
        }
    }

    /// Every case number.
    pub fn total(&self) -> u64 {
        self.scripts + self.files * FORMATS.len() as u64
    }

    /// Scripts to mutate.
    pub fn seed_count(&self) -> usize {
        self.seeds.len()
    }

    /// Case `index`.
    pub fn case(&self, index: u64) -> Case {
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        rng.set_stream(index);
        if index >= self.scripts {
            let f = ((index - self.scripts) % FORMATS.len() as u64) as usize;
            return Case {
                kind: Kind::File(f),
                bytes: crate::files::case(&mut rng, FORMATS[f]),
            };
        }
        let origin = match rng.random_range(0..100) {
            0..=39 => Origin::Valid,
            40..=59 => Origin::NearValid,
            60..=74 => Origin::Stress,
            _ => Origin::Mutated,
        };
        let bytes = match origin {
            Origin::Valid => gen::valid(&mut rng).into_bytes(),
            Origin::NearValid => {
                let text = gen::valid(&mut rng);
                mutate::mutate(&mut rng, &text, 1).into_bytes()
            }
            Origin::Stress => {
                let text = gen::valid(&mut rng);
                gen::stress(&mut rng, &text)
            }
            Origin::Mutated => {
                let base = match self.seeds.choose(&mut rng) {
                    Some(s) => s.clone(),
                    None => gen::valid(&mut rng),
                };
                let ops = rng.random_range(1..7);
                mutate::mutate(&mut rng, &base, ops).into_bytes()
            }
        };
        Case {
            kind: Kind::Script(origin),
            bytes,
        }
    }
}
