//! Finding the API key inside the first bytes of a body that may not have fully arrived: the
//! `apptoken`/`token` member of a JSON object or the `token` child of an XML root. The scans
//! allocate nothing but the key they find (other values are skipped, not built), so an
//! unauthenticated body costs only its own bytes.

use quick_xml::Reader;
use quick_xml::events::Event;
use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::error::Category;
use std::cell::RefCell;
use std::fmt;

/// What a scan of the body so far found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Scan {
    /// The key (its text; empty when the member is not text).
    Found(String),
    /// The body so far ends before the key or the end of the document: read more.
    NotYet,
    /// The document is complete and has no key.
    Absent,
    /// The body is not the document it should be.
    Malformed(String),
}

/// A member's value: its text if it is a string, else nothing (skipped without building it).
struct TextOrSkip;

impl<'de> DeserializeSeed<'de> for TextOrSkip {
    type Value = String;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<String, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for TextOrSkip {
    type Value = String;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("any value")
    }

    fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<String, E> {
        Ok(text.trim().to_owned())
    }

    fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<String, E> {
        Ok(String::new())
    }

    fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<String, E> {
        Ok(String::new())
    }

    fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<String, E> {
        Ok(String::new())
    }

    fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<String, E> {
        Ok(String::new())
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<String, E> {
        Ok(String::new())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut items: A) -> Result<String, A::Error> {
        while items.next_element::<IgnoredAny>()?.is_some() {}
        Ok(String::new())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut members: A) -> Result<String, A::Error> {
        while members.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(String::new())
    }
}

/// Walks the top-level members, keeping the value of `name` when it passes.
struct FindMember<'a> {
    name: &'a str,
    found: &'a RefCell<Option<String>>,
}

impl<'de> Visitor<'de> for FindMember<'_> {
    type Value = ();

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut members: A) -> Result<(), A::Error> {
        while let Some(key) = members.next_key::<String>()? {
            if key == self.name {
                let key = members.next_value_seed(TextOrSkip)?;
                *self.found.borrow_mut() = Some(key);
                // Stop here: the rest is read only once the key is known to be good.
                return Err(serde::de::Error::custom("found"));
            }
            members.next_value::<IgnoredAny>()?;
        }
        Ok(())
    }
}

/// Looks for the top-level member `name` of the JSON object that `buffer` begins (`complete`:
/// the whole body is in `buffer`).
pub(crate) fn json_member(buffer: &[u8], name: &str, complete: bool) -> Scan {
    let body = buffer.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(buffer);
    let found = RefCell::new(None);
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let walked = deserializer.deserialize_map(FindMember {
        name,
        found: &found,
    });
    if let Some(key) = found.into_inner() {
        return Scan::Found(key);
    }
    match walked {
        Ok(()) => Scan::Absent,
        Err(error) if error.classify() == Category::Eof && !complete => Scan::NotYet,
        Err(error) => Scan::Malformed(format!("the body is not a JSON object: {error}")),
    }
}

/// Looks for the element `name` directly under the root of the XML document that `buffer`
/// begins.
pub(crate) fn xml_child(buffer: &[u8], name: &str, complete: bool) -> Scan {
    let text = match std::str::from_utf8(buffer) {
        Ok(text) => text,
        // A character cut at the end of what has arrived so far.
        Err(error) if error.error_len().is_none() && !complete => {
            match std::str::from_utf8(&buffer[..error.valid_up_to()]) {
                Ok(text) => text,
                Err(_) => return Scan::NotYet,
            }
        }
        Err(_) => return Scan::Malformed("the XML body is not UTF-8".to_owned()),
    };
    let mut reader = Reader::from_str(text);
    let mut depth = 0usize;
    let mut key: Option<String> = None;
    loop {
        let event = match reader.read_event() {
            Ok(event) => event,
            Err(_) if !complete => return Scan::NotYet,
            Err(error) => return Scan::Malformed(format!("malformed XML: {error}")),
        };
        match event {
            Event::Start(start) => {
                depth += 1;
                if depth == 2 && start.name().as_ref() == name.as_bytes() {
                    key = Some(String::new());
                }
            }
            Event::Empty(start) if depth == 1 && start.name().as_ref() == name.as_bytes() => {
                return Scan::Found(String::new());
            }
            Event::End(_) => {
                if depth == 2 {
                    if let Some(key) = key.take() {
                        return Scan::Found(key.trim().to_owned());
                    }
                }
                depth = depth.saturating_sub(1);
            }
            Event::Text(text) if key.is_some() => {
                let Ok(decoded) = text.decode() else {
                    return Scan::Found(String::new());
                };
                if let (Some(key), Ok(text)) = (key.as_mut(), quick_xml::escape::unescape(&decoded))
                {
                    key.push_str(&text);
                }
            }
            Event::CData(data) if key.is_some() => {
                if let Some(key) = key.as_mut() {
                    key.push_str(&String::from_utf8_lossy(&data));
                }
            }
            Event::GeneralRef(reference) if key.is_some() => {
                let reference = format!("&{};", String::from_utf8_lossy(&reference));
                if let (Some(key), Ok(text)) =
                    (key.as_mut(), quick_xml::escape::unescape(&reference))
                {
                    key.push_str(&text);
                }
            }
            Event::Eof if complete && depth > 0 => {
                return Scan::Malformed("the XML body ends inside an element".to_owned());
            }
            Event::Eof if complete => return Scan::Absent,
            Event::Eof => return Scan::NotYet,
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_json_key_is_found_before_the_rest_arrives() {
        let body = br#"{"columns": ["a"], "apptoken": " uh_1_x ", "rows": [[1], [2"#;
        assert_eq!(
            json_member(body, "apptoken", false),
            Scan::Found("uh_1_x".to_owned())
        );
        assert_eq!(json_member(&body[..20], "apptoken", false), Scan::NotYet);
        assert_eq!(
            json_member(br#"{"rows": []}"#, "apptoken", true),
            Scan::Absent
        );
        assert_eq!(
            json_member(br#"{"apptoken": ["x"]}"#, "apptoken", true),
            Scan::Found(String::new())
        );
        assert!(matches!(
            json_member(b"[1, 2]", "apptoken", false),
            Scan::Malformed(_)
        ));
        assert!(matches!(
            json_member(br#"{"rows": [}"#, "apptoken", false),
            Scan::Malformed(_)
        ));
        assert!(matches!(
            json_member(br#"{"rows": ["#, "apptoken", true),
            Scan::Malformed(_)
        ));
    }

    #[test]
    fn an_xml_key_is_found_under_the_root_only() {
        let body = b"<xml><data><token>inner</token></data><token> uh_2_y </token><data>";
        assert_eq!(
            xml_child(body, "token", false),
            Scan::Found("uh_2_y".to_owned())
        );
        assert_eq!(xml_child(&body[..30], "token", false), Scan::NotYet);
        assert_eq!(
            xml_child(b"<xml><db_id>1</db_id></xml>", "token", true),
            Scan::Absent
        );
        assert_eq!(
            xml_child(b"<xml><token>a&amp;b</token></xml>", "token", true),
            Scan::Found("a&b".to_owned())
        );
        assert!(matches!(
            xml_child(b"<xml><token>x</tok", "token", true),
            Scan::Malformed(_)
        ));
        assert!(matches!(
            xml_child(b"<xml><token>", "token", true),
            Scan::Malformed(_)
        ));
        let cut = "<xml><token>é</token></xml>".as_bytes();
        assert_eq!(xml_child(&cut[..13], "token", false), Scan::NotYet);
    }
}
