//! Where to connect and as whom: flags, then environment (`USERHUB_URL`, `USERHUB_DOMAIN`,
//! `USERHUB_API_KEY`, read by clap into the same fields), then a profile of the config file.

use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The server a command talks to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connection {
    /// e.g. `http://127.0.0.1:8080`, without a trailing slash.
    pub url: String,
    pub domain: String,
    /// `None` for a server in local demo mode.
    pub api_key: Option<String>,
}

/// Values given on the command line or in the environment.
#[derive(Debug, Clone, Default)]
pub struct GivenConnection {
    pub url: Option<String>,
    pub domain: Option<String>,
    pub api_key: Option<String>,
    /// A profile named explicitly must exist.
    pub profile: Option<String>,
    pub config_file: Option<PathBuf>,
}

/// One `[profiles.<name>]` table of the config file.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    pub url: Option<String>,
    pub domain: Option<String>,
    pub api_key: Option<String>,
}

/// The config file: `[profiles.default]`, `[profiles.staging]`, ...
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    #[serde(default)]
    pub profiles: BTreeMap<String, Profile>,
}

/// The connection cannot be worked out.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the config file {path}: {reason}")]
    Unreadable { path: PathBuf, reason: String },
    #[error("there is no profile `{name}` in {path}")]
    UnknownProfile { name: String, path: PathBuf },
    #[error(
        "no domain: pass --domain, set USERHUB_DOMAIN, or add `domain` to a profile of the config file"
    )]
    NoDomain,
    #[error("`{0}` is not an http(s) URL")]
    BadUrl(String),
}

const DEFAULT_URL: &str = "http://127.0.0.1:8080";
const DEFAULT_PROFILE: &str = "default";

/// `$XDG_CONFIG_HOME/userhub/config.toml`, else `~/.config/userhub/config.toml`.
pub fn default_config_path() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|value| !value.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".config")))?;
    Some(base.join("userhub").join("config.toml"))
}

fn read_config(path: &Path) -> Result<Option<ConfigFile>, ConfigError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(error) => {
            return Err(ConfigError::Unreadable {
                path: path.to_owned(),
                reason: error.to_string(),
            });
        }
    };
    toml::from_str(&text)
        .map(Some)
        .map_err(|error| ConfigError::Unreadable {
            path: path.to_owned(),
            reason: error.to_string(),
        })
}

/// Flags and environment first, then the profile, then defaults.
pub fn resolve(given: &GivenConnection) -> Result<Connection, ConfigError> {
    let path = given.config_file.clone().or_else(default_config_path);
    let file = match &path {
        Some(path) => read_config(path)?,
        None => None,
    };
    let profile_name = given.profile.as_deref().unwrap_or(DEFAULT_PROFILE);
    let profile = match (&file, &given.profile) {
        (Some(file), _) if file.profiles.contains_key(profile_name) => {
            file.profiles[profile_name].clone()
        }
        (_, Some(name)) => {
            return Err(ConfigError::UnknownProfile {
                name: name.clone(),
                path: path.unwrap_or_default(),
            });
        }
        _ => Profile::default(),
    };
    merge(given, &profile)
}

fn non_empty(value: &Option<String>) -> Option<String> {
    value.as_ref().filter(|value| !value.is_empty()).cloned()
}

fn merge(given: &GivenConnection, profile: &Profile) -> Result<Connection, ConfigError> {
    let url = non_empty(&given.url)
        .or_else(|| non_empty(&profile.url))
        .unwrap_or_else(|| DEFAULT_URL.to_owned());
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(ConfigError::BadUrl(url));
    }
    let domain = non_empty(&given.domain)
        .or_else(|| non_empty(&profile.domain))
        .ok_or(ConfigError::NoDomain)?;
    Ok(Connection {
        url: url.trim_end_matches('/').to_owned(),
        domain,
        api_key: non_empty(&given.api_key).or_else(|| non_empty(&profile.api_key)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_file(name: &str, text: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("userhub-cli-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("config.toml");
        std::fs::write(&path, text).unwrap();
        path
    }

    const FILE: &str = r#"
[profiles.default]
url = "http://default.example:8080/"
domain = "acme"
api_key = "uh_default"

[profiles.staging]
url = "https://staging.example"
domain = "acme-staging"
"#;

    #[test]
    fn flags_and_environment_win_over_the_profile() {
        let given = GivenConnection {
            domain: Some("other".to_owned()),
            config_file: Some(temp_file("precedence", FILE)),
            ..GivenConnection::default()
        };
        let connection = resolve(&given).unwrap();
        assert_eq!(connection.url, "http://default.example:8080");
        assert_eq!(connection.domain, "other");
        assert_eq!(connection.api_key.as_deref(), Some("uh_default"));
    }

    #[test]
    fn a_named_profile_is_used_and_must_exist() {
        let path = temp_file("named", FILE);
        let given = GivenConnection {
            profile: Some("staging".to_owned()),
            config_file: Some(path.clone()),
            ..GivenConnection::default()
        };
        let connection = resolve(&given).unwrap();
        assert_eq!(connection.url, "https://staging.example");
        assert_eq!(connection.domain, "acme-staging");
        assert_eq!(connection.api_key, None);
        let missing = GivenConnection {
            profile: Some("prod".to_owned()),
            config_file: Some(path),
            ..GivenConnection::default()
        };
        assert!(matches!(
            resolve(&missing),
            Err(ConfigError::UnknownProfile { .. })
        ));
    }

    #[test]
    fn without_a_file_defaults_apply_and_a_domain_is_required() {
        let nowhere = std::env::temp_dir().join("userhub-cli-no-such-dir/config.toml");
        let given = GivenConnection {
            domain: Some("demo".to_owned()),
            config_file: Some(nowhere.clone()),
            ..GivenConnection::default()
        };
        assert_eq!(
            resolve(&given).unwrap(),
            Connection {
                url: "http://127.0.0.1:8080".to_owned(),
                domain: "demo".to_owned(),
                api_key: None,
            }
        );
        let no_domain = GivenConnection {
            config_file: Some(nowhere),
            ..GivenConnection::default()
        };
        assert!(matches!(resolve(&no_domain), Err(ConfigError::NoDomain)));
    }

    #[test]
    fn a_broken_file_or_url_is_a_clear_error() {
        let broken = GivenConnection {
            config_file: Some(temp_file("broken", "[profiles.default]\nurll = 1\n")),
            ..GivenConnection::default()
        };
        assert!(matches!(
            resolve(&broken),
            Err(ConfigError::Unreadable { .. })
        ));
        let bad_url = GivenConnection {
            url: Some("ftp://x".to_owned()),
            domain: Some("d".to_owned()),
            config_file: Some(temp_file("url", "")),
            ..GivenConnection::default()
        };
        assert!(matches!(resolve(&bad_url), Err(ConfigError::BadUrl(_))));
    }
}
