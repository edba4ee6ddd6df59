//! Where webhooks may go: SSRF checks.
//!
//! A tenant names a URL and the server connects to it, so an unchecked URL lets a tenant reach
//! what only the server can: its loopback, the private network, a cloud's metadata service. A URL
//! must be `http` or `https` without credentials in it, and every address it resolves to must be
//! public. The check runs when the URL is set (a 422 for the caller) and again inside the HTTP
//! client's resolver at every delivery, so the connection goes only to addresses that were
//! checked: a name re-pointed inside after it was set (DNS rebinding) is refused, not followed.
//! Redirects are not followed either. `--allow-private-webhooks` lifts the address check (tests,
//! and receivers on the same network).

use crate::error::ServiceError;
use crate::limits::excerpt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

/// Longest webhook URL.
pub const MAX_URL_BYTES: usize = 2_048;
/// Longest wait for a webhook host's addresses: a name server that never answers is a refusal.
const RESOLVE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// Whether `ip` is reachable from the public internet: not loopback, private, link-local (cloud
/// metadata), shared, multicast, reserved or unspecified, in IPv4 or IPv6 (IPv4 inside IPv6 too).
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public_v4(v4);
            }
            let segments = v6.segments();
            // NAT64 (64:ff9b::/96) carries an IPv4 address in its last 32 bits.
            if segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
                let [.., a, b, c, d] = v6.octets();
                return is_public_v4(Ipv4Addr::new(a, b, c, d));
            }
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (segments[0] & 0xfe00) == 0xfc00 // unique local
                || (segments[0] & 0xffc0) == 0xfe80 // link-local
                || (segments[0] & 0xffc0) == 0xfec0 // site-local (deprecated)
                || segments[0] == 0x2001 && segments[1] == 0x0db8 // documentation
                || segments[..6] == [0, 0, 0, 0, 0, 0]) // IPv4-compatible
        }
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    !(ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        || a >= 240 // reserved
        || (a == 100 && (64..128).contains(&b)) // shared address space (CGNAT)
        || (a == 192 && b == 0 && ip.octets()[2] == 0) // IETF protocol assignments
        || (a == 198 && (b == 18 || b == 19))) // benchmarking
}

/// `url` checked as a webhook target: its scheme, its form, and (unless `allow_private`) the
/// addresses its host resolves to. `field` names it in errors.
pub async fn check_url(field: &str, url: &str, allow_private: bool) -> Result<reqwest::Url, ServiceError> {
    let invalid = |why: &str| ServiceError::invalid(field, format!("{field} `{}` {why}", excerpt(url)));
    if url.len() > MAX_URL_BYTES {
        return Err(ServiceError::invalid(field, format!("{field} is over {MAX_URL_BYTES} bytes")));
    }
    let parsed = reqwest::Url::parse(url).map_err(|_| invalid("is not a URL"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(invalid("must be http or https"));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(invalid("must not carry credentials; the webhook is signed instead"));
    }
    let Some(host) = parsed.host_str().map(str::to_string) else { return Err(invalid("has no host")) };
    if allow_private {
        return Ok(parsed);
    }
    let port = parsed.port_or_known_default().unwrap_or(443);
    let addresses = resolve(&host, port).await.map_err(|_| invalid("does not resolve"))?;
    if addresses.is_empty() || addresses.iter().any(|a| !is_public(a.ip())) {
        return Err(invalid(
            "points inside (loopback, private, link-local or metadata addresses are refused; \
             see --allow-private-webhooks)",
        ));
    }
    Ok(parsed)
}

async fn resolve(host: &str, port: u16) -> std::io::Result<Vec<SocketAddr>> {
    // `[::1]` as the URL spells it is `::1` to the resolver.
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let looked_up = tokio::time::timeout(RESOLVE_TIMEOUT, tokio::net::lookup_host((bare, port)))
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "no answer from DNS"))?;
    Ok(looked_up?.collect())
}

/// The HTTP client's resolver: it answers only public addresses (unless private ones are
/// allowed), so a connection never goes where [`check_url`] would refuse.
#[derive(Clone, Copy)]
pub struct CheckedResolver {
    pub allow_private: bool,
}

impl reqwest::dns::Resolve for CheckedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let allow_private = self.allow_private;
        let host = name.as_str().to_string();
        Box::pin(async move {
            let addresses: Vec<SocketAddr> = resolve(&host, 0).await?;
            let allowed: Vec<SocketAddr> =
                addresses.into_iter().filter(|a| allow_private || is_public(a.ip())).collect();
            if allowed.is_empty() {
                return Err("the webhook's host resolves to no public address".into());
            }
            Ok(Box::new(allowed.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inside_addresses_are_not_public() {
        let inside = [
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
            "fe80::1",
            "fd00:ec2::254",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a00:1",
            "::127.0.0.1",
        ];
        for address in inside {
            assert!(!is_public(address.parse().unwrap()), "{address}");
        }
        for address in ["93.184.216.34", "1.1.1.1", "2606:4700:4700::1111", "64:ff9b::5db8:d822"] {
            assert!(is_public(address.parse().unwrap()), "{address}");
        }
    }

    #[tokio::test]
    async fn urls_must_be_http_and_point_outside() {
        for url in [
            "ftp://example.com/x",
            "file:///etc/passwd",
            "gopher://x",
            "http://user:pw@example.com/",
            "not a url",
            "http://127.0.0.1:9/hook",
            "http://[::1]/hook",
            "http://169.254.169.254/latest/meta-data",
            "http://localhost/hook",
            "http://10.0.0.1/",
        ] {
            let error = check_url("webhook.url", url, false).await.unwrap_err();
            assert_eq!(error.param(), Some("webhook.url"), "{url}: {error}");
        }
        assert!(check_url("webhook.url", "http://127.0.0.1:9/hook", true).await.is_ok());
        assert!(check_url("webhook.url", "ftp://127.0.0.1/", true).await.is_err());
        assert!(check_url("webhook.url", "https://93.184.216.34/hook", false).await.is_ok());
    }
}
