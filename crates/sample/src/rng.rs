//! The seeded pseudo-random generator behind every "random" choice in the samples.
//!
//! Written here (SplitMix64) instead of taken from a crate so that the sample
//! bytes can never change because a dependency changed its algorithm.

/// SplitMix64 (Steele, Lea and Flood), one 64-bit word of state.
pub(super) struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    pub(super) fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    pub(super) fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A value in `0..n` (`0` for `n == 0`), by multiply-shift: its bias is
    /// far below anything a sample could show.
    pub(super) fn below(&mut self, n: usize) -> usize {
        ((u128::from(self.next_u64()) * n as u128) >> 64) as usize
    }

    /// A value in `low..=high`.
    pub(super) fn between(&mut self, low: u32, high: u32) -> u32 {
        let span = (high - low) as usize + 1;
        low + self.below(span) as u32
    }

    /// Fisher–Yates shuffle.
    pub(super) fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i + 1);
            items.swap(i, j);
        }
    }

    /// A shuffled list holding each value as often as its count says: the way
    /// a published marginal becomes per-person attributes.
    pub(super) fn shuffled<T: Copy>(&mut self, counts: &[(T, usize)]) -> Vec<T> {
        let mut items: Vec<T> = counts
            .iter()
            .flat_map(|&(value, count)| std::iter::repeat_n(value, count))
            .collect();
        self.shuffle(&mut items);
        items
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix64_reference_values() {
        // First outputs for seed 0 of the reference implementation.
        let mut rng = SplitMix64::new(0);
        assert_eq!(rng.next_u64(), 0xE220_A839_7B1D_CDAF);
        assert_eq!(rng.next_u64(), 0x6E78_9E6A_A1B9_65F4);
    }

    #[test]
    fn shuffled_keeps_the_counts() {
        let mut rng = SplitMix64::new(7);
        let items = rng.shuffled(&[("a", 3), ("b", 0), ("c", 2)]);
        assert_eq!(items.len(), 5);
        assert_eq!(items.iter().filter(|&&v| v == "a").count(), 3);
        assert_eq!(items.iter().filter(|&&v| v == "c").count(), 2);
    }

    #[test]
    fn between_stays_in_range() {
        let mut rng = SplitMix64::new(1);
        for _ in 0..1000 {
            let v = rng.between(4, 9);
            assert!((4..=9).contains(&v));
        }
    }
}
