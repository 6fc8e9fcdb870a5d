//! `Decimal`: a non-negative decimal number in plain notation, kept as the text it was sent in
//! (`10.50` stays `10.50`), for money-like fields that PostgreSQL stores as `numeric`.

use serde::{Serialize, Serializer};
use std::fmt;

/// Characters of a decimal's text.
pub const MAX_DECIMAL_CHARS: usize = 64;

/// A decimal ≥ 0 in plain notation (digits, optionally a point and more digits).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Decimal(String);

/// Why a text is not a [`Decimal`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecimalProblem {
    TooLong,
    Malformed,
    Negative,
}

impl Decimal {
    /// Checks `text` (already trimmed).
    pub fn parse(text: &str) -> Result<Decimal, DecimalProblem> {
        if text.chars().count() > MAX_DECIMAL_CHARS {
            return Err(DecimalProblem::TooLong);
        }
        let (negative, body) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let (whole, fraction) = body.split_once('.').unwrap_or((body, ""));
        let well_formed = !whole.is_empty()
            && whole.bytes().all(|b| b.is_ascii_digit())
            && fraction.bytes().all(|b| b.is_ascii_digit())
            && !body.ends_with('.');
        if !well_formed {
            return Err(DecimalProblem::Malformed);
        }
        let zero = whole.bytes().chain(fraction.bytes()).all(|b| b == b'0');
        if negative && !zero {
            return Err(DecimalProblem::Negative);
        }
        // `-0.00` is zero: kept without its sign, as `numeric` stores it.
        Ok(Decimal(body.to_owned()))
    }

    /// Wraps text that PostgreSQL printed for a `numeric` column.
    pub fn from_stored(text: String) -> Decimal {
        Decimal(text)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether the value is larger than the whole number `max`.
    pub fn exceeds(&self, max: u64) -> bool {
        let body = self.0.trim_start_matches('-');
        let (whole, fraction) = body.split_once('.').unwrap_or((body, ""));
        let whole = whole.trim_start_matches('0');
        let max_text = max.to_string();
        let ordering = whole
            .len()
            .cmp(&max_text.len())
            .then_with(|| whole.cmp(max_text.as_str()));
        match ordering {
            std::cmp::Ordering::Greater => true,
            std::cmp::Ordering::Less => false,
            std::cmp::Ordering::Equal => fraction.bytes().any(|b| b != b'0'),
        }
    }
}

impl fmt::Display for Decimal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Serialised as a JSON number with the digits as sent.
impl Serialize for Decimal {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match serde_json::value::RawValue::from_string(self.0.clone()) {
            Ok(raw) => raw.serialize(serializer),
            Err(_) => serializer.serialize_str(&self.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_keep_their_digits_and_refuse_other_notations() {
        assert_eq!(Decimal::parse("10.50").unwrap().as_str(), "10.50");
        assert_eq!(Decimal::parse("0").unwrap().as_str(), "0");
        assert_eq!(Decimal::parse("-0.00").unwrap().as_str(), "0.00");
        assert_eq!(Decimal::parse("-3"), Err(DecimalProblem::Negative));
        for bad in ["1e2", "", ".5", "5.", "1,5", "0x1", "NaN", "١"] {
            assert_eq!(Decimal::parse(bad), Err(DecimalProblem::Malformed), "{bad}");
        }
        assert_eq!(
            Decimal::parse(&"1".repeat(65)),
            Err(DecimalProblem::TooLong)
        );
        assert_eq!(
            serde_json::to_string(&Decimal::parse("10.50").unwrap()).unwrap(),
            "10.50"
        );
    }

    #[test]
    fn bounds_compare_exactly() {
        let five = |text: &str| Decimal::parse(text).unwrap().exceeds(5);
        assert!(!five("5"));
        assert!(!five("5.000"));
        assert!(!five("4.99"));
        assert!(!five("0005"));
        assert!(five("5.0000000000000000001"));
        assert!(five("6"));
        assert!(five("10"));
    }
}
