//! Content negotiation for downloads: the weight (`q`) an `Accept` or `Accept-Encoding` header
//! gives a media type or coding, with wildcards. Small enough to keep here; the crates that
//! parse these headers bring a typed-header framework along.

/// The weight `header` gives `value` (a media type like `application/x-ndjson`, or a coding like
/// `gzip`): the most specific matching entry wins (`type/sub` over `type/*` over `*/*` or `*`);
/// 0 when nothing matches.
pub fn weight(header: &str, value: &str) -> f32 {
    let (kind, _) = value.split_once('/').unwrap_or((value, ""));
    let mut best: Option<(u8, f32)> = None;
    for entry in header.split(',') {
        let mut parts = entry.split(';');
        let range = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
        if range.is_empty() {
            continue;
        }
        let q = parts
            .filter_map(|parameter| parameter.trim().strip_prefix("q="))
            .filter_map(|q| q.trim().parse::<f32>().ok())
            .next()
            .unwrap_or(1.0)
            .clamp(0.0, 1.0);
        let specificity = if range == value {
            3
        } else if range.strip_suffix("/*") == Some(kind) && value.contains('/') {
            2
        } else if range == "*/*" || range == "*" {
            1
        } else {
            continue;
        };
        if best.is_none_or(|(seen, _)| specificity > seen) {
            best = Some((specificity, q));
        }
    }
    best.map_or(0.0, |(_, q)| q)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_follow_q_values_and_specificity() {
        assert_eq!(weight("application/x-ndjson", "application/x-ndjson"), 1.0);
        assert_eq!(
            weight("application/x-ndjson;q=0", "application/x-ndjson"),
            0.0
        );
        assert_eq!(
            weight("*/*;q=0.2, application/x-ndjson", "application/zip"),
            0.2
        );
        assert_eq!(weight("application/*;q=0.5", "application/zip"), 0.5);
        assert_eq!(weight("text/html", "application/zip"), 0.0);
        assert_eq!(weight("gzip;q=0, deflate", "gzip"), 0.0);
        assert_eq!(weight("*", "gzip"), 1.0);
        assert_eq!(weight("", "gzip"), 0.0);
    }
}
