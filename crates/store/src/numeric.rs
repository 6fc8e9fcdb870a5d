//! `numeric` in PostgreSQL's binary form, written from a decimal's plain text — binary `COPY`
//! cannot cast text, and no kept crate encodes decimals of any precision (rust_decimal stops at
//! 28 digits; ours keep up to 64 characters exactly as sent, trailing zeros included).

use bytes::{BufMut, BytesMut};
use std::error::Error;
use tokio_postgres::types::{IsNull, ToSql, Type, to_sql_checked};

/// Digits per base-10000 group of PostgreSQL's `numeric`.
const GROUP: usize = 4;

/// A non-negative decimal in plain notation (`digits[.digits]`), sent as `numeric` with the
/// scale it was written with (`10.50` stays `10.50`).
#[derive(Debug, Clone, Copy)]
pub struct NumericText<'a>(pub &'a str);

/// `numeric`'s binary header and base-10000 digits.
#[derive(Debug, PartialEq, Eq)]
struct Encoded {
    weight: i16,
    scale: u16,
    groups: Vec<i16>,
}

/// Why a text cannot be sent as `numeric`.
#[derive(Debug, thiserror::Error)]
#[error("not a plain non-negative decimal: {0:?}")]
struct NotPlainDecimal(String);

fn encode(text: &str) -> Option<Encoded> {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    let plain = !whole.is_empty()
        && whole.bytes().all(|b| b.is_ascii_digit())
        && fraction.bytes().all(|b| b.is_ascii_digit());
    if !plain || fraction.len() > usize::from(u16::MAX >> 2) {
        return None;
    }
    let whole = whole.trim_start_matches('0');
    let lead = (GROUP - whole.len() % GROUP) % GROUP;
    let whole_groups = whole.len().div_ceil(GROUP);
    let digits = std::iter::repeat_n(0u8, lead)
        .chain(whole.bytes().map(|b| b - b'0'))
        .chain(fraction.bytes().map(|b| b - b'0'))
        .chain(std::iter::repeat_n(
            0u8,
            (GROUP - fraction.len() % GROUP) % GROUP,
        ))
        .collect::<Vec<u8>>();
    let mut groups: Vec<i16> = digits
        .chunks(GROUP)
        .map(|group| group.iter().fold(0i16, |n, d| n * 10 + i16::from(*d)))
        .collect();
    let mut weight = i16::try_from(whole_groups).ok()? - 1;
    let leading_zeros = groups.iter().take_while(|g| **g == 0).count();
    groups.drain(..leading_zeros);
    weight -= i16::try_from(leading_zeros).ok()?;
    while groups.last() == Some(&0) {
        groups.pop();
    }
    if groups.is_empty() {
        weight = 0;
    }
    Some(Encoded {
        weight,
        scale: u16::try_from(fraction.len()).ok()?,
        groups,
    })
}

impl ToSql for NumericText<'_> {
    fn to_sql(&self, _: &Type, out: &mut BytesMut) -> Result<IsNull, Box<dyn Error + Sync + Send>> {
        let encoded = encode(self.0).ok_or_else(|| NotPlainDecimal(self.0.to_owned()))?;
        out.put_i16(i16::try_from(encoded.groups.len())?);
        out.put_i16(encoded.weight);
        out.put_u16(0); // sign: positive (a decimal's text has no sign)
        out.put_u16(encoded.scale);
        for group in encoded.groups {
            out.put_i16(group);
        }
        Ok(IsNull::No)
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::NUMERIC
    }

    to_sql_checked!();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn groups(text: &str) -> (i16, u16, Vec<i16>) {
        let encoded = encode(text).unwrap();
        (encoded.weight, encoded.scale, encoded.groups)
    }

    #[test]
    fn digits_group_by_four_around_the_point() {
        assert_eq!(groups("0"), (0, 0, vec![]));
        assert_eq!(groups("0.00"), (0, 2, vec![]));
        assert_eq!(groups("10.50"), (0, 2, vec![10, 5000]));
        assert_eq!(groups("12345.6"), (1, 1, vec![1, 2345, 6000]));
        assert_eq!(groups("0.0001"), (-1, 4, vec![1]));
        assert_eq!(groups("0.00000001"), (-2, 8, vec![1]));
        assert_eq!(groups("00070000"), (1, 0, vec![7]));
        assert_eq!(groups("1.10000"), (0, 5, vec![1, 1000]));
    }

    #[test]
    fn anything_but_plain_digits_is_refused() {
        for text in ["", "-1", "1e5", ".5", "1.2.3", " 1", "+1", "١"] {
            assert!(encode(text).is_none(), "{text:?}");
        }
    }
}
