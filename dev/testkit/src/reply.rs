//! An answer as a test reads it (status, headers, text and the text as JSON), and who a
//! request is sent as.

use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde_json::Value;

/// A whole answer, read once: the text for failure messages, the JSON (`Null` when the body is
/// not JSON) for assertions.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub text: String,
    pub body: Value,
}

impl Reply {
    /// Reads `response` to the end. Panics if the body cannot be read: a test cannot go on.
    pub async fn read(response: reqwest::Response) -> Self {
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.expect("the body can be read");
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Self {
            status,
            headers,
            text,
            body,
        }
    }

    /// A header's value as text, if present and text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The `content-type` header, empty when absent.
    pub fn content_type(&self) -> &str {
        self.header("content-type").unwrap_or_default()
    }

    /// The string at a JSON pointer; panics (showing the body) when it is not there.
    pub fn str(&self, pointer: &str) -> String {
        self.body
            .pointer(pointer)
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("{pointer} missing in {}", self.text))
            .to_string()
    }

    /// The platform's error type (`error.type`), empty when the body is not an error.
    pub fn error_type(&self) -> &str {
        self.body["error"]["type"].as_str().unwrap_or_default()
    }

    /// The platform's error message (`error.message`), empty when the body is not an error.
    pub fn error_message(&self) -> &str {
        self.body["error"]["message"].as_str().unwrap_or_default()
    }

    /// Asserts the status, showing the body when it differs.
    pub fn expect(self, status: StatusCode) -> Self {
        assert_eq!(self.status, status, "{}", self.text);
        self
    }

    /// Asserts the status and the platform's error shape `{"error":{"type","message"}}`.
    pub fn expect_error(self, status: StatusCode) -> Self {
        assert_eq!(self.status, status, "{}", self.text);
        assert!(
            self.body["error"]["type"].is_string() && self.body["error"]["message"].is_string(),
            "errors use the error shape: {}",
            self.text
        );
        self
    }
}

/// Who a request is sent as: a token (`&str`, `&String`), or `None` for no `Authorization`
/// header at all.
pub trait Bearer {
    fn token(&self) -> Option<&str>;
}

impl Bearer for &str {
    fn token(&self) -> Option<&str> {
        Some(self)
    }
}

impl Bearer for &String {
    fn token(&self) -> Option<&str> {
        Some(self.as_str())
    }
}

impl Bearer for Option<&str> {
    fn token(&self) -> Option<&str> {
        *self
    }
}
