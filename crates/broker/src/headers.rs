//! The protocol's message headers as AMQP headers, both ways, under the names every version of
//! userhub has used (so that a message published by an older process is read as it meant).

use lapin::types::{AMQPValue, FieldTable};
use userhub_tasks::transport::MessageHeaders;

/// How many times processing of a message failed permanently.
const ATTEMPT_HEADER: &str = "x-userhub-attempt";
/// How many times processing of a message failed transiently.
const TRANSIENT_ATTEMPT_HEADER: &str = "x-userhub-transient-attempt";
/// Why a message was sent on (a retry or a dead letter).
const FAILURE_HEADER: &str = "x-userhub-failure";

/// `headers` as an AMQP header table.
pub(crate) fn to_table(headers: &MessageHeaders) -> FieldTable {
    let mut table = FieldTable::default();
    for (name, value) in &headers.text {
        table.insert(
            name.as_str().into(),
            AMQPValue::LongString(value.as_str().into()),
        );
    }
    let counters = [
        (ATTEMPT_HEADER, headers.attempts),
        (TRANSIENT_ATTEMPT_HEADER, headers.transient_attempts),
    ];
    for (name, value) in counters {
        if value != 0 {
            table.insert(name.into(), AMQPValue::LongLongInt(value));
        }
    }
    if let Some(failure) = &headers.failure {
        table.insert(
            FAILURE_HEADER.into(),
            AMQPValue::LongString(failure.as_str().into()),
        );
    }
    table
}

/// An integer header (0 when absent).
fn counter(table: &FieldTable, name: &str) -> i64 {
    match table.inner().get(name) {
        Some(AMQPValue::LongLongInt(number)) => *number,
        Some(AMQPValue::LongInt(number)) => i64::from(*number),
        Some(AMQPValue::ShortInt(number)) => i64::from(*number),
        _ => 0,
    }
}

fn text(value: &AMQPValue) -> Option<String> {
    match value {
        AMQPValue::LongString(text) => Some(String::from_utf8_lossy(text.as_bytes()).into_owned()),
        AMQPValue::ShortString(text) => Some(text.as_str().to_owned()),
        _ => None,
    }
}

/// An AMQP header table (absent: none) as the protocol's headers.
pub(crate) fn from_table(table: Option<&FieldTable>) -> MessageHeaders {
    let Some(table) = table else {
        return MessageHeaders::default();
    };
    let mut headers = MessageHeaders {
        attempts: counter(table, ATTEMPT_HEADER),
        transient_attempts: counter(table, TRANSIENT_ATTEMPT_HEADER),
        ..MessageHeaders::default()
    };
    for (name, value) in table.inner() {
        let (name, Some(value)) = (name.as_str(), text(value)) else {
            continue;
        };
        if name == FAILURE_HEADER {
            headers.failure = Some(value);
        } else if !name.starts_with("x-") {
            headers.text.insert(name.to_owned(), value);
        }
    }
    headers
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_survive_the_round_trip() {
        let mut headers = MessageHeaders {
            attempts: 2,
            transient_attempts: 5,
            failure: Some("it broke".into()),
            ..MessageHeaders::default()
        };
        headers
            .text
            .insert("traceparent".into(), "00-abc-def-01".into());
        assert_eq!(from_table(Some(&to_table(&headers))), headers);
        assert_eq!(from_table(None), MessageHeaders::default());
    }

    #[test]
    fn counters_of_older_messages_are_read_in_any_integer_width() {
        let mut table = FieldTable::default();
        table.insert(ATTEMPT_HEADER.into(), AMQPValue::LongInt(3));
        table.insert(TRANSIENT_ATTEMPT_HEADER.into(), AMQPValue::ShortInt(1));
        let headers = from_table(Some(&table));
        assert_eq!((headers.attempts, headers.transient_attempts), (3, 1));
    }
}
