//! The per-client limit on public routes that cost real work before anyone is authenticated
//! (register, login and refresh each hash or sign): counted per client address.
//!
//! The address comes from API Gateway's request context in Lambda (`requestContext.http.sourceIp`,
//! which a client cannot forge, unlike `X-Forwarded-For`), or from the TCP peer in the dev server.
//! A request with neither (a test driving the router directly) is not limited.

use std::net::{IpAddr, SocketAddr};

use crate::ApiError;
use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use lambda_http::request::RequestContext;

use crate::AppState;

/// The unit a client is counted by: the IPv4 address, or the IPv6 /64 (one subscriber's
/// prefix; counting single IPv6 addresses would give everyone 2^64 budgets).
fn counting_unit(address: &str) -> String {
    match address.parse::<IpAddr>() {
        Ok(IpAddr::V6(v6)) if v6.to_ipv4_mapped().is_none() => {
            let segments = v6.segments();
            format!(
                "{:x}:{:x}:{:x}:{:x}::/64",
                segments[0], segments[1], segments[2], segments[3]
            )
        }
        Ok(IpAddr::V6(v6)) => v6
            .to_ipv4_mapped()
            .map_or_else(|| address.to_string(), |v4| v4.to_string()),
        _ => address.to_string(),
    }
}

/// The caller's address, as far as this process can know it, as the unit it is counted by.
pub fn client_address(request: &Request) -> Option<String> {
    raw_client_address(request).map(|address| counting_unit(&address))
}

fn raw_client_address(request: &Request) -> Option<String> {
    if let Some(context) = request.extensions().get::<RequestContext>() {
        #[allow(unreachable_patterns)]
        let source = match context {
            RequestContext::ApiGatewayV2(context) => context.http.source_ip.clone(),
            _ => None,
        };
        if source.is_some() {
            return source;
        }
    }
    request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(peer)| peer.ip().to_string())
}

pub async fn limit_per_client(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    if let Some(address) = client_address(&request) {
        match state.client_auth_rate_limit().admit(&address).await {
            Ok(Ok(())) => {}
            Ok(Err(limited)) => {
                return ApiError::rate_limited(
                    format!(
                        "Too many sign-in requests from this address (limit {} per minute); \
                         retry in {} s",
                        limited.limit, limited.retry_after
                    ),
                    limited.retry_after,
                )
                .with_type("CLIENT_RATE_LIMITED")
                .into_response();
            }
            Err(err) => return ApiError::from(err).into_response(),
        }
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use axum::body::Body;

    use super::*;

    /// The address comes from API Gateway's request context, as `lambda_http` delivers it, and
    /// never from a header the client controls.
    #[test]
    fn the_lambda_source_ip_is_the_client_address() {
        let event = include_str!("../../../../events/api-auth-login.json");
        let request = lambda_http::request::from_str(event)
            .expect("the sample event parses")
            .map(|body| Body::from(body.to_vec()));
        assert_eq!(client_address(&request).as_deref(), Some("1.2.3.4"));

        let mut spoofed = Request::new(Body::empty());
        spoofed.headers_mut().insert(
            "x-forwarded-for",
            axum::http::HeaderValue::from_static("9.9.9.9"),
        );
        assert_eq!(client_address(&spoofed), None);
    }

    #[test]
    fn ipv6_clients_count_per_64_prefix() {
        assert_eq!(counting_unit("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::/64");
        assert_eq!(counting_unit("2001:db8:1:2:bbbb::9"), "2001:db8:1:2::/64");
        assert_eq!(counting_unit("::ffff:192.0.2.7"), "192.0.2.7");
        assert_eq!(counting_unit("192.0.2.7"), "192.0.2.7");
    }
}
