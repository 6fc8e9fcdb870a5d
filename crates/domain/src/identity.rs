//! Identities (uid, email, phone number, platform ids): their kinds, validation and the
//! normalised form under which they are unique.

use crate::limits::{MAX_IDENTITY_VALUE_CHARS, MAX_UID_CHARS};
use crate::values::MetadataValue;
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::str::FromStr;
use unicode_normalization::{IsNormalized, UnicodeNormalization, is_nfc_quick};

/// The kinds of identity a profile can carry.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum IdentityKind {
    Uid,
    Email,
    PhoneNumber,
    FacebookId,
    DiscordId,
    WhatsappId,
    GooglePlaystoreId,
    AppleGamecenterId,
    NintendoId,
    PsnId,
    XboxLiveId,
    SteamId,
    /// EXT: an anonymous device (a profile without a user id).
    DeviceId,
}

impl IdentityKind {
    pub const ALL: [IdentityKind; 13] = [
        IdentityKind::Uid,
        IdentityKind::Email,
        IdentityKind::PhoneNumber,
        IdentityKind::FacebookId,
        IdentityKind::DiscordId,
        IdentityKind::WhatsappId,
        IdentityKind::GooglePlaystoreId,
        IdentityKind::AppleGamecenterId,
        IdentityKind::NintendoId,
        IdentityKind::PsnId,
        IdentityKind::XboxLiveId,
        IdentityKind::SteamId,
        IdentityKind::DeviceId,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            IdentityKind::Uid => "uid",
            IdentityKind::Email => "email",
            IdentityKind::PhoneNumber => "phone_number",
            IdentityKind::FacebookId => "facebook_id",
            IdentityKind::DiscordId => "discord_id",
            IdentityKind::WhatsappId => "whatsapp_id",
            IdentityKind::GooglePlaystoreId => "google_playstore_id",
            IdentityKind::AppleGamecenterId => "apple_gamecenter_id",
            IdentityKind::NintendoId => "nintendo_id",
            IdentityKind::PsnId => "psn_id",
            IdentityKind::XboxLiveId => "xbox_live_id",
            IdentityKind::SteamId => "steam_id",
            IdentityKind::DeviceId => "device_id",
        }
    }

    pub fn max_chars(self) -> usize {
        if self == IdentityKind::Uid {
            MAX_UID_CHARS
        } else {
            MAX_IDENTITY_VALUE_CHARS
        }
    }

    /// The form under which values of this kind are compared for uniqueness: Unicode NFC (so
    /// that precomposed and decomposed accents are one value), emails in lower case, phone
    /// numbers without spaces, dashes, dots and parentheses.
    pub fn normalize(self, value: &str) -> String {
        let composed = nfc(value);
        match self {
            IdentityKind::Email => nfc(&composed.to_lowercase()).into_owned(),
            IdentityKind::PhoneNumber => composed
                .chars()
                .filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')'))
                .collect(),
            _ => composed.into_owned(),
        }
    }

    pub fn check_value(self, value: &str) -> Result<(), &'static str> {
        match self {
            IdentityKind::Email => {
                let (local, host) = value.split_once('@').ok_or("an email address needs an @")?;
                let plausible = !local.is_empty()
                    && !host.is_empty()
                    && !host.contains('@')
                    && !value.chars().any(char::is_whitespace);
                plausible.then_some(()).ok_or("not a valid email address")
            }
            IdentityKind::PhoneNumber => {
                let normalized = self.normalize(value);
                let digits = normalized.strip_prefix('+').unwrap_or(&normalized);
                let plausible = digits.len() >= 3 && digits.bytes().all(|b| b.is_ascii_digit());
                plausible.then_some(()).ok_or("a phone number may hold only digits, an optional leading +, spaces, dashes, dots and parentheses")
            }
            _ => Ok(()),
        }
    }
}

impl FromStr for IdentityKind {
    type Err = ();

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        IdentityKind::ALL
            .into_iter()
            .find(|kind| kind.as_str() == text)
            .ok_or(())
    }
}

/// One identity of a profile: a validated, trimmed value with its normalised form and metadata.
#[derive(Debug, Clone, PartialEq)]
pub struct Identity {
    kind: IdentityKind,
    value: String,
    normalized: String,
    metadata: BTreeMap<String, MetadataValue>,
    /// Position in the record's `identities` array, for error paths.
    position: usize,
}

impl Identity {
    /// An identity of `kind` with `value` (trimmed, checked) and `metadata`, found at
    /// `position` of its record's `identities`.
    pub fn new(
        kind: IdentityKind,
        value: String,
        metadata: BTreeMap<String, MetadataValue>,
        position: usize,
    ) -> Identity {
        Identity {
            kind,
            normalized: kind.normalize(&value),
            value,
            metadata,
            position,
        }
    }

    /// The identity as stored: its normalised form is recomputed from the value.
    pub fn stored(
        kind: IdentityKind,
        value: String,
        metadata: BTreeMap<String, MetadataValue>,
    ) -> Identity {
        Identity::new(kind, value, metadata, 0)
    }

    /// The path of this identity's value in its record, e.g. `identities[2].email`.
    pub fn path(&self) -> String {
        format!("identities[{}].{}", self.position, self.kind.as_str())
    }

    /// Position in the record's `identities` array.
    pub fn position(&self) -> usize {
        self.position
    }

    pub fn kind(&self) -> IdentityKind {
        self.kind
    }

    /// The value as given (trimmed).
    pub fn value(&self) -> &str {
        &self.value
    }

    /// The value under which uniqueness is checked.
    pub fn normalized(&self) -> &str {
        &self.normalized
    }

    pub fn metadata(&self) -> &BTreeMap<String, MetadataValue> {
        &self.metadata
    }
}

impl serde::Serialize for Identity {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(self.metadata.len() + 1))?;
        for (key, value) in &self.metadata {
            if key != self.kind.as_str() {
                map.serialize_entry(key, value)?;
            }
        }
        map.serialize_entry(self.kind.as_str(), &self.value)?;
        map.end()
    }
}

/// `value` in Unicode NFC; borrowed when the quick check proves it is already (ASCII and most
/// text), which spares the composition tables the normalisation would otherwise walk.
fn nfc(value: &str) -> Cow<'_, str> {
    match is_nfc_quick(value.chars()) {
        IsNormalized::Yes => Cow::Borrowed(value),
        IsNormalized::No | IsNormalized::Maybe => Cow::Owned(value.nfc().collect()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// The quick check never changes what a value normalises to.
        #[test]
        fn normalising_equals_full_composition(value in "\\PC{0,12}|[a-zA-Z\u{300}-\u{36f}\u{e0}-\u{ff}\u{1100}-\u{1175}\u{ac00}-\u{ac10}]{0,12}") {
            let composed: String = value.nfc().collect();
            let quick = nfc(&value);
            prop_assert_eq!(quick.as_ref(), composed.as_str());
            prop_assert_eq!(
                IdentityKind::Email.normalize(&value),
                composed.to_lowercase().nfc().collect::<String>()
            );
            prop_assert_eq!(IdentityKind::Uid.normalize(&value), composed);
        }
    }

    #[test]
    fn emails_match_case_insensitively_and_phones_ignore_punctuation() {
        assert_eq!(
            IdentityKind::Email.normalize("Ada@Example.COM"),
            "ada@example.com"
        );
        assert_eq!(
            IdentityKind::PhoneNumber.normalize("+1 (555) 010-99.88"),
            "+15550109988"
        );
    }

    #[test]
    fn precomposed_and_decomposed_accents_are_one_identity() {
        let precomposed = "caf\u{e9}";
        let decomposed = "cafe\u{301}";
        assert_ne!(precomposed, decomposed);
        for kind in [
            IdentityKind::Uid,
            IdentityKind::Email,
            IdentityKind::SteamId,
        ] {
            assert_eq!(kind.normalize(precomposed), kind.normalize(decomposed));
        }
    }

    #[test]
    fn identities_show_their_metadata_beside_their_value() {
        let mut metadata = BTreeMap::new();
        metadata.insert("source".to_owned(), MetadataValue::text("crm"));
        metadata.insert("rank".to_owned(), MetadataValue::number("3").unwrap());
        let identity = Identity::new(IdentityKind::Email, "Ada@x.io".into(), metadata, 0);
        assert_eq!(
            serde_json::to_string(&identity).unwrap(),
            r#"{"rank":3,"source":"crm","email":"Ada@x.io"}"#
        );
        assert_eq!(identity.normalized(), "ada@x.io");
    }
}
