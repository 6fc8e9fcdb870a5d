//! Country names and codes: ISO 3166 alpha-2, alpha-3 or an English name, stored as alpha-2.

use crate::country_table::{COUNTRIES, COUNTRY_ALIASES};

/// The alpha-2 code of a country given by alpha-2, alpha-3 or English name (case-insensitive).
pub fn country_alpha2(text: &str) -> Option<&'static str> {
    let text = text.trim();
    let by_code = match text.len() {
        2 => {
            let upper = text.to_ascii_uppercase();
            COUNTRIES
                .binary_search_by(|(alpha2, _, _)| (*alpha2).cmp(upper.as_str()))
                .ok()
                .and_then(|index| COUNTRIES.get(index))
                .map(|(alpha2, _, _)| *alpha2)
        }
        3 => COUNTRIES
            .iter()
            .find(|(_, alpha3, _)| text.eq_ignore_ascii_case(alpha3))
            .map(|(alpha2, _, _)| *alpha2),
        _ => None,
    };
    by_code.or_else(|| by_name(text))
}

/// The alpha-2 code of an English name or a common alternative name, in any case.
fn by_name(text: &str) -> Option<&'static str> {
    let same = |name: &str| {
        name.chars()
            .flat_map(char::to_lowercase)
            .eq(text.chars().flat_map(char::to_lowercase))
    };
    COUNTRIES
        .iter()
        .find(|(_, _, name)| same(name))
        .map(|(alpha2, _, _)| *alpha2)
        .or_else(|| {
            COUNTRY_ALIASES
                .iter()
                .find(|(name, _)| same(name))
                .map(|(_, alpha2)| *alpha2)
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_seed_countries_are_recognised_by_name() {
        assert_eq!(country_alpha2("India"), Some("IN"));
        assert_eq!(country_alpha2("Pakistan"), Some("PK"));
        assert_eq!(country_alpha2("Sri Lanka"), Some("LK"));
    }

    /// The lookup as it was before codes were found by binary search: the reference.
    fn linear_lookup(text: &str) -> Option<&'static str> {
        let text = text.trim();
        let by_code = |(alpha2, alpha3, _): &(&'static str, &'static str, &'static str)| {
            (text.eq_ignore_ascii_case(alpha2) || text.eq_ignore_ascii_case(alpha3))
                .then_some(*alpha2)
        };
        if matches!(text.len(), 2 | 3) {
            if let Some(code) = COUNTRIES.iter().find_map(by_code) {
                return Some(code);
            }
        }
        let folded = text.to_lowercase();
        COUNTRIES
            .iter()
            .find(|(_, _, name)| name.to_lowercase() == folded)
            .map(|(alpha2, _, _)| *alpha2)
            .or_else(|| {
                COUNTRY_ALIASES
                    .iter()
                    .find(|(name, _)| name.to_lowercase() == folded)
                    .map(|(_, alpha2)| *alpha2)
            })
    }

    #[test]
    fn the_table_is_in_alpha2_order() {
        assert!(COUNTRIES.windows(2).all(|pair| pair[0].0 < pair[1].0));
    }

    /// Every code, name and alias in the tables, in a random case, and anything else.
    fn country_texts() -> impl Strategy<Value = String> {
        let known: Vec<String> = COUNTRIES
            .iter()
            .flat_map(|(alpha2, alpha3, name)| [*alpha2, *alpha3, *name])
            .chain(COUNTRY_ALIASES.iter().map(|(name, _)| *name))
            .map(str::to_owned)
            .collect();
        prop_oneof![
            (prop::sample::select(known), any::<u64>()).prop_map(|(text, bits)| {
                text.chars()
                    .enumerate()
                    .map(|(at, c)| {
                        if bits >> (at % 64) & 1 == 1 {
                            c.to_ascii_lowercase()
                        } else {
                            c
                        }
                    })
                    .collect()
            }),
            "[ a-zA-Zé]{0,6}",
            any::<String>(),
        ]
    }

    proptest! {
        #[test]
        fn binary_search_finds_what_the_linear_scan_found(text in country_texts()) {
            prop_assert_eq!(country_alpha2(&text), linear_lookup(&text));
        }
    }

    #[test]
    fn codes_and_names_of_any_case_map_to_alpha2() {
        assert_eq!(country_alpha2("de"), Some("DE"));
        assert_eq!(country_alpha2("DEU"), Some("DE"));
        assert_eq!(country_alpha2(" united states "), Some("US"));
        assert_eq!(country_alpha2("Côte d'Ivoire"), Some("CI"));
        assert_eq!(country_alpha2("Russia"), Some("RU"));
        assert_eq!(country_alpha2("Atlantis"), None);
        assert_eq!(country_alpha2("XX"), None);
    }
}
