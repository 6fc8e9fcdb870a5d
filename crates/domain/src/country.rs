//! Country names and codes: ISO 3166 alpha-2, alpha-3 or an English name, stored as alpha-2.

use crate::country_table::{COUNTRIES, COUNTRY_ALIASES};

/// The alpha-2 code of a country given by alpha-2, alpha-3 or English name (case-insensitive).
pub fn country_alpha2(text: &str) -> Option<&'static str> {
    let text = text.trim();
    let by_code = |(alpha2, alpha3, _): &(&'static str, &'static str, &'static str)| {
        (text.eq_ignore_ascii_case(alpha2) || text.eq_ignore_ascii_case(alpha3)).then_some(*alpha2)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seed_countries_are_recognised_by_name() {
        assert_eq!(country_alpha2("India"), Some("IN"));
        assert_eq!(country_alpha2("Pakistan"), Some("PK"));
        assert_eq!(country_alpha2("Sri Lanka"), Some("LK"));
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
