//! The supply of persons: test numbers grouped by age and gender, handed out once each.
//!
//! All registers draw from one pool so that a number is never given to two
//! different persons, within a file or across files; a person who is in two
//! registers is passed along explicitly instead.

use std::collections::BTreeMap;
use std::io;

use chrono::NaiveDate;

use crate::rng::SplitMix64;
use crate::{age_at_reference, testpnr};

/// One synthetic person: a birth date, a gender and their test number.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Person {
    pub(super) birth: NaiveDate,
    pub(super) woman: bool,
    /// Twelve digits, `YYYYMMDDNNNC`.
    pub(super) number: String,
}

impl Person {
    /// `YYMMDD-NNNC`, the form of the KAA register.
    pub(super) fn short_with_dash(&self) -> String {
        format!("{}-{}", &self.number[2..8], &self.number[8..])
    }

    /// `YYYYMMDD-NNNC`, the form of the payroll extract.
    pub(super) fn long_with_dash(&self) -> String {
        format!("{}-{}", &self.number[..8], &self.number[8..])
    }
}

/// Unused test numbers by (age at the reference date, woman).
pub(super) struct NumberPool {
    free: BTreeMap<(u32, bool), Vec<(NaiveDate, String)>>,
}

impl NumberPool {
    /// Every test number, shuffled within its age and gender so that drawn
    /// birth dates spread over the year instead of bunching at its start.
    pub(super) fn new(rng: &mut SplitMix64) -> Self {
        let mut free: BTreeMap<(u32, bool), Vec<(NaiveDate, String)>> = BTreeMap::new();
        for woman in [false, true] {
            for (birth, number) in
                testpnr::numbers_between(testpnr::FIRST_BIRTH_DATE, testpnr::LAST_BIRTH_DATE, woman)
            {
                if let Some(age) = age_at_reference(birth) {
                    free.entry((age, woman)).or_default().push((birth, number));
                }
            }
        }
        // BTreeMap order makes the shuffles, and so the output, reproducible.
        for numbers in free.values_mut() {
            rng.shuffle(numbers);
        }
        Self { free }
    }

    /// Takes an unused person of `age` and gender whose birth date `accept`s.
    pub(super) fn take(
        &mut self,
        age: u32,
        woman: bool,
        accept: impl Fn(NaiveDate) -> bool,
    ) -> io::Result<Person> {
        let exhausted = || {
            io::Error::other(format!(
                "no unused test number left for age {age}, woman {woman}"
            ))
        };
        let numbers = self.free.get_mut(&(age, woman)).ok_or_else(exhausted)?;
        let at = numbers
            .iter()
            .position(|&(birth, _)| accept(birth))
            .ok_or_else(exhausted)?;
        let (birth, number) = numbers.remove(at);
        Ok(Person {
            birth,
            woman,
            number,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn persons_are_unique_and_of_the_asked_age() {
        let mut rng = SplitMix64::new(3);
        let mut pool = NumberPool::new(&mut rng);
        let mut seen = std::collections::BTreeSet::new();
        for age in 16..=24 {
            for woman in [false, true] {
                for _ in 0..100 {
                    let person = pool.take(age, woman, |_| true).expect("pool holds 100");
                    assert_eq!(age_at_reference(person.birth), Some(age));
                    assert_eq!(person.woman, woman);
                    assert!(seen.insert(person.number));
                }
            }
        }
    }

    #[test]
    fn exhaustion_is_an_error() {
        let mut rng = SplitMix64::new(3);
        let mut pool = NumberPool::new(&mut rng);
        assert!(pool.take(30, true, |_| true).is_err());
        assert!(pool.take(20, true, |_| false).is_err());
    }
}
