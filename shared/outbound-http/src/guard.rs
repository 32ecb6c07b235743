//! The address guard: which IP addresses a user-written request may reach.
//!
//! A workflow's `http` step runs inside our network, so a URL that reaches loopback, a private
//! range or the cloud metadata service would let a tenant read our internals (server-side
//! request forgery). The guard is an allow-list at heart: an IPv4 address must be public
//! unicast, an IPv6 address must be global unicast (`2000::/3`) outside the special ranges, and
//! the IPv6 forms that carry an IPv4 address (mapped, compatible, translated, NAT64, 6to4) are
//! judged by the address they carry, so `[::ffff:127.0.0.1]` is loopback.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Why an address is refused: the class named in the error message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AddressClass {
    /// 127.0.0.0/8, `::1`.
    Loopback,
    /// 0.0.0.0/8 and `::` (Linux connects 0.0.0.0 to the local host).
    Unspecified,
    /// 10/8, 172.16/12, 192.168/16.
    Private,
    /// 100.64.0.0/10, carrier-grade NAT: other customers of the same provider.
    SharedAddressSpace,
    /// 169.254/16, fe80::/10.
    LinkLocal,
    /// The instance and container metadata services (credentials live there).
    CloudMetadata,
    /// fc00::/7.
    UniqueLocal,
    /// fec0::/10, deprecated but still routed by some stacks.
    SiteLocal,
    /// 224/4, ff00::/8.
    Multicast,
    /// 255.255.255.255.
    Broadcast,
    /// 192.0.2/24, 198.51.100/24, 203.0.113/24, 2001:db8::/32, 3fff::/20.
    Documentation,
    /// 198.18/15.
    Benchmarking,
    /// Everything else that is not public unicast: 240/4, 192.0.0/24, 192.88.99/24, the
    /// IETF-reserved IPv6 space, Teredo and other tunnels, local-use NAT64.
    Reserved,
}

impl AddressClass {
    /// The name used in error messages.
    pub fn name(self) -> &'static str {
        match self {
            Self::Loopback => "loopback",
            Self::Unspecified => "unspecified",
            Self::Private => "private",
            Self::SharedAddressSpace => "shared (carrier-grade NAT)",
            Self::LinkLocal => "link-local",
            Self::CloudMetadata => "cloud metadata",
            Self::UniqueLocal => "unique-local",
            Self::SiteLocal => "site-local",
            Self::Multicast => "multicast",
            Self::Broadcast => "broadcast",
            Self::Documentation => "documentation",
            Self::Benchmarking => "benchmarking",
            Self::Reserved => "reserved",
        }
    }
}

impl fmt::Display for AddressClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A refused address and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{class} address {ip}")]
pub struct Refusal {
    pub ip: IpAddr,
    pub class: AddressClass,
}

/// `Ok` when `ip` may be reached by a user-written request.
pub fn classify(ip: IpAddr) -> Result<(), Refusal> {
    let class = match ip {
        IpAddr::V4(v4) => class_v4(v4),
        IpAddr::V6(v6) => class_v6(v6),
    };
    match class {
        None => Ok(()),
        Some(class) => Err(Refusal { ip, class }),
    }
}

/// `None` for public unicast.
fn class_v4(ip: Ipv4Addr) -> Option<AddressClass> {
    use AddressClass::*;
    let [a, b, c, d] = ip.octets();
    let class = match (a, b, c, d) {
        (0, ..) => Unspecified,
        (127, ..) => Loopback,
        (10, ..) => Private,
        (172, 16..=31, ..) => Private,
        (192, 168, ..) => Private,
        (100, 64..=127, ..) => SharedAddressSpace,
        // EC2 instance metadata; ECS task metadata/credentials; EKS pod identity.
        (169, 254, 169, 254) | (169, 254, 170, 2) | (169, 254, 170, 23) => CloudMetadata,
        (169, 254, ..) => LinkLocal,
        (192, 0, 0, _) => Reserved,
        (192, 0, 2, _) | (198, 51, 100, _) | (203, 0, 113, _) => Documentation,
        (192, 88, 99, _) => Reserved,
        (198, 18..=19, ..) => Benchmarking,
        (224..=239, ..) => Multicast,
        (255, 255, 255, 255) => Broadcast,
        (240..=255, ..) => Reserved,
        _ => return None,
    };
    Some(class)
}

/// `None` for global unicast outside the special ranges.
fn class_v6(ip: Ipv6Addr) -> Option<AddressClass> {
    use AddressClass::*;
    let s = ip.segments();
    if let Some(v4) = embedded_v4(ip) {
        return class_v4(v4);
    }
    if ip.is_unspecified() {
        return Some(Unspecified);
    }
    if ip.is_loopback() {
        return Some(Loopback);
    }
    // EC2 instance metadata and EKS pod identity over IPv6.
    if s == [0xfd00, 0x0ec2, 0, 0, 0, 0, 0, 0x254] || s == [0xfd00, 0x0ec2, 0, 0, 0, 0, 0, 0x23] {
        return Some(CloudMetadata);
    }
    let class = match s[0] {
        0xff00..=0xffff => Multicast,
        0xfe80..=0xfebf => LinkLocal,
        0xfec0..=0xfeff => SiteLocal,
        0xfc00..=0xfdff => UniqueLocal,
        // 2001:db8::/32 and 3fff::/20.
        0x2001 if s[1] == 0x0db8 => Documentation,
        0x3fff if s[1] < 0x1000 => Documentation,
        // 2001::/23: IETF protocol assignments (Teredo 2001::/32, ORCHID, benchmarking
        // 2001:2::/48...). Teredo carries an obfuscated IPv4 address; none of these is a web
        // server a workflow should call.
        0x2001 if s[1] < 0x0200 => Reserved,
        // 5f00::/16 SRv6 segment identifiers; anything outside 2000::/3 is not global unicast.
        0x2000..=0x3fff => return None,
        _ => Reserved,
    };
    Some(class)
}

/// The IPv4 address an IPv6 address stands for, for the forms that reach an IPv4 host:
/// IPv4-mapped `::ffff:a.b.c.d`, IPv4-translated `::ffff:0:a.b.c.d`, IPv4-compatible
/// `::a.b.c.d` (deprecated), NAT64 `64:ff9b::a.b.c.d` and 6to4 `2002:aabb:ccdd::/48`.
/// Local-use NAT64 (`64:ff9b:1::/48`) is not here: it is refused as reserved.
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let low = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    match s {
        [0, 0, 0, 0, 0, 0xffff, _, _] | [0, 0, 0, 0, 0xffff, 0, _, _] => Some(low),
        // `::` and `::1` are their own IPv6 classes, not 0.0.0.0 and 0.0.0.1.
        [0, 0, 0, 0, 0, 0, 0, 0] | [0, 0, 0, 0, 0, 0, 0, 1] => None,
        [0, 0, 0, 0, 0, 0, _, _] => Some(low),
        [0x64, 0xff9b, 0, 0, 0, 0, _, _] => Some(low),
        [0x2002, hi, lo, ..] => Some(Ipv4Addr::new(
            (hi >> 8) as u8,
            hi as u8,
            (lo >> 8) as u8,
            lo as u8,
        )),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class_of(ip: &str) -> Option<AddressClass> {
        let ip: IpAddr = ip.parse().expect("test address");
        classify(ip).err().map(|r| r.class)
    }

    #[test]
    fn public_addresses_pass() {
        for ip in [
            "1.1.1.1",
            "8.8.8.8",
            "93.184.216.34",
            "172.15.255.255",
            "172.32.0.0",
            "100.63.255.255",
            "100.128.0.0",
            "169.253.255.255",
            "169.255.0.0",
            "192.167.255.255",
            "192.169.0.0",
            "198.17.255.255",
            "198.20.0.0",
            "223.255.255.255",
            "11.0.0.1",
            "126.255.255.255",
            "128.0.0.0",
            "2606:4700:4700::1111",
            "2a00:1450:4007:80e::200e",
            "2001:4860:4860::8888",
            // NAT64 of a public address is how IPv6-only networks reach IPv4 hosts.
            "64:ff9b::808:808",
            // 6to4 of a public address.
            "2002:0808:0808::1",
        ] {
            assert_eq!(class_of(ip), None, "{ip} should pass");
        }
    }

    #[test]
    fn ipv4_special_ranges_are_refused_by_class() {
        use AddressClass::*;
        for (ip, class) in [
            ("127.0.0.1", Loopback),
            ("127.255.255.254", Loopback),
            ("127.1.2.3", Loopback),
            ("0.0.0.0", Unspecified),
            ("0.1.2.3", Unspecified),
            ("10.0.0.1", Private),
            ("10.255.255.255", Private),
            ("172.16.0.1", Private),
            ("172.31.255.255", Private),
            ("192.168.0.1", Private),
            ("192.168.255.255", Private),
            ("100.64.0.1", SharedAddressSpace),
            ("100.127.255.255", SharedAddressSpace),
            ("169.254.0.1", LinkLocal),
            ("169.254.169.253", LinkLocal),
            ("169.254.169.254", CloudMetadata),
            ("169.254.170.2", CloudMetadata),
            ("169.254.170.23", CloudMetadata),
            ("224.0.0.1", Multicast),
            ("239.255.255.250", Multicast),
            ("255.255.255.255", Broadcast),
            ("240.0.0.1", Reserved),
            ("255.255.255.254", Reserved),
            ("192.0.0.8", Reserved),
            ("192.88.99.1", Reserved),
            ("192.0.2.1", Documentation),
            ("198.51.100.7", Documentation),
            ("203.0.113.9", Documentation),
            ("198.18.0.1", Benchmarking),
            ("198.19.255.255", Benchmarking),
        ] {
            assert_eq!(class_of(ip), Some(class), "{ip}");
        }
    }

    #[test]
    fn ipv6_special_ranges_are_refused_by_class() {
        use AddressClass::*;
        for (ip, class) in [
            ("::1", Loopback),
            ("::", Unspecified),
            ("fe80::1", LinkLocal),
            ("febf::1", LinkLocal),
            ("fec0::1", SiteLocal),
            ("fc00::1", UniqueLocal),
            ("fd12:3456::1", UniqueLocal),
            ("fd00:ec2::254", CloudMetadata),
            ("fd00:ec2::23", CloudMetadata),
            ("fd00:ec2::253", UniqueLocal),
            ("ff02::1", Multicast),
            ("ff0e::1", Multicast),
            ("2001:db8::1", Documentation),
            ("3fff::1", Documentation),
            ("2001::1", Reserved),
            ("2001:2::1", Reserved),
            ("100::1", Reserved),
            ("5f00::1", Reserved),
            ("64:ff9b:1::a00:1", Reserved),
            ("4000::1", Reserved),
            ("1::1", Reserved),
        ] {
            assert_eq!(class_of(ip), Some(class), "{ip}");
        }
    }

    #[test]
    fn ipv6_forms_of_ipv4_addresses_are_judged_by_the_ipv4_address() {
        use AddressClass::*;
        for (ip, class) in [
            ("::ffff:127.0.0.1", Loopback),
            ("::ffff:7f00:1", Loopback),
            ("0:0:0:0:0:ffff:169.254.169.254", CloudMetadata),
            ("::ffff:10.0.0.1", Private),
            ("::ffff:0.0.0.0", Unspecified),
            ("::ffff:0:192.168.1.1", Private),
            ("::127.0.0.1", Loopback),
            ("::10.1.2.3", Private),
            ("::169.254.169.254", CloudMetadata),
            ("64:ff9b::127.0.0.1", Loopback),
            ("64:ff9b::a9fe:a9fe", CloudMetadata),
            ("64:ff9b::10.0.0.1", Private),
            ("2002:7f00:1::", Loopback),
            ("2002:a9fe:a9fe::1", CloudMetadata),
            ("2002:c0a8:0101::1", Private),
        ] {
            assert_eq!(class_of(ip), Some(class), "{ip}");
        }
    }

    #[test]
    fn the_refusal_names_the_class_and_the_address() {
        let refusal = classify("169.254.169.254".parse().expect("ip")).expect_err("refused");
        assert_eq!(
            refusal.to_string(),
            "cloud metadata address 169.254.169.254"
        );
        let refusal = classify("fd00:ec2::254".parse().expect("ip")).expect_err("refused");
        assert_eq!(refusal.to_string(), "cloud metadata address fd00:ec2::254");
    }
}
