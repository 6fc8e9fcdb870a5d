//! Bounds on JSON before it becomes memory: arrays read with a cap on their length (the item
//! past the cap stops the parse), and the number of values a document holds, counted without
//! allocating, before it is read into a tree. Both use serde's visitors directly: serde_json
//! itself has no such limits.

use serde::Deserialize;
use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use std::cell::Cell;
use std::fmt;
use std::marker::PhantomData;

/// Why bounded JSON was not read.
#[derive(Debug)]
pub enum BudgetError {
    /// More items, or values, than allowed.
    TooMany { max: usize },
    /// Not the JSON asked for.
    Json(serde_json::Error),
}

impl fmt::Display for BudgetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BudgetError::TooMany { max } => write!(f, "more than {max}"),
            BudgetError::Json(error) => error.fmt(f),
        }
    }
}

struct BoundedSeq<'a, T> {
    max: usize,
    exceeded: &'a Cell<bool>,
    item: PhantomData<T>,
}

impl<'de, T: Deserialize<'de>> DeserializeSeed<'de> for BoundedSeq<'_, T> {
    type Value = Vec<T>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Vec<T>, D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de, T: Deserialize<'de>> Visitor<'de> for BoundedSeq<'_, T> {
    type Value = Vec<T>;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("an array")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut items: A) -> Result<Vec<T>, A::Error> {
        let mut read = Vec::new();
        while let Some(item) = items.next_element::<T>()? {
            if read.len() == self.max {
                self.exceeded.set(true);
                return Err(serde::de::Error::custom("too many items"));
            }
            read.push(item);
        }
        Ok(read)
    }
}

/// Reads a JSON array of at most `max` items.
pub fn bounded_array<'de, T: Deserialize<'de>>(
    text: &'de [u8],
    max: usize,
) -> Result<Vec<T>, BudgetError> {
    let exceeded = Cell::new(false);
    let seed = BoundedSeq {
        max,
        exceeded: &exceeded,
        item: PhantomData,
    };
    let mut deserializer = serde_json::Deserializer::from_slice(text);
    let read = seed
        .deserialize(&mut deserializer)
        .and_then(|items| deserializer.end().map(|()| items));
    match read {
        Ok(items) => Ok(items),
        Err(_) if exceeded.get() => Err(BudgetError::TooMany { max }),
        Err(error) => Err(BudgetError::Json(error)),
    }
}

/// Counts the values it visits, failing past `max`.
#[derive(Clone, Copy)]
struct CountValues<'a> {
    count: &'a Cell<usize>,
    max: usize,
}

impl CountValues<'_> {
    fn one<E: serde::de::Error>(self) -> Result<(), E> {
        let count = self.count.get() + 1;
        self.count.set(count);
        if count > self.max {
            return Err(E::custom("too many values"));
        }
        Ok(())
    }
}

impl<'de> DeserializeSeed<'de> for CountValues<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for CountValues<'_> {
    type Value = ();

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("any JSON value")
    }

    fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<(), E> {
        self.one()
    }

    fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<(), E> {
        self.one()
    }

    fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<(), E> {
        self.one()
    }

    fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<(), E> {
        self.one()
    }

    fn visit_str<E: serde::de::Error>(self, _: &str) -> Result<(), E> {
        self.one()
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<(), E> {
        self.one()
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut items: A) -> Result<(), A::Error> {
        self.one()?;
        while items.next_element_seed(self)?.is_some() {}
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut members: A) -> Result<(), A::Error> {
        self.one()?;
        while members.next_key::<IgnoredAny>()?.is_some() {
            members.next_value_seed(self)?;
        }
        Ok(())
    }
}

/// Checks that a JSON document holds at most `max` values (objects, arrays and scalars).
pub fn check_value_count(text: &[u8], max: usize) -> Result<(), BudgetError> {
    let count = Cell::new(0);
    let seed = CountValues { count: &count, max };
    let mut deserializer = serde_json::Deserializer::from_slice(text);
    let counted = seed
        .deserialize(&mut deserializer)
        .and_then(|()| deserializer.end());
    match counted {
        Ok(()) => Ok(()),
        Err(_) if count.get() > max => Err(BudgetError::TooMany { max }),
        Err(error) => Err(BudgetError::Json(error)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arrays_stop_at_the_item_past_the_cap() {
        assert_eq!(bounded_array::<u8>(b"[1,2,3]", 3).unwrap(), vec![1, 2, 3]);
        assert!(matches!(
            bounded_array::<u8>(b"[1,2,3,4,oops", 3),
            Err(BudgetError::TooMany { max: 3 })
        ));
        assert!(matches!(
            bounded_array::<u8>(b"{\"a\":1}", 3),
            Err(BudgetError::Json(_))
        ));
        assert!(matches!(
            bounded_array::<u8>(b"[1] x", 3),
            Err(BudgetError::Json(_))
        ));
    }

    #[test]
    fn values_are_counted_at_every_depth() {
        let document = br#"{"a":[1,{"b":null}],"c":"x"}"#;
        assert!(check_value_count(document, 16).is_ok());
        assert!(matches!(
            check_value_count(document, 4),
            Err(BudgetError::TooMany { max: 4 })
        ));
        let many = format!("[{}[]]", "[],".repeat(100_000));
        assert!(matches!(
            check_value_count(many.as_bytes(), 1_000),
            Err(BudgetError::TooMany { max: 1_000 })
        ));
        assert!(matches!(
            check_value_count(b"[1,", 10),
            Err(BudgetError::Json(_))
        ));
    }
}
