//! Where a webhook may be sent: an `http` or `https` URL whose host resolves only to public
//! addresses — loopback, private, link-local, shared, unspecified, multicast and documentation
//! ranges are refused unless the operator allows private targets. Checked when an endpoint is
//! registered and again before every attempt, which then connects only to the addresses
//! checked (redirects are not followed), so DNS cannot swap in an internal address later.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;
use url::Url;

/// How long resolving a webhook's host may take.
const LOOKUP_TIMEOUT: Duration = Duration::from_secs(5);

/// Why a URL cannot be a webhook target.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    #[error("`{0}` is not a valid URL")]
    Invalid(String),
    #[error("webhook URLs must use http or https, not `{0}`")]
    Scheme(String),
    #[error("webhook URLs may not carry a user name or password")]
    Credentials,
    /// The host does not resolve, or not only to public addresses: one answer for both, so
    /// that registering cannot be used to probe the installation's internal names.
    #[error(
        "`{0}` does not resolve to public addresses only (hosts that do not resolve, and \
         loopback, private and link-local targets are refused unless the operator allows them)"
    )]
    NotPublic(String),
}

/// A URL cleared for sending, with the addresses its host resolved to.
#[derive(Debug, Clone)]
pub struct Target {
    pub url: Url,
    pub host: String,
    pub addresses: Vec<SocketAddr>,
}

/// Whether `address` is on the public internet.
fn is_public(address: IpAddr) -> bool {
    match address {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => match embedded_v4(v6) {
            Some(v4) => is_public_v4(v4) && is_public_v6(v6),
            None => is_public_v6(v6),
        },
    }
}

/// The IPv4 address an IPv6 address carries: mapped (`::ffff:a.b.c.d`), compatible
/// (`::a.b.c.d`) or 6to4 (`2002:aabb:ccdd::/48`).
fn embedded_v4(v6: Ipv6Addr) -> Option<Ipv4Addr> {
    let segments = v6.segments();
    if segments[0] == 0x2002 {
        let [a, b] = segments[1].to_be_bytes();
        let [c, d] = segments[2].to_be_bytes();
        return Some(Ipv4Addr::new(a, b, c, d));
    }
    // `to_ipv4` covers the mapped and the compatible forms (and `::`, `::1`, refused anyway).
    v6.to_ipv4()
}

fn is_public_v4(v4: Ipv4Addr) -> bool {
    let [a, b, c, _] = v4.octets();
    let shared = a == 100 && (64..128).contains(&b);
    let documentation = matches!((a, b, c), (192, 0, 2) | (198, 51, 100) | (203, 0, 113));
    let benchmarking = a == 198 && (b == 18 || b == 19);
    let reserved = a >= 240 || a == 0 || (a == 192 && b == 0 && c == 0);
    !(v4.is_loopback()
        || v4.is_private()
        || v4.is_link_local()
        || v4.is_unspecified()
        || v4.is_broadcast()
        || v4.is_multicast()
        || shared
        || documentation
        || benchmarking
        || reserved)
}

fn is_public_v6(v6: Ipv6Addr) -> bool {
    let first = v6.segments()[0];
    let unique_local = (first & 0xfe00) == 0xfc00;
    let link_local = (first & 0xffc0) == 0xfe80;
    let site_local = (first & 0xffc0) == 0xfec0;
    let documentation = first == 0x2001 && v6.segments()[1] == 0x0db8;
    let nat64 = first == 0x0064 && v6.segments()[1] == 0xff9b;
    let discard = first == 0x0100 && v6.segments()[1..4] == [0, 0, 0];
    // `::ffff:0:a.b.c.d`, the IPv4-translated form.
    let translated = v6.segments()[..6] == [0, 0, 0, 0, 0xffff, 0];
    !(v6.is_loopback()
        || v6.is_unspecified()
        || v6.is_multicast()
        || unique_local
        || link_local
        || site_local
        || documentation
        || nat64
        || discard
        || translated)
}

/// Parses `text` and resolves its host; every address must be public unless
/// `allow_private` (then any address is accepted).
pub async fn checked_target(text: &str, allow_private: bool) -> Result<Target, TargetError> {
    let url = Url::parse(text).map_err(|_| TargetError::Invalid(text.to_owned()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(TargetError::Scheme(url.scheme().to_owned()));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(TargetError::Credentials);
    }
    let host = url
        .host_str()
        .ok_or_else(|| TargetError::Invalid(text.to_owned()))?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let port = url
        .port_or_known_default()
        .ok_or_else(|| TargetError::Invalid(text.to_owned()))?;
    let lookup = tokio::time::timeout(
        LOOKUP_TIMEOUT,
        tokio::net::lookup_host((host.as_str(), port)),
    );
    let addresses: Vec<SocketAddr> = match lookup.await {
        Ok(Ok(addresses)) => addresses.collect(),
        Ok(Err(error)) => {
            tracing::info!(%host, %error, "a webhook host does not resolve");
            Vec::new()
        }
        Err(_) => {
            tracing::info!(%host, "a webhook host did not resolve in time");
            Vec::new()
        }
    };
    let internal = addresses.iter().find(|address| !is_public(address.ip()));
    if addresses.is_empty() || (!allow_private && internal.is_some()) {
        if let Some(address) = internal {
            tracing::info!(%host, address = %address.ip(), "a webhook host resolves to an internal address");
        }
        return Err(TargetError::NotPublic(host));
    }
    Ok(Target {
        url,
        host,
        addresses,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_public_addresses_pass() {
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "::1",
            "::",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::127.0.0.1",
            "::169.254.169.254",
            "2002:7f00:1::1",
            "2002:a9fe:a9fe::1",
            "fec0::1",
            "100::1",
            "2001:db8::1",
        ] {
            assert!(!is_public(private.parse().unwrap()), "{private}");
        }
        for public in [
            "93.184.216.34",
            "8.8.8.8",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
        ] {
            assert!(is_public(public.parse().unwrap()), "{public}");
        }
    }

    #[tokio::test]
    async fn urls_are_checked_before_anything_is_resolved() {
        let refused = [
            ("ftp://example.com/hook", "ftp"),
            ("http://user:pw@example.com/", "user name"),
            ("not a url", "not a valid URL"),
        ];
        for (url, says) in refused {
            let error = checked_target(url, false).await.unwrap_err();
            assert!(error.to_string().contains(says), "{url}: {error}");
        }
    }

    #[tokio::test]
    async fn internal_targets_are_refused_unless_allowed() {
        for url in [
            "http://127.0.0.1:9/hook",
            "http://localhost:9/hook",
            "http://[::1]:9/hook",
            "http://169.254.169.254/latest/meta-data",
            "http://10.0.0.7/hook",
        ] {
            let error = checked_target(url, false).await.unwrap_err();
            assert!(matches!(error, TargetError::NotPublic(_)), "{url}: {error}");
            assert!(!error.to_string().contains("127.0.0.1") || url.contains("127.0.0.1"));
            assert!(
                checked_target(url, true).await.is_ok(),
                "{url} when allowed"
            );
        }
    }
}
