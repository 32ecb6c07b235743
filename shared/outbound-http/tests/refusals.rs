//! Requests aimed at loopback, private, link-local and cloud-metadata addresses, directly or
//! through a name, are refused before any connection is attempted. The tripwire dialer proves
//! it: it records every dial and never dials outside loopback.

mod support;

use std::sync::Arc;

use outbound_http::{OutboundError, OutboundHttp, OutboundRequest};
use support::{TripwireDialer, client_with, get};

/// Sends `request` and returns its refusal message, checking nothing was dialled.
async fn refused(request: OutboundRequest) -> String {
    let dialer = Arc::new(TripwireDialer::default());
    let client = client_with(&dialer, &[], |b| b);
    let url = request.url.clone();
    let outcome = client.send(request).await;
    dialer.assert_clean();
    assert_eq!(dialer.dialled(), [], "{url}: something was dialled");
    match outcome {
        Err(OutboundError::Refused(message)) => message,
        other => panic!("{url}: expected a refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn ip_literals_of_every_refused_class_are_refused_naming_the_class() {
    for (url, class) in [
        ("http://127.0.0.1/", "loopback"),
        ("http://127.0.0.1:8080/admin", "loopback"),
        ("https://127.10.20.30/", "loopback"),
        ("http://[::1]/", "loopback"),
        (
            "http://[::1]:9001/2018-06-01/runtime/invocation/next",
            "loopback",
        ),
        ("http://0.0.0.0/", "unspecified"),
        ("http://[::]/", "unspecified"),
        ("http://10.0.0.1/", "private"),
        ("http://172.16.0.1/", "private"),
        ("http://172.31.255.254/", "private"),
        ("http://192.168.1.1/", "private"),
        ("http://100.64.0.1/", "carrier-grade NAT"),
        ("http://169.254.1.1/", "link-local"),
        ("http://[fe80::1]/", "link-local"),
        (
            "http://169.254.169.254/latest/meta-data/iam/",
            "cloud metadata",
        ),
        ("http://169.254.170.2/v2/credentials", "cloud metadata"),
        ("http://[fd00:ec2::254]/latest/meta-data/", "cloud metadata"),
        ("http://[fd12::1]/", "unique-local"),
        ("http://224.0.0.1/", "multicast"),
        ("http://[ff02::1]/", "multicast"),
        ("http://255.255.255.255/", "broadcast"),
        ("http://192.0.2.1/", "documentation"),
        ("http://240.0.0.1/", "reserved"),
    ] {
        let message = refused(get(url)).await;
        assert!(message.contains(class), "{url}: {message}");
    }
}

#[tokio::test]
async fn tricky_spellings_of_loopback_and_metadata_are_refused() {
    for (url, class) in [
        ("http://2130706433/", "loopback"),
        ("http://0x7f000001/", "loopback"),
        ("http://0x7f.1/", "loopback"),
        ("http://0177.0.0.1/", "loopback"),
        ("http://127.1/", "loopback"),
        ("http://127.0.0.1./", "loopback"),
        ("http://0/", "unspecified"),
        ("http://[::ffff:127.0.0.1]/", "loopback"),
        ("http://[::ffff:7f00:1]/", "loopback"),
        ("http://[0:0:0:0:0:ffff:169.254.169.254]/", "cloud metadata"),
        ("http://[::169.254.169.254]/", "cloud metadata"),
        ("http://[64:ff9b::169.254.169.254]/", "cloud metadata"),
        ("http://[2002:a9fe:a9fe::]/", "cloud metadata"),
        ("http://2852039166/", "cloud metadata"),
        ("http://0xa9.0xfe.0xa9.0xfe/", "cloud metadata"),
        ("http://0251.0376.0251.0376/", "cloud metadata"),
        ("http://[::ffff:10.0.0.1]/", "private"),
    ] {
        let message = refused(get(url)).await;
        assert!(message.contains(class), "{url}: {message}");
    }
}

#[tokio::test]
async fn names_resolving_to_any_refused_address_are_refused() {
    for (url, class) in [
        ("http://localhost/", "loopback"),
        ("http://localhost./", "loopback"),
        ("http://LOCALHOST:8080/", "loopback"),
        ("http://ten.test/", "private"),
        ("https://private172.test/", "private"),
        ("https://private192.test/", "private"),
        ("http://metadata.test/latest/meta-data/", "cloud metadata"),
        ("http://metadata6.test/", "cloud metadata"),
        ("http://linklocal.test/", "link-local"),
        ("http://loop6.test/", "loopback"),
        ("http://mapped.test/", "loopback"),
        ("http://nat64.test/", "cloud metadata"),
        ("http://cgnat.test/", "carrier-grade NAT"),
        // One public and one private address: refused, and the public one is not dialled.
        ("https://mixed.test/", "private"),
        ("https://mixed6.test/", "link-local"),
    ] {
        let message = refused(get(url)).await;
        assert!(message.contains(class), "{url}: {message}");
    }
}

#[tokio::test]
async fn every_method_is_guarded() {
    for method in ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"] {
        let mut request = get("http://169.254.169.254/");
        request.method = method.to_string();
        request.body = Some(b"{}".to_vec());
        let message = refused(request).await;
        assert!(message.contains("cloud metadata"), "{method}: {message}");
    }
}

#[tokio::test]
async fn invalid_requests_are_refused_before_anything_is_resolved_or_dialled() {
    let dialer = Arc::new(TripwireDialer::default());
    let client = client_with(&dialer, &[], |b| b);
    let with_header = |name: &str| OutboundRequest {
        headers: vec![(name.to_string(), "x".to_string())],
        ..get("https://example.com/")
    };
    let mut bad = vec![
        get("ftp://example.com/"),
        get("file:///etc/passwd"),
        get("https://user:pw@example.com/"),
        get("/relative"),
        OutboundRequest {
            method: "CONNECT".to_string(),
            ..get("https://example.com/")
        },
    ];
    for name in [
        "Host",
        "Connection",
        "Transfer-Encoding",
        "Content-Length",
        "Upgrade",
    ] {
        bad.push(with_header(name));
    }
    for request in bad {
        let outcome = client.send(request.clone()).await;
        assert!(
            matches!(outcome, Err(OutboundError::Invalid(_))),
            "{request:?}: {outcome:?}"
        );
    }
    assert_eq!(dialer.dialled(), []);
}
