//! What a user-written request may say: its URL, method and headers. Checked before anything
//! is resolved or dialled, and (for the URL) again at every redirect.

use http::Method;
use http::header::{HeaderMap, HeaderName, HeaderValue};
use url::Url;

/// The methods a workflow step may use. No CONNECT (tunnels), TRACE or OPTIONS.
const METHODS: [Method; 6] = [
    Method::GET,
    Method::POST,
    Method::PUT,
    Method::PATCH,
    Method::DELETE,
    Method::HEAD,
];

/// Headers a user may not set: `Host` (it would let a request claim another virtual host
/// than the one vetted), the message framing (`Content-Length`, `Transfer-Encoding`: we frame
/// the body ourselves, a user value could smuggle a second request) and the hop-by-hop headers
/// that belong to the connection, not to the request.
const FORBIDDEN_HEADERS: [&str; 11] = [
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authorization",
    "proxy-authenticate",
    "te",
    "trailer",
    "upgrade",
];

/// Why a URL breaks the rules (the text of `OutboundError::Invalid` or, on a redirect,
/// `OutboundError::Refused`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlRuleError {
    #[error("not an absolute URL: {0}")]
    Unparsable(String),
    #[error("scheme {0:?} is not http or https")]
    Scheme(String),
    #[error("user names and passwords in URLs are not allowed (use a header)")]
    Userinfo,
    #[error("the URL has no host")]
    NoHost,
}

/// Parses an absolute URL and applies the URL rules. The url crate normalises host spellings
/// the WHATWG way (`http://0x7f.1/`, `http://2130706433/`, `http://0177.0.0.1./` all become
/// `127.0.0.1`), which is what the guard then judges.
pub fn parse_url(raw: &str) -> Result<Url, UrlRuleError> {
    let url = Url::parse(raw.trim()).map_err(|e| UrlRuleError::Unparsable(e.to_string()))?;
    check_url(url)
}

/// Applies the URL rules to an already parsed URL (a redirect's `Location` joined to the
/// current URL). The fragment is dropped: it is never sent.
pub fn check_url(mut url: Url) -> Result<Url, UrlRuleError> {
    if !matches!(url.scheme(), "http" | "https") {
        return Err(UrlRuleError::Scheme(url.scheme().to_string()));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(UrlRuleError::Userinfo);
    }
    match url.host_str() {
        None | Some("") => return Err(UrlRuleError::NoHost),
        Some(_) => {}
    }
    url.set_fragment(None);
    Ok(url)
}

/// The method, upper-cased (templates may say `post`), if it is allowed.
pub fn parse_method(raw: &str) -> Result<Method, String> {
    let upper = raw.trim().to_ascii_uppercase();
    METHODS
        .into_iter()
        .find(|m| m.as_str() == upper)
        .ok_or_else(|| format!("method {raw:?} is not one of GET, POST, PUT, PATCH, DELETE, HEAD"))
}

/// The user's headers as a header map, refusing malformed names and values (a CR or LF in a
/// value would split the request) and the forbidden ones.
pub fn parse_headers(raw: &[(String, String)]) -> Result<HeaderMap, String> {
    let mut headers = HeaderMap::with_capacity(raw.len());
    for (name, value) in raw {
        let header = HeaderName::from_bytes(name.trim().as_bytes())
            .map_err(|_| format!("header name {name:?} is not valid"))?;
        if FORBIDDEN_HEADERS.contains(&header.as_str()) {
            return Err(format!("header {:?} may not be set", header.as_str()));
        }
        let value = HeaderValue::from_str(value)
            .map_err(|_| format!("the value of header {:?} is not valid", header.as_str()))?;
        headers.append(header, value);
    }
    Ok(headers)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_absolute_http_and_https_urls_with_a_host_and_no_userinfo_pass() {
        assert!(parse_url("https://example.com/a?b=c").is_ok());
        assert!(parse_url("http://example.com:8080").is_ok());
        assert!(matches!(
            parse_url("/relative"),
            Err(UrlRuleError::Unparsable(_))
        ));
        assert!(matches!(
            parse_url("example.com"),
            Err(UrlRuleError::Unparsable(_))
        ));
        for raw in [
            "ftp://example.com/",
            "file:///etc/passwd",
            "gopher://example.com/",
            "data:text/plain,hi",
            "javascript:alert(1)",
            "ws://example.com/",
        ] {
            assert!(
                matches!(parse_url(raw), Err(UrlRuleError::Scheme(_))),
                "{raw}"
            );
        }
        assert_eq!(
            parse_url("https://user:pw@example.com/"),
            Err(UrlRuleError::Userinfo)
        );
        assert_eq!(
            parse_url("https://user@example.com/"),
            Err(UrlRuleError::Userinfo)
        );
        assert_eq!(
            parse_url("https://:pw@example.com/"),
            Err(UrlRuleError::Userinfo)
        );
    }

    #[test]
    fn the_fragment_is_dropped() {
        let url = parse_url("https://example.com/a#secret").expect("valid");
        assert_eq!(url.as_str(), "https://example.com/a");
    }

    #[test]
    fn tricky_ipv4_spellings_are_normalised_to_the_address_the_guard_judges() {
        for raw in [
            "http://127.0.0.1/",
            "http://2130706433/",
            "http://0x7f000001/",
            "http://0x7f.1/",
            "http://0177.0.0.1/",
            "http://0177.1/",
            "http://127.1/",
            "http://127.0.0.1./",
            "http://0x7F.0.0.0x1/",
            "HTTP://127.0.0.1/",
        ] {
            let url = parse_url(raw).expect(raw);
            assert_eq!(url.host_str(), Some("127.0.0.1"), "{raw}");
        }
        let url = parse_url("http://[::ffff:127.0.0.1]/").expect("valid");
        assert_eq!(url.host_str(), Some("[::ffff:7f00:1]"));
        let url = parse_url("http://[0:0:0:0:0:ffff:a9fe:a9fe]/").expect("valid");
        assert_eq!(url.host_str(), Some("[::ffff:a9fe:a9fe]"));
    }

    #[test]
    fn methods_are_a_closed_list() {
        assert_eq!(parse_method("post"), Ok(Method::POST));
        assert_eq!(parse_method("HEAD"), Ok(Method::HEAD));
        for bad in ["CONNECT", "TRACE", "OPTIONS", "GET /x", ""] {
            assert!(parse_method(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn hop_by_hop_host_and_framing_headers_are_refused() {
        for name in [
            "Host",
            "host",
            "Content-Length",
            "Transfer-Encoding",
            "Connection",
            "Keep-Alive",
            "Proxy-Connection",
            "Proxy-Authorization",
            "TE",
            "Trailer",
            "Upgrade",
        ] {
            let headers = [(name.to_string(), "x".to_string())];
            assert!(parse_headers(&headers).is_err(), "{name}");
        }
        let ok = [
            ("Authorization".to_string(), "Bearer t".to_string()),
            ("X-Api-Key".to_string(), "k".to_string()),
            ("X-Api-Key".to_string(), "k2".to_string()),
        ];
        let headers = parse_headers(&ok).expect("valid");
        assert_eq!(headers.get_all("x-api-key").iter().count(), 2);
    }

    #[test]
    fn header_injection_is_refused() {
        let split = [("X-A".to_string(), "a\r\nHost: evil".to_string())];
        assert!(parse_headers(&split).is_err());
        let bad_name = [("X A".to_string(), "a".to_string())];
        assert!(parse_headers(&bad_name).is_err());
    }
}
