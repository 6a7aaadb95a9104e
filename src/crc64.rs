//! CRC-64/XZ (ECMA-182 reflected, init and xorout all ones): the value OSS reports in
//! `x-oss-hash-crc64ecma` for a whole object.
//!
//! An append continues the object's CRC over the new bytes, but a client that resumes an
//! object knows only the old CRC value, not its bytes. [`Crc64::resume`] therefore hashes the
//! new bytes on their own with the SIMD digest and joins the two values with [`combine`],
//! which costs O(log n) and never touches the old bytes.

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
/// zlib's `crc32_combine` method over GF(2): feed `len_b` zero bits through the CRC
/// register by repeated squaring of the one-zero-bit operator.
pub fn combine(crc_a: u64, crc_b: u64, len_b: u64) -> u64 {
    if len_b == 0 {
        return crc_a;
    }
    // odd: the operator for one zero bit.
    let mut odd = [0u64; 64];
    odd[0] = POLY;
    for (n, row) in odd.iter_mut().enumerate().skip(1) {
        *row = 1 << (n - 1);
    }
    let mut even = [0u64; 64];
    square(&mut even, &odd); // two zero bits
    square(&mut odd, &even); // four zero bits

    // Apply len_b zero bytes: the first squaring below gives the one-byte operator.
    let mut crc = crc_a;
    let mut len = len_b;
    loop {
        square(&mut even, &odd);
        if len & 1 != 0 {
            crc = times(&even, crc);
        }
        len >>= 1;
        if len == 0 {
            break;
        }
        square(&mut odd, &even);
        if len & 1 != 0 {
            crc = times(&odd, crc);
        }
        len >>= 1;
        if len == 0 {
            break;
        }
    }
    crc ^ crc_b
}

fn times(matrix: &[u64; 64], mut vector: u64) -> u64 {
    let mut sum = 0;
    let mut row = 0;
    while vector != 0 {
        if vector & 1 != 0 {
            sum ^= matrix[row];
        }
        vector >>= 1;
        row += 1;
    }
    sum
}

fn square(out: &mut [u64; 64], matrix: &[u64; 64]) {
    for (n, row) in out.iter_mut().enumerate() {
        *row = times(matrix, matrix[n]);
    }
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
