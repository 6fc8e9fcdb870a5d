//! ISO 639-1 language codes (`preferred_language`), in alphabetical order: found by binary search.

const ISO_639_1: [&str; 184] = [
    "aa", "ab", "ae", "af", "ak", "am", "an", "ar", "as", "av", "ay", "az", "ba", "be", "bg", "bh",
    "bi", "bm", "bn", "bo", "br", "bs", "ca", "ce", "ch", "co", "cr", "cs", "cu", "cv", "cy", "da",
    "de", "dv", "dz", "ee", "el", "en", "eo", "es", "et", "eu", "fa", "ff", "fi", "fj", "fo", "fr",
    "fy", "ga", "gd", "gl", "gn", "gu", "gv", "ha", "he", "hi", "ho", "hr", "ht", "hu", "hy", "hz",
    "ia", "id", "ie", "ig", "ii", "ik", "io", "is", "it", "iu", "ja", "jv", "ka", "kg", "ki", "kj",
    "kk", "kl", "km", "kn", "ko", "kr", "ks", "ku", "kv", "kw", "ky", "la", "lb", "lg", "li", "ln",
    "lo", "lt", "lu", "lv", "mg", "mh", "mi", "mk", "ml", "mn", "mr", "ms", "mt", "my", "na", "nb",
    "nd", "ne", "ng", "nl", "nn", "no", "nr", "nv", "ny", "oc", "oj", "om", "or", "os", "pa", "pi",
    "pl", "ps", "pt", "qu", "rm", "rn", "ro", "ru", "rw", "sa", "sc", "sd", "se", "sg", "si", "sk",
    "sl", "sm", "sn", "so", "sq", "sr", "ss", "st", "su", "sv", "sw", "ta", "te", "tg", "th", "ti",
    "tk", "tl", "tn", "to", "tr", "ts", "tt", "tw", "ty", "ug", "uk", "ur", "uz", "ve", "vi", "vo",
    "wa", "wo", "xh", "yi", "yo", "za", "zh", "zu",
];

/// The lower-case ISO 639-1 code, if `text` is one (any case).
pub fn language_code(text: &str) -> Option<String> {
    let text = text.trim();
    if text.len() != 2 {
        return None;
    }
    let code = text.to_ascii_lowercase();
    ISO_639_1
        .binary_search(&code.as_str())
        .is_ok()
        .then_some(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_in_alphabetical_order() {
        assert!(ISO_639_1.windows(2).all(|pair| pair[0] < pair[1]));
    }

    #[test]
    fn two_letter_codes_are_accepted_in_any_case() {
        assert_eq!(language_code("EN").as_deref(), Some("en"));
        assert_eq!(language_code("hi").as_deref(), Some("hi"));
        assert_eq!(language_code("xx"), None);
        assert_eq!(language_code("english"), None);
        assert_eq!(language_code("en-US"), None);
    }
}
