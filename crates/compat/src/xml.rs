//! XML bodies as JSON values, and JSON answers as XML, the way Altcraft maps them: the root's
//! child elements are the object's members, repeated elements (or one marked `array='true'`)
//! are arrays, and a leaf's text is a string — or a boolean / number when it is `true`, `false`
//! or a canonical number (so `77` is 77 but `00015` stays "00015").

use quick_xml::Reader;
use quick_xml::events::Event;
use serde_json::{Map, Number, Value};

/// Deepest accepted element nesting.
const MAX_DEPTH: usize = 64;

/// An element being read.
#[derive(Default)]
struct Element {
    name: String,
    forced_array: bool,
    children: Vec<(String, Value, bool)>,
    text: String,
}

impl Element {
    fn into_value(self) -> Value {
        if self.children.is_empty() {
            return scalar(self.text.trim());
        }
        let mut object = Map::new();
        for (name, value, forced_array) in self.children {
            match object.get_mut(&name) {
                Some(Value::Array(items)) => items.push(value),
                Some(existing) => {
                    let first = existing.take();
                    *existing = Value::Array(vec![first, value]);
                }
                None => {
                    let value = if forced_array {
                        Value::Array(vec![value])
                    } else {
                        value
                    };
                    object.insert(name, value);
                }
            }
        }
        Value::Object(object)
    }
}

/// A leaf's text as a JSON value.
fn scalar(text: &str) -> Value {
    match text {
        "true" => return Value::Bool(true),
        "false" => return Value::Bool(false),
        _ => {}
    }
    let digits = text.strip_prefix('-').unwrap_or(text);
    let (whole, fraction) = match digits.split_once('.') {
        Some((whole, fraction)) => (whole, Some(fraction)),
        None => (digits, None),
    };
    let canonical_whole = whole == "0"
        || (!whole.is_empty()
            && !whole.starts_with('0')
            && whole.bytes().all(|b| b.is_ascii_digit()));
    let canonical_fraction = fraction.is_none_or(|fraction| {
        !fraction.is_empty()
            && fraction.bytes().all(|b| b.is_ascii_digit())
            && !fraction.ends_with('0')
    });
    if canonical_whole && canonical_fraction && whole.len() <= 15 {
        if let Ok(number) = text.parse::<Number>() {
            return Value::Number(number);
        }
    }
    Value::String(text.to_owned())
}

/// Parses an XML document of at most `max_elements` elements into the JSON value of its root
/// element.
pub fn to_json(text: &[u8], max_elements: usize) -> Result<Value, String> {
    let text = std::str::from_utf8(text).map_err(|_| "the XML body is not UTF-8".to_owned())?;
    let mut reader = Reader::from_str(text);
    reader.config_mut().trim_text(false);
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Value> = None;
    let mut elements = 0usize;
    loop {
        let event = reader.read_event().map_err(|error| {
            format!(
                "malformed XML at byte {}: {error}",
                reader.buffer_position()
            )
        })?;
        if matches!(event, Event::Start(_) | Event::Empty(_)) {
            elements += 1;
            if elements > max_elements {
                return Err(format!(
                    "the XML body has more than {max_elements} elements; send fewer profiles per \
                     request"
                ));
            }
        }
        match event {
            Event::Start(start) | Event::Empty(start) if root.is_some() => {
                let _ = start;
                return Err("the XML body has more than one root element".to_owned());
            }
            Event::Start(start) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(format!("the XML is nested deeper than {MAX_DEPTH} levels"));
                }
                stack.push(element_of(&start)?);
            }
            Event::Empty(start) => {
                let element = element_of(&start)?;
                close(&mut stack, &mut root, element);
            }
            Event::End(_) => {
                let element = stack.pop().ok_or("unbalanced XML end tag")?;
                close(&mut stack, &mut root, element);
            }
            Event::Text(text) => {
                if let Some(element) = stack.last_mut() {
                    let decoded = text
                        .decode()
                        .map_err(|error| format!("bad XML text: {error}"))?;
                    let unescaped = quick_xml::escape::unescape(&decoded)
                        .map_err(|error| format!("bad XML text: {error}"))?;
                    element.text.push_str(&unescaped);
                }
            }
            Event::CData(data) => {
                if let Some(element) = stack.last_mut() {
                    element.text.push_str(&String::from_utf8_lossy(&data));
                }
            }
            Event::GeneralRef(reference) => {
                if let Some(element) = stack.last_mut() {
                    let name = String::from_utf8_lossy(&reference);
                    let reference = format!("&{name};");
                    let text = quick_xml::escape::unescape(&reference)
                        .map_err(|error| format!("bad XML entity: {error}"))?;
                    element.text.push_str(&text);
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if !stack.is_empty() {
        return Err("the XML body ends inside an element".to_owned());
    }
    root.ok_or_else(|| "the XML body has no root element".to_owned())
}

fn element_of(start: &quick_xml::events::BytesStart<'_>) -> Result<Element, String> {
    let name = String::from_utf8_lossy(start.name().as_ref()).into_owned();
    let mut forced_array = false;
    for attribute in start.attributes() {
        let attribute = attribute.map_err(|error| format!("bad XML attribute: {error}"))?;
        if attribute.key.as_ref() == b"array" && attribute.value.as_ref() == b"true" {
            forced_array = true;
        }
    }
    Ok(Element {
        name,
        forced_array,
        ..Element::default()
    })
}

fn close(stack: &mut [Element], root: &mut Option<Value>, element: Element) {
    let name = element.name.clone();
    let forced_array = element.forced_array;
    let value = element.into_value();
    match stack.last_mut() {
        Some(parent) => parent.children.push((name, value, forced_array)),
        None => *root = Some(value),
    }
}

/// Renders a JSON object as `<root>...</root>`: arrays repeat their element, `null` is empty.
pub fn from_json(root: &str, value: &Value) -> String {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    write_element(&mut out, root, value);
    out
}

fn write_element(out: &mut String, name: &str, value: &Value) {
    match value {
        Value::Array(items) => {
            for item in items {
                write_element(out, name, item);
            }
        }
        Value::Object(members) => {
            out.push_str(&format!("<{name}>"));
            for (member, value) in members {
                write_element(out, member, value);
            }
            out.push_str(&format!("</{name}>"));
        }
        Value::Null => out.push_str(&format!("<{name}/>")),
        Value::String(text) => {
            out.push_str(&format!(
                "<{name}>{}</{name}>",
                quick_xml::escape::escape(text.as_str())
            ));
        }
        other => out.push_str(&format!("<{name}>{other}</{name}>")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn repeated_and_marked_elements_become_arrays_and_canonical_numbers_numbers() {
        let xml = br#"<xml><token>t</token><db_id>1</db_id><skip>true</skip>
            <data><id>00015</id><n>77</n><price>15.99</price><cats>a</cats><cats>b</cats>
              <subs array='true'><channel>email</channel></subs><note>a &amp; b</note><empty/></data>
            <data><id>2</id></data></xml>"#;
        let value = to_json(xml, 1_000).unwrap();
        assert_eq!(value["token"], "t");
        assert_eq!(value["db_id"], 1);
        assert_eq!(value["skip"], true);
        assert_eq!(value["data"][0]["id"], "00015");
        assert_eq!(value["data"][0]["n"], 77);
        assert_eq!(value["data"][0]["price"], json!(15.99));
        assert_eq!(value["data"][0]["cats"], json!(["a", "b"]));
        assert_eq!(value["data"][0]["subs"], json!([{"channel": "email"}]));
        assert_eq!(value["data"][0]["note"], "a & b");
        assert_eq!(value["data"][0]["empty"], "");
        assert_eq!(value["data"][1]["id"], 2);
    }

    #[test]
    fn malformed_documents_are_errors() {
        for bad in [&b"<xml><a></xml>"[..], b"", b"<a/><b/>", b"<xml><a>"] {
            assert!(
                to_json(bad, 1_000).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
        let deep = format!("{}{}", "<a>".repeat(100), "</a>".repeat(100));
        assert!(
            to_json(deep.as_bytes(), 1_000)
                .unwrap_err()
                .contains("deeper")
        );
        let wide = format!("<xml>{}</xml>", "<a/>".repeat(1_000));
        assert!(
            to_json(wide.as_bytes(), 1_000)
                .unwrap_err()
                .contains("more than 1000 elements")
        );
        assert!(to_json(wide.as_bytes(), 1_001).is_ok());
    }

    #[test]
    fn answers_render_arrays_as_repeated_elements() {
        let text = from_json(
            "xml",
            &json!({"error": 0, "result": [{"profile_id": "1"}, {"profile_id": "<2>"}]}),
        );
        assert!(text.ends_with(
            "<xml><error>0</error><result><profile_id>1</profile_id></result><result><profile_id>&lt;2&gt;</profile_id></result></xml>"
        ));
        let back = to_json(text.as_bytes(), 1_000).unwrap();
        assert_eq!(back["result"][1]["profile_id"], "<2>");
    }
}
