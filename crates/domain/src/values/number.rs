//! JSON numbers kept as the text they were sent in: the grammar check, the range every JSON
//! reader can hold (IEEE-754 double magnitudes), whole-number reading for integer fields and the
//! canonical decimal form that numbers compare by when they are match keys. Hand-written because
//! no crate reads a number's text without turning it into a float or a big decimal first.

use std::fmt;

/// Characters a number may have (its text as sent).
pub const MAX_NUMBER_CHARS: usize = 64;

/// The parts of a JSON number's text: `-? int (. frac)? (e exp)?`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NumberParts<'a> {
    pub negative: bool,
    pub int: &'a str,
    pub frac: &'a str,
    /// The exponent, saturated to ±`i64::MAX / 4` (far beyond any accepted number).
    pub exponent: i64,
}

/// Why a number's text is not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NumberProblem {
    /// Not a JSON number at all.
    Malformed,
    /// Longer than [`MAX_NUMBER_CHARS`].
    TooLong,
    /// Beyond ±1.7976931348623157e308 (JSON readers would see infinity).
    TooLarge,
    /// Not zero, yet closer to zero than 5e-324 (JSON readers would see 0).
    TooSmall,
}

impl fmt::Display for NumberProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NumberProblem::Malformed => "is not a JSON number",
            NumberProblem::TooLong => "has more than 64 characters",
            NumberProblem::TooLarge => {
                "is larger in magnitude than 1.7976931348623157e308, the largest number JSON \
                 readers can hold"
            }
            NumberProblem::TooSmall => {
                "is closer to zero than 5e-324, which JSON readers would read as 0"
            }
        })
    }
}

/// Why a number is not a usable integer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IntegerProblem {
    /// It has a fractional part.
    NotWhole,
    /// Whole, but outside `i64`.
    OutOfRange,
}

const EXPONENT_CAP: i64 = i64::MAX / 4;

fn all_digits(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit())
}

/// Splits a JSON number's text into its parts; `None` if it is not JSON number syntax.
pub fn number_parts(text: &str) -> Option<NumberParts<'_>> {
    let (negative, body) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (mantissa, exponent) = match body.find(['e', 'E']) {
        Some(at) => (&body[..at], Some(&body[at + 1..])),
        None => (body, None),
    };
    let (int, frac) = match mantissa.split_once('.') {
        Some((int, frac)) => (int, Some(frac)),
        None => (mantissa, None),
    };
    let int_ok = all_digits(int) && (int == "0" || !int.starts_with('0'));
    let frac_ok = frac.is_none_or(all_digits);
    if !int_ok || !frac_ok {
        return None;
    }
    let exponent = match exponent {
        None => 0,
        Some(exp) => {
            let (sign, digits) = match exp.as_bytes().first() {
                Some(b'-') => (-1, &exp[1..]),
                Some(b'+') => (1, &exp[1..]),
                _ => (1, exp),
            };
            if !all_digits(digits) {
                return None;
            }
            let magnitude = digits.bytes().fold(0i64, |acc, digit| {
                acc.saturating_mul(10)
                    .saturating_add(i64::from(digit - b'0'))
                    .min(EXPONENT_CAP)
            });
            sign * magnitude
        }
    };
    Some(NumberParts {
        negative,
        int,
        frac: frac.unwrap_or(""),
        exponent,
    })
}

impl NumberParts<'_> {
    /// Whether every digit is zero.
    pub fn is_zero(&self) -> bool {
        self.int.bytes().chain(self.frac.bytes()).all(|b| b == b'0')
    }

    /// The significant digits (no leading zeros) and the position of the decimal point counted
    /// from their start (it may lie outside them).
    fn digits_and_point(&self) -> (String, i64) {
        let mut digits: String = self.int.chars().chain(self.frac.chars()).collect();
        let mut point = self.int.len() as i64 + self.exponent;
        let leading = digits.bytes().take_while(|b| *b == b'0').count();
        digits.drain(..leading);
        point -= leading as i64;
        let trailing = digits.bytes().rev().take_while(|b| *b == b'0').count();
        digits.truncate(digits.len() - trailing);
        (digits, point)
    }

    /// The number as an `i64`, if it is whole (`30`, `30.0`, `3e1`) and in range.
    pub fn to_i64(&self) -> Result<i64, IntegerProblem> {
        let (digits, point) = self.digits_and_point();
        if digits.is_empty() {
            return Ok(0);
        }
        if point < digits.len() as i64 {
            return Err(IntegerProblem::NotWhole);
        }
        if point > 19 {
            return Err(IntegerProblem::OutOfRange);
        }
        let zeros = (point as usize) - digits.len();
        let magnitude = digits
            .bytes()
            .chain(std::iter::repeat_n(b'0', zeros))
            .try_fold(0i128, |acc, digit| {
                Some(acc * 10 + i128::from(digit - b'0'))
            })
            .ok_or(IntegerProblem::OutOfRange)?;
        let value = if self.negative { -magnitude } else { magnitude };
        i64::try_from(value).map_err(|_| IntegerProblem::OutOfRange)
    }

    /// Plain decimal notation without exponent, superfluous zeros or a negative zero: the form
    /// PostgreSQL prints for `trim_scale(n::numeric)`, so both sides compare alike. Its length
    /// follows the exponent, so call it only on numbers [`check_number`] accepted.
    pub fn canonical_decimal(&self) -> String {
        let (digits, point) = self.digits_and_point();
        if digits.is_empty() {
            return "0".to_owned();
        }
        let mut text = String::with_capacity(digits.len() + 4);
        if self.negative {
            text.push('-');
        }
        let length = digits.len() as i64;
        if point <= 0 {
            text.push_str("0.");
            text.extend(std::iter::repeat_n('0', (-point) as usize));
            text.push_str(&digits);
        } else if point >= length {
            text.push_str(&digits);
            text.extend(std::iter::repeat_n('0', (point - length) as usize));
        } else {
            text.push_str(&digits[..point as usize]);
            text.push('.');
            text.push_str(&digits[point as usize..]);
        }
        text
    }
}

/// Checks a number's text as a custom value is checked: JSON syntax, at most
/// [`MAX_NUMBER_CHARS`] characters, and a magnitude that a double can hold.
pub fn check_number(text: &str) -> Result<NumberParts<'_>, NumberProblem> {
    if text.len() > MAX_NUMBER_CHARS {
        return Err(NumberProblem::TooLong);
    }
    let parts = number_parts(text).ok_or(NumberProblem::Malformed)?;
    let value: f64 = text.parse().map_err(|_| NumberProblem::Malformed)?;
    if value.is_infinite() {
        return Err(NumberProblem::TooLarge);
    }
    if value == 0.0 && !parts.is_zero() {
        return Err(NumberProblem::TooSmall);
    }
    Ok(parts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn any_number_text_is_read_without_panicking_and_keeps_its_value(
            text in "-?(0|[1-9][0-9]{0,30})(\\.[0-9]{1,30})?([eE][+-]?[0-9]{1,40})?"
        ) {
            let parts = number_parts(&text).expect("the grammar matches");
            if let Ok(value) = parts.to_i64() {
                prop_assert_eq!(value.to_string(), parts.canonical_decimal());
            }
            if let Ok(checked) = check_number(&text) {
                let canonical: f64 = checked.canonical_decimal().parse().unwrap();
                prop_assert_eq!(canonical, text.parse::<f64>().unwrap());
            }
        }
    }

    fn canonical(text: &str) -> String {
        number_parts(text).unwrap().canonical_decimal()
    }

    #[test]
    fn the_grammar_is_json_s() {
        for good in ["0", "-0", "12", "1.50", "1e5", "1E+5", "-2.5e-3", "0.0"] {
            assert!(number_parts(good).is_some(), "{good}");
        }
        for bad in [
            "", "-", "01", "1.", ".5", "+1", "1e", "1e+", "0x10", "1.2.3", "NaN", "1_0",
        ] {
            assert!(number_parts(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn canonical_decimals_drop_exponents_and_superfluous_zeros() {
        assert_eq!(canonical("1E2"), "100");
        assert_eq!(canonical("100.00"), "100");
        assert_eq!(canonical("-0"), "0");
        assert_eq!(canonical("-0.0e7"), "0");
        assert_eq!(canonical("1.50"), "1.5");
        assert_eq!(canonical("1e-5"), "0.00001");
        assert_eq!(canonical("-12.3400e1"), "-123.4");
        assert_eq!(canonical("0.0012e2"), "0.12");
        assert_eq!(canonical("5e-1"), "0.5");
    }

    #[test]
    fn whole_numbers_read_as_integers_whatever_their_notation() {
        let int = |text: &str| number_parts(text).unwrap().to_i64();
        assert_eq!(int("30"), Ok(30));
        assert_eq!(int("30.0"), Ok(30));
        assert_eq!(int("3e1"), Ok(30));
        assert_eq!(int("-9223372036854775808"), Ok(i64::MIN));
        assert_eq!(int("3.5"), Err(IntegerProblem::NotWhole));
        assert_eq!(int("99999999999999999999"), Err(IntegerProblem::OutOfRange));
        assert_eq!(int("1e100000"), Err(IntegerProblem::OutOfRange));
        assert_eq!(int("0e100000"), Ok(0));
    }

    #[test]
    fn exponents_of_any_length_saturate_instead_of_overflowing() {
        let tiny = format!("1e-{}", "7".repeat(40));
        let parts = number_parts(&tiny).unwrap();
        assert_eq!(parts.exponent, -EXPONENT_CAP);
        assert_eq!(parts.to_i64(), Err(IntegerProblem::NotWhole));
        let huge = format!("1e{}", "9".repeat(40));
        let parts = number_parts(&huge).unwrap();
        assert_eq!(parts.exponent, EXPONENT_CAP);
        assert_eq!(parts.to_i64(), Err(IntegerProblem::OutOfRange));
    }

    #[test]
    fn numbers_outside_what_doubles_hold_are_refused() {
        assert!(check_number("1e308").is_ok());
        assert!(check_number("-0.0").is_ok());
        assert!(check_number("5e-324").is_ok());
        assert_eq!(check_number("1e309").unwrap_err(), NumberProblem::TooLarge);
        assert_eq!(
            check_number("1e100000").unwrap_err(),
            NumberProblem::TooLarge
        );
        assert_eq!(
            check_number("1e-99999").unwrap_err(),
            NumberProblem::TooSmall
        );
        assert_eq!(
            check_number(&"9".repeat(65)).unwrap_err(),
            NumberProblem::TooLong
        );
        assert_eq!(check_number("abc").unwrap_err(), NumberProblem::Malformed);
    }
}
