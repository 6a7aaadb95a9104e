//! Integers as decimal text without `fmt` or the heap: every append carries its position and
//! length this way, and `fmt` with a `String` costs more than the rest of a small request's head.

/// A `u64` in decimal digits, held on the stack.
pub(crate) struct Decimal {
    digits: [u8; 20],
    start: usize,
}

impl Decimal {
    pub fn new(mut n: u64) -> Decimal {
        let mut digits = [b'0'; 20];
        let mut start = digits.len();
        loop {
            start -= 1;
            digits[start] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        Decimal { digits, start }
    }

    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.digits[self.start..]).expect("only ASCII digits are written")
    }
}

#[cfg(test)]
mod tests {
    use super::Decimal;

    #[test]
    fn decimal_text_matches_display() {
        for n in [0, 7, 10, 4096, 999_999, u64::from(u32::MAX), u64::MAX] {
            assert_eq!(Decimal::new(n).as_str(), n.to_string());
        }
    }
}
