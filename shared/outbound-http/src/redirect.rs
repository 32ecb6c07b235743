//! Following redirects ourselves, so that every hop goes through the URL rules and the
//! connector's guard again, and so that secrets in headers stay with the origin they were
//! written for.

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Method, StatusCode};
use url::Url;

use crate::OutboundError;
use crate::rules::check_url;

/// At most this many redirects are followed; one more is `TooManyRedirects`.
pub const MAX_REDIRECTS: usize = 5;

/// The headers forwarded when a redirect leaves the origin. Users put secrets in any header
/// they like (`Authorization`, `X-Api-Key`, our own signature), and we cannot tell which, so
/// across origins only these, which say nothing secret, go on.
const CROSS_ORIGIN_HEADERS: [HeaderName; 6] = [
    header::ACCEPT,
    header::ACCEPT_LANGUAGE,
    header::CACHE_CONTROL,
    header::CONTENT_LANGUAGE,
    header::CONTENT_TYPE,
    header::USER_AGENT,
];

/// The headers that describe a body; dropped with it when a redirect turns the request into a
/// GET.
const BODY_HEADERS: [HeaderName; 4] = [
    header::CONTENT_TYPE,
    header::CONTENT_ENCODING,
    header::CONTENT_LANGUAGE,
    header::CONTENT_LOCATION,
];

/// One request of the chain.
#[derive(Debug, Clone)]
pub(crate) struct Hop {
    pub method: Method,
    pub url: Url,
    pub headers: HeaderMap,
    pub body: Option<Bytes>,
}

/// The request to send next if `status` and `location` ask for a redirect, `None` if the
/// response is the answer.
pub(crate) fn next_hop(
    hop: &Hop,
    status: StatusCode,
    location: Option<&HeaderValue>,
) -> Result<Option<Hop>, OutboundError> {
    let keeps_method = match status {
        StatusCode::TEMPORARY_REDIRECT | StatusCode::PERMANENT_REDIRECT => true,
        StatusCode::MOVED_PERMANENTLY | StatusCode::FOUND | StatusCode::SEE_OTHER => false,
        _ => return Ok(None),
    };
    // A 3xx without a Location is an answer, like browsers treat it.
    let Some(location) = location else {
        return Ok(None);
    };
    let location = location
        .to_str()
        .map_err(|_| OutboundError::Network("a redirect's Location is not valid text".into()))?;
    let url = hop
        .url
        .join(location)
        .map_err(|e| OutboundError::Network(format!("a redirect's Location is not a URL: {e}")))?;
    let url = check_url(url)
        .map_err(|e| OutboundError::Refused(format!("redirect to {location}: {e}")))?;

    let mut next = Hop {
        method: hop.method.clone(),
        url,
        headers: hop.headers.clone(),
        body: hop.body.clone(),
    };
    // What browsers do: 303 always becomes a GET (a HEAD stays a HEAD), 301 and 302 turn a
    // POST into a GET; 307 and 308 repeat the request as it was.
    let becomes_get = !keeps_method
        && ((status == StatusCode::SEE_OTHER && hop.method != Method::HEAD)
            || hop.method == Method::POST);
    if becomes_get {
        next.method = Method::GET;
        next.body = None;
        for name in &BODY_HEADERS {
            next.headers.remove(name);
        }
    }
    if next.url.origin() != hop.url.origin() {
        let kept: HeaderMap = next
            .headers
            .iter()
            .filter(|(name, _)| CROSS_ORIGIN_HEADERS.contains(name))
            .map(|(name, value)| (name.clone(), value.clone()))
            .collect();
        next.headers = kept;
    }
    Ok(Some(next))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hop(method: Method, url: &str) -> Hop {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer secret"),
        );
        headers.insert("x-api-key", HeaderValue::from_static("k"));
        headers.insert(
            "x-pyairtable-signature",
            HeaderValue::from_static("sha256=ab"),
        );
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        headers.insert(header::ACCEPT, HeaderValue::from_static("application/json"));
        Hop {
            method,
            url: Url::parse(url).expect("url"),
            headers,
            body: Some(Bytes::from_static(b"{}")),
        }
    }

    fn redirect(hop: &Hop, status: u16, location: &str) -> Result<Option<Hop>, OutboundError> {
        let status = StatusCode::from_u16(status).expect("status");
        next_hop(
            hop,
            status,
            Some(&HeaderValue::from_str(location).expect("value")),
        )
    }

    #[test]
    fn non_redirects_and_redirects_without_location_are_answers() {
        let h = hop(Method::GET, "https://a.example/x");
        for status in [200, 204, 304, 400, 500] {
            let status = StatusCode::from_u16(status).expect("status");
            let location = HeaderValue::from_static("https://b.example/");
            assert!(next_hop(&h, status, Some(&location)).expect("ok").is_none());
        }
        assert!(next_hop(&h, StatusCode::FOUND, None).expect("ok").is_none());
    }

    #[test]
    fn relative_locations_resolve_against_the_current_url() {
        let h = hop(Method::GET, "https://a.example/dir/x?q=1");
        let next = redirect(&h, 302, "../y#frag").expect("ok").expect("hop");
        assert_eq!(next.url.as_str(), "https://a.example/y");
    }

    #[test]
    fn see_other_and_post_on_301_302_become_get_without_body() {
        for status in [301, 302, 303] {
            let h = hop(Method::POST, "https://a.example/x");
            let next = redirect(&h, status, "/y").expect("ok").expect("hop");
            assert_eq!(next.method, Method::GET, "{status}");
            assert_eq!(next.body, None, "{status}");
            assert!(next.headers.get(header::CONTENT_TYPE).is_none(), "{status}");
            // Same origin: the credentials stay.
            assert!(
                next.headers.get(header::AUTHORIZATION).is_some(),
                "{status}"
            );
        }
        let put = hop(Method::PUT, "https://a.example/x");
        let next = redirect(&put, 303, "/y").expect("ok").expect("hop");
        assert_eq!(next.method, Method::GET);
        let next = redirect(&put, 302, "/y").expect("ok").expect("hop");
        assert_eq!(next.method, Method::PUT);
        assert!(next.body.is_some());
        let head = hop(Method::HEAD, "https://a.example/x");
        let next = redirect(&head, 303, "/y").expect("ok").expect("hop");
        assert_eq!(next.method, Method::HEAD);
    }

    #[test]
    fn temporary_and_permanent_redirects_repeat_the_request() {
        for status in [307, 308] {
            let h = hop(Method::POST, "https://a.example/x");
            let next = redirect(&h, status, "/y").expect("ok").expect("hop");
            assert_eq!(next.method, Method::POST);
            assert_eq!(next.body, Some(Bytes::from_static(b"{}")));
            assert!(next.headers.get(header::CONTENT_TYPE).is_some());
        }
    }

    #[test]
    fn credentials_never_follow_a_redirect_to_another_origin() {
        for location in [
            "https://b.example/y",
            "http://a.example/y",
            "https://a.example:8443/y",
            "https://sub.a.example/y",
        ] {
            let h = hop(Method::POST, "https://a.example/x");
            let next = redirect(&h, 307, location).expect("ok").expect("hop");
            let mut names: Vec<&str> = next.headers.keys().map(|n| n.as_str()).collect();
            names.sort_unstable();
            assert_eq!(names, ["accept", "content-type"], "{location}");
        }
    }

    #[test]
    fn redirects_to_other_schemes_or_with_userinfo_are_refused() {
        let h = hop(Method::GET, "https://a.example/x");
        for location in [
            "file:///etc/passwd",
            "ftp://a.example/",
            "https://u:p@b.example/",
        ] {
            let error = redirect(&h, 302, location).expect_err(location);
            assert!(
                matches!(error, OutboundError::Refused(_)),
                "{location}: {error:?}"
            );
        }
    }
}
