//! Who is on the other end of a connection: the peer's address in canonical form (an
//! IPv4-mapped IPv6 address is its IPv4 address), or — only when the peer is one of the
//! operator's trusted proxies — the nearest address of the proxy's forwarding header. Limits
//! that count by address ([`crate::AuthThrottle`], the per-address connection cap) count
//! [`ClientAddress::bucket`]: an IPv4 host, or an IPv6 /64 network, since one machine usually
//! owns a whole /64.

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderName};
use axum::middleware::Next;
use axum::response::Response;
use ipnet::IpNet;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

/// The address a request came from, as the server loop resolved it (always canonical).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClientAddress(IpAddr);

impl ClientAddress {
    /// `address` in canonical form.
    pub fn new(address: IpAddr) -> ClientAddress {
        ClientAddress(address.to_canonical())
    }

    pub fn ip(self) -> IpAddr {
        self.0
    }

    /// What limits per address count: the IPv4 host, or the IPv6 /64 network.
    pub fn bucket(self) -> IpAddr {
        match self.0 {
            IpAddr::V4(_) => self.0,
            IpAddr::V6(v6) => {
                let [a, b, c, d, ..] = v6.segments();
                IpAddr::V6(Ipv6Addr::new(a, b, c, d, 0, 0, 0, 0))
            }
        }
    }
}

/// Where client addresses come from: the peer, or a trusted proxy's header.
#[derive(Debug, Clone, Default)]
pub struct AddressPolicy {
    /// The header a trusted proxy writes the client's address into (its last entry is used).
    pub header: Option<HeaderName>,
    /// The proxies whose header is believed; anyone else's is ignored.
    pub trusted_proxies: Vec<IpNet>,
}

impl AddressPolicy {
    /// Whether `peer` is one of the trusted proxies (whose connections carry many clients).
    pub fn is_trusted_proxy(&self, peer: IpAddr) -> bool {
        let peer = peer.to_canonical();
        self.trusted_proxies.iter().any(|net| net.contains(&peer))
    }

    /// The client behind a request from `peer` with `headers`.
    pub fn resolve(&self, peer: IpAddr, headers: &HeaderMap) -> ClientAddress {
        let forwarded = self
            .header
            .as_ref()
            .filter(|_| self.is_trusted_proxy(peer))
            .and_then(|header| forwarded_address(headers, header));
        ClientAddress::new(forwarded.unwrap_or(peer))
    }
}

/// Puts the [`ClientAddress`] into every request.
pub async fn resolve_client_address(
    State(policy): State<Arc<AddressPolicy>>,
    mut request: Request,
    next: Next,
) -> Response {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(peer)| peer.ip());
    if let Some(peer) = peer {
        let client = policy.resolve(peer, request.headers());
        request.extensions_mut().insert(client);
    }
    next.run(request).await
}

/// The last (nearest) address of a forwarding header.
fn forwarded_address(headers: &HeaderMap, header: &HeaderName) -> Option<IpAddr> {
    let value = headers.get_all(header).iter().next_back()?.to_str().ok()?;
    value.rsplit(',').next()?.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(trusted: &[&str]) -> AddressPolicy {
        AddressPolicy {
            header: Some(HeaderName::from_static("x-forwarded-for")),
            trusted_proxies: trusted.iter().map(|net| net.parse().unwrap()).collect(),
        }
    }

    fn forwarded(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", value.parse().unwrap());
        headers
    }

    #[test]
    fn ipv4_mapped_addresses_are_their_ipv4_address() {
        let mapped: IpAddr = "::ffff:10.1.2.3".parse().unwrap();
        let client = ClientAddress::new(mapped);
        assert_eq!(client.ip(), "10.1.2.3".parse::<IpAddr>().unwrap());
        assert_eq!(client.bucket(), "10.1.2.3".parse::<IpAddr>().unwrap());
        let neighbour = ClientAddress::new("::ffff:10.1.2.4".parse().unwrap());
        assert_ne!(client.bucket(), neighbour.bucket());
    }

    #[test]
    fn ipv6_addresses_share_their_64_network() {
        let one = ClientAddress::new("2001:db8:1:2::1".parse().unwrap());
        let other = ClientAddress::new("2001:db8:1:2::ffff".parse().unwrap());
        let elsewhere = ClientAddress::new("2001:db8:1:3::1".parse().unwrap());
        assert_eq!(one.bucket(), other.bucket());
        assert_ne!(one.bucket(), elsewhere.bucket());
    }

    #[test]
    fn only_a_trusted_proxy_names_the_client() {
        let policy = policy(&["10.0.0.0/8"]);
        let headers = forwarded("203.0.113.9, 198.51.100.7");
        let via_proxy = policy.resolve("10.9.9.9".parse().unwrap(), &headers);
        assert_eq!(via_proxy.ip(), "198.51.100.7".parse::<IpAddr>().unwrap());
        let direct = policy.resolve("192.0.2.1".parse().unwrap(), &headers);
        assert_eq!(direct.ip(), "192.0.2.1".parse::<IpAddr>().unwrap());
        let mapped_proxy = policy.resolve("::ffff:10.0.0.1".parse().unwrap(), &headers);
        assert_eq!(mapped_proxy.ip(), "198.51.100.7".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn a_garbled_header_leaves_the_proxy_address() {
        let policy = policy(&["10.0.0.0/8"]);
        let client = policy.resolve("10.0.0.1".parse().unwrap(), &forwarded("garbage"));
        assert_eq!(client.ip(), "10.0.0.1".parse::<IpAddr>().unwrap());
    }
}
