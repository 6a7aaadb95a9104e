//! CRC-64/XZ (ECMA-182 reflected, init and xorout all ones): the value OSS reports in
//! `x-oss-hash-crc64ecma` for a whole object.
//!
//! An append continues the object's CRC over the new bytes, but a client that resumes an
//! object knows only the old CRC value, not its bytes. [`Crc64::resume`] therefore hashes the
//! new bytes on their own with the SIMD digest and joins the two values with [`combine`],
//! which costs one multiplication per set bit of the length and never touches the old bytes.

/// The reflected ECMA-182 polynomial.
const POLY: u64 = 0xC96C_5795_D787_0F42;

/// CRC-64 of `data`.
pub fn checksum(data: &[u8]) -> u64 {
    let mut digest = crc64fast::Digest::new();
    digest.write(data);
    digest.sum64()
}

/// The CRC-64 of `A ++ B` from `crc(A)`, `crc(B)` and the length of `B`.
///
/// Appending `len_b` zero bytes multiplies the register by x^(8 len_b) mod P; that power is
/// built from the table of x^(2^k) mod P with one multiplication per set bit of the length
/// (zlib's `crc32_combine` since 1.2.12). Well under a microsecond for any length, so it can
/// run once per append: the earlier matrix-squaring method took tens of microseconds.
pub fn combine(crc_a: u64, crc_b: u64, len_b: u64) -> u64 {
    if crc_a == 0 {
        // Zero times any power is zero: an empty start (as every request body has) costs
        // nothing.
        return crc_b;
    }
    multiply(x_to_the_8n(len_b), crc_a) ^ crc_b
}

/// x^0 (the polynomial 1) in the reflected bit order.
const ONE: u64 = 1 << 63;

/// a(x) * b(x) mod P, both reflected.
const fn multiply(mut a: u64, mut b: u64) -> u64 {
    let mut product = 0;
    // Shift and add: the top bit of `a` is the coefficient of x^0, and the loop ends after
    // the highest power of `a`.
    while a != 0 {
        product ^= b & 0u64.wrapping_sub(a >> 63);
        a <<= 1;
        b = (b >> 1) ^ (POLY & 0u64.wrapping_sub(b & 1));
    }
    product
}

/// x^(2^k) mod P for k = 0..67: enough for 8 times any 64-bit length.
const POWERS: [u64; 67] = {
    let mut table = [0u64; 67];
    table[0] = ONE >> 1; // x^1
    let mut k = 1;
    while k < table.len() {
        table[k] = multiply(table[k - 1], table[k - 1]);
        k += 1;
    }
    table
};

/// x^(8 n) mod P: the operator that feeds n zero bytes through the register.
const fn x_to_the_8n(mut n: u64) -> u64 {
    let mut power = ONE;
    let mut k = 3; // 8 n = n << 3
    while n != 0 {
        if n & 1 != 0 {
            // `multiply` steps up to the degree of its first argument: the first power
            // taken is multiplied by 1, in one step.
            power = multiply(power, POWERS[k]);
        }
        n >>= 1;
        k += 1;
    }
    power
}

/// A running CRC-64 that may start from an object's existing CRC.
#[derive(Clone)]
pub struct Crc64 {
    base: u64,
    digest: crc64fast::Digest,
    len: u64,
}

impl Crc64 {
    /// A CRC-64 of nothing yet (an empty object's CRC is 0).
    pub fn new() -> Self {
        Self::resume(0)
    }

    /// Continues an object whose CRC-64 so far is `crc`.
    pub fn resume(crc: u64) -> Self {
        Crc64 {
            base: crc,
            digest: crc64fast::Digest::new(),
            len: 0,
        }
    }

    /// Feeds the next bytes.
    pub fn update(&mut self, data: &[u8]) {
        self.digest.write(data);
        self.len += data.len() as u64;
    }

    /// The CRC-64 of the base object followed by every byte fed so far.
    pub fn value(&self) -> u64 {
        combine(self.base, self.digest.sum64(), self.len)
    }
}

impl Default for Crc64 {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BROADCAST: &[u8] = b"This is a test of the emergency broadcast system.";

    #[test]
    fn check_values_from_the_protocol_facts() {
        assert_eq!(checksum(b""), 0);
        assert_eq!(checksum(b"123456789"), 11051210869376104954);
        assert_eq!(checksum(BROADCAST), 2871916124362751090);
        assert_eq!(checksum(b"hi oss,append object"), 2313496259928504459);
    }

    #[test]
    fn combine_joins_two_crcs_like_hashing_the_concatenation() {
        let joined = combine(
            checksum(b"123456789"),
            checksum(BROADCAST),
            BROADCAST.len() as u64,
        );
        assert_eq!(joined, 7672622622872733320);
        assert_eq!(combine(12345, 0, 0), 12345);
    }

    #[test]
    fn resume_continues_an_object_known_only_by_its_crc() {
        let mut crc = Crc64::resume(2313496259928504459);
        crc.update(b",this is a demo");
        assert_eq!(crc.value(), 8586970469916596321);
    }

    #[test]
    fn resume_over_many_pieces_equals_one_pass() {
        let data: Vec<u8> = (0..100_000u32).map(|i| (i * 7 + i / 13) as u8).collect();
        let mut crc = Crc64::new();
        for piece in data.chunks(4093) {
            crc.update(piece);
        }
        assert_eq!(crc.value(), checksum(&data));
        let (head, tail) = data.split_at(31_337);
        let mut resumed = Crc64::resume(checksum(head));
        resumed.update(tail);
        assert_eq!(resumed.value(), checksum(&data));
    }
}

/// Random input against an oracle that is not ours: crc64fast's digest of the bytes in one
/// pass. `make fuzz` runs these with far more cases.
#[cfg(test)]
mod properties {
    use super::{checksum, combine, Crc64};
    use proptest::prelude::*;
    use proptest::sample::Index;

    /// Proptest's defaults (PROPTEST_CASES included, so `make fuzz` scales them) with no
    /// failure file written into the tree, and `divisor` times fewer cases for properties
    /// that hash kilobytes per case.
    fn config(divisor: u32) -> ProptestConfig {
        let defaults = ProptestConfig::default();
        ProptestConfig {
            cases: (defaults.cases / divisor).max(1),
            failure_persistence: None,
            ..defaults
        }
    }

    /// The oracle: crc64fast's digest of the bytes in one pass.
    fn one_pass(parts: &[&[u8]]) -> u64 {
        let mut digest = crc64fast::Digest::new();
        for part in parts {
            digest.write(part);
        }
        digest.sum64()
    }

    proptest! {
        #![proptest_config(config(4))]

        /// combine(crc(a), crc(b), len(b)) is the CRC of a ++ b.
        #[test]
        fn combine_is_the_crc_of_the_concatenation(
            a in prop::collection::vec(any::<u8>(), 0..2048),
            b in prop::collection::vec(any::<u8>(), 0..2048),
        ) {
            let joined = combine(checksum(&a), checksum(&b), b.len() as u64);
            prop_assert_eq!(joined, one_pass(&[&a, &b]));
        }

        /// A Crc64 resumed from crc(a) and fed b in random pieces is the CRC of a ++ b; a new
        /// one fed the same pieces is the CRC of b.
        #[test]
        fn resumed_crcs_in_pieces_equal_one_pass(
            a in prop::collection::vec(any::<u8>(), 0..2048),
            b in prop::collection::vec(any::<u8>(), 0..4096),
            cuts in prop::collection::vec(any::<Index>(), 0..8),
        ) {
            let mut cuts: Vec<usize> = cuts.iter().map(|c| c.index(b.len() + 1)).collect();
            cuts.sort_unstable();
            let mut resumed = Crc64::resume(checksum(&a));
            let mut fresh = Crc64::new();
            let mut from = 0;
            for to in cuts.into_iter().chain([b.len()]) {
                resumed.update(&b[from..to]);
                fresh.update(&b[from..to]);
                from = to;
            }
            prop_assert_eq!(resumed.value(), one_pass(&[&a, &b]));
            prop_assert_eq!(fresh.value(), one_pass(&[&b]));
        }
    }

    proptest! {
        #![proptest_config(config(1))]

        /// Over any CRCs and lengths up to u64's (objects never hashed here): joining is
        /// associative, so resuming from a resumed CRC is the same as resuming once, and
        /// joining nothing changes nothing.
        #[test]
        fn combine_is_associative_for_any_lengths(
            (x, y, z) in any::<(u64, u64, u64)>(),
            len_y in any::<u64>(),
            len_z in any::<u64>(),
        ) {
            let len_z = len_z.min(u64::MAX - len_y);
            let left = combine(combine(x, y, len_y), z, len_z);
            let right = combine(x, combine(y, z, len_z), len_y + len_z);
            prop_assert_eq!(left, right);
            prop_assert_eq!(combine(x, 0, 0), x);
        }
    }
}
