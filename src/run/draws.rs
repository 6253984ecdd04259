//! The script's random draws that other tools must reproduce: shuffles
//! (`split`, epoch orders) share one routine, and while an `Interp` records
//! (the exporters' dry run, `run/dryrun.rs`), every draw is noted with the
//! span that made it.

use ndarray::ArrayD;
use rand::Rng;

use crate::syntax::ast::Span;

/// One noted draw.
#[derive(Clone, Debug, PartialEq)]
pub enum Draw {
    /// The values of `rand(D)`.
    Uniform(ArrayD<f32>),
    /// The values of `randn(D)`.
    Normal(ArrayD<f32>),
    /// The rows `split(D, f)` puts first and the rest.
    Split { first: Vec<usize>, rest: Vec<usize> },
    /// One epoch's shuffled order of the training rows.
    Order(Vec<usize>),
}

/// Shuffle in place (Fisher–Yates from the end), as `split` and every epoch do.
pub fn shuffle(rng: &mut impl Rng, order: &mut [usize]) {
    for i in (1..order.len()).rev() {
        let j = rng.random_range(0..=i);
        order.swap(i, j);
    }
}

/// Draws noted in the order they happened, each with the span of its call
/// (`rand`, `split`) or statement (`train`).
pub type DrawLog = Vec<(Span, Draw)>;

impl super::Interp {
    /// Note a draw when recording; free otherwise.
    pub fn note_draw(&mut self, span: Span, draw: impl FnOnce() -> Draw) {
        if let Some(log) = &mut self.draws {
            log.push((span, draw()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn shuffle_is_a_seeded_permutation() {
        let mut a: Vec<usize> = (0..50).collect();
        let mut b = a.clone();
        shuffle(&mut ChaCha8Rng::seed_from_u64(3), &mut a);
        shuffle(&mut ChaCha8Rng::seed_from_u64(3), &mut b);
        assert_eq!(a, b);
        assert_ne!(a, (0..50).collect::<Vec<_>>());
        let mut sorted = a.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..50).collect::<Vec<_>>());
    }

    #[test]
    fn nothing_is_noted_unless_recording() {
        let mut interp = super::super::Interp::new();
        interp.note_draw(Span::default(), || Draw::Order(vec![1]));
        assert!(interp.draws.is_none());
        interp.draws = Some(Vec::new());
        interp.note_draw(Span::new(1, 2), || Draw::Order(vec![1]));
        assert_eq!(
            interp.draws,
            Some(vec![(Span::new(1, 2), Draw::Order(vec![1]))])
        );
    }
}
