//! Identifiers for simulated data, shaped like Apple's.

use super::Target;

/// Identifiers for simulated data: transaction ids shaped like Apple's (16 digits, `2…` in
/// Sandbox, `1…` in Production), UUIDs. Seeded once from the system's randomness; unique within
/// a generator and, with overwhelming likelihood, across runs.
#[derive(Debug, Clone)]
pub struct Ids {
    state: u64,
    base: u64,
    counter: u64,
}

const ID_SPACE: u64 = 1_000_000_000_000_000;

impl Ids {
    pub fn new() -> Self {
        Ids::seeded(uuid::Uuid::new_v4().as_u128() as u64)
    }

    pub fn seeded(seed: u64) -> Self {
        let mut ids = Ids {
            state: seed,
            base: 0,
            counter: 0,
        };
        ids.base = ids.next() % (ID_SPACE - 1_000_000_000);
        ids
    }

    /// splitmix64.
    fn next(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    pub(super) fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    pub(super) fn transaction_id(&mut self, target: &Target) -> String {
        self.counter += 1;
        let prefix = if target.is_production() { 1 } else { 2 };
        format!("{prefix}{:015}", (self.base + self.counter) % ID_SPACE)
    }

    pub fn uuid(&mut self) -> String {
        let bytes = ((u128::from(self.next()) << 64) | u128::from(self.next())).to_be_bytes();
        uuid::Builder::from_random_bytes(bytes)
            .into_uuid()
            .to_string()
    }

    pub(super) fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

impl Default for Ids {
    fn default() -> Self {
        Ids::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_shaped_like_apples() {
        let mut ids = Ids::seeded(1);
        let sandbox = Target::default();
        let a = ids.transaction_id(&sandbox);
        let b = ids.transaction_id(&sandbox);
        assert_ne!(a, b);
        assert_eq!(a.len(), 16);
        assert!(a.starts_with('2') && a.bytes().all(|c| c.is_ascii_digit()));
        let production = Target {
            environment: "Production".into(),
            ..Target::default()
        };
        assert!(ids.transaction_id(&production).starts_with('1'));
        assert_ne!(ids.uuid(), ids.uuid());
    }
}
