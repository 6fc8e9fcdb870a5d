//! Reading JSON values without failing on their type: a field learns what it was sent (null, a
//! boolean, a number's text, a string, or that it was an array or object) and reports wrong
//! types itself, so that one wrong field never stops the rest of its record from being read.
//! Numbers keep their text: `serde_json` (with `arbitrary_precision`) hands over non-`i64`
//! numbers as a one-entry map under a private key, which is recognised here.

use serde::Deserializer;
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use std::borrow::Cow;
use std::fmt;

/// The key under which `serde_json` hands over a number's text.
const NUMBER_TOKEN: &str = "$serde_json::private::Number";

/// A string that borrows from the record's text when it has no escapes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Text<'de>(pub Cow<'de, str>);

impl<'de> de::Deserialize<'de> for Text<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TextVisitor;
        impl<'de> Visitor<'de> for TextVisitor {
            type Value = Text<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Owned(v)))
            }
        }
        deserializer.deserialize_str(TextVisitor)
    }
}

/// What a field was sent, read without failing on its type.
#[derive(Debug, Clone, PartialEq)]
pub enum Scalar<'de> {
    Null,
    Bool(bool),
    /// The number's text as sent.
    Number(Cow<'de, str>),
    Text(Cow<'de, str>),
    /// An array (its content was skipped).
    Array,
    /// An object (its content was skipped).
    Object,
}

impl Scalar<'_> {
    /// The JSON type's name, for error messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Scalar::Null => "null",
            Scalar::Bool(_) => "a boolean",
            Scalar::Number(_) => "a number",
            Scalar::Text(_) => "a string",
            Scalar::Array => "an array",
            Scalar::Object => "an object",
        }
    }
}

impl<'de> de::Deserialize<'de> for Scalar<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ScalarVisitor)
    }
}

struct ScalarVisitor;

impl<'de> Visitor<'de> for ScalarVisitor {
    type Value = Scalar<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_unit<E: de::Error>(self) -> Result<Scalar<'de>, E> {
        Ok(Scalar::Null)
    }
    fn visit_none<E: de::Error>(self) -> Result<Scalar<'de>, E> {
        Ok(Scalar::Null)
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Scalar<'de>, E> {
        Ok(Scalar::Bool(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Scalar<'de>, E> {
        Ok(Scalar::Number(Cow::Owned(v.to_string())))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Scalar<'de>, E> {
        Ok(Scalar::Number(Cow::Owned(v.to_string())))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Scalar<'de>, E> {
        Ok(Scalar::Number(Cow::Owned(v.to_string())))
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Scalar<'de>, E> {
        Ok(Scalar::Text(Cow::Borrowed(v)))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Scalar<'de>, E> {
        Ok(Scalar::Text(Cow::Owned(v.to_owned())))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Scalar<'de>, E> {
        Ok(Scalar::Text(Cow::Owned(v)))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Scalar<'de>, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Scalar::Array)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Scalar<'de>, A::Error> {
        match map.next_key::<Text<'de>>()? {
            Some(Text(key)) if key == NUMBER_TOKEN => {
                let Text(number) = map.next_value::<Text<'de>>()?;
                Ok(Scalar::Number(number))
            }
            Some(_) => {
                map.next_value::<IgnoredAny>()?;
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Scalar::Object)
            }
            None => Ok(Scalar::Object),
        }
    }
}

/// Whether a map key handed over by `serde_json` announces a number (see the module docs).
pub fn is_number_token(key: &str) -> bool {
    key == NUMBER_TOKEN
}

/// The members of a JSON object as raw values, in order; `None` when the value is not an
/// object (its content is skipped). Keys may repeat: callers decide what a repeat means.
#[derive(Debug)]
pub struct RawMembers<'de>(pub Option<Vec<(Cow<'de, str>, &'de serde_json::value::RawValue)>>);

impl<'de> de::Deserialize<'de> for RawMembers<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct MembersVisitor;
        impl<'de> Visitor<'de> for MembersVisitor {
            type Value = RawMembers<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawMembers<'de>, A::Error> {
                let mut members = Vec::new();
                while let Some(Text(key)) = map.next_key::<Text<'de>>()? {
                    if members.is_empty() && key == NUMBER_TOKEN {
                        map.next_value::<IgnoredAny>()?;
                        return Ok(RawMembers(None));
                    }
                    members.push((key, map.next_value()?));
                }
                Ok(RawMembers(Some(members)))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RawMembers<'de>, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(RawMembers(None))
            }
            fn visit_unit<E: de::Error>(self) -> Result<RawMembers<'de>, E> {
                Ok(RawMembers(None))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<RawMembers<'de>, E> {
                Ok(RawMembers(None))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<RawMembers<'de>, E> {
                Ok(RawMembers(None))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<RawMembers<'de>, E> {
                Ok(RawMembers(None))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<RawMembers<'de>, E> {
                Ok(RawMembers(None))
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<RawMembers<'de>, E> {
                Ok(RawMembers(None))
            }
        }
        deserializer.deserialize_any(MembersVisitor)
    }
}

/// A seed that reads one value of any type and hands it to `F`.
pub struct WithScalar<F>(pub F);

impl<'de, F, T> DeserializeSeed<'de> for WithScalar<F>
where
    F: FnOnce(Scalar<'de>) -> T,
{
    type Value = T;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<T, D::Error> {
        let scalar = <Scalar<'de> as de::Deserialize<'de>>::deserialize(deserializer)?;
        Ok((self.0)(scalar))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scalar(text: &str) -> Scalar<'_> {
        serde_json::from_str(text).unwrap()
    }

    #[test]
    fn numbers_keep_their_digits() {
        assert_eq!(scalar("12"), Scalar::Number("12".into()));
        assert_eq!(scalar("-0"), Scalar::Number("-0".into()));
        assert_eq!(scalar("1.50"), Scalar::Number("1.50".into()));
        // serde_json spells exponents its own way; the value (and its digits) are kept.
        assert_eq!(scalar("1E2"), Scalar::Number("1e+2".into()));
        assert_eq!(scalar("1e100000"), Scalar::Number("1e+100000".into()));
        assert_eq!(
            scalar("123456789012345678901234567890"),
            Scalar::Number("123456789012345678901234567890".into())
        );
    }

    #[test]
    fn every_type_is_read_without_failing() {
        assert_eq!(scalar("null"), Scalar::Null);
        assert_eq!(scalar("true"), Scalar::Bool(true));
        assert_eq!(scalar(r#""a\"b""#), Scalar::Text("a\"b".into()));
        assert_eq!(scalar("[1,[2,{}]]"), Scalar::Array);
        assert_eq!(scalar(r#"{"a":{"b":[1]}}"#), Scalar::Object);
        assert_eq!(scalar("{}"), Scalar::Object);
    }

    #[test]
    fn strings_without_escapes_borrow_from_the_record() {
        let text = String::from(r#""plain""#);
        assert!(matches!(
            scalar(&text),
            Scalar::Text(Cow::Borrowed("plain"))
        ));
    }
}
