//! The protocol revisions this server speaks, and what differs between them.

/// A protocol revision this server supports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ProtocolVersion {
    /// Initialize-based; the first Streamable HTTP revision (JSON-RPC batches allowed).
    V2025_03_26,
    /// Initialize-based; adds `MCP-Protocol-Version`, titles, `structuredContent`, `outputSchema`.
    V2025_06_18,
    /// Initialize-based; tool input validation errors become tool results (`isError`).
    V2025_11_25,
    /// Stateless ("modern"): `_meta` on every request, `server/discover`, routing headers.
    V2026_07_28,
}

/// Every supported revision, newest first (the order `supportedVersions` lists them in).
pub const SUPPORTED_VERSIONS: [ProtocolVersion; 4] = [
    ProtocolVersion::V2026_07_28,
    ProtocolVersion::V2025_11_25,
    ProtocolVersion::V2025_06_18,
    ProtocolVersion::V2025_03_26,
];

/// The newest initialize-based revision: what `initialize` answers when the client asks for a
/// revision this server does not speak.
pub const LATEST_INITIALIZE_VERSION: ProtocolVersion = ProtocolVersion::V2025_11_25;

/// What a 2025-era request without `MCP-Protocol-Version` is taken to speak (2025-06-18 and
/// 2025-11-25 transports: "the server SHOULD assume protocol version 2025-03-26").
pub const DEFAULT_HEADERLESS_VERSION: ProtocolVersion = ProtocolVersion::V2025_03_26;

impl ProtocolVersion {
    /// The revision's identifier on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            ProtocolVersion::V2025_03_26 => "2025-03-26",
            ProtocolVersion::V2025_06_18 => "2025-06-18",
            ProtocolVersion::V2025_11_25 => "2025-11-25",
            ProtocolVersion::V2026_07_28 => "2026-07-28",
        }
    }

    /// The supported revision with this identifier (exact, case-sensitive match).
    pub fn parse(value: &str) -> Option<ProtocolVersion> {
        SUPPORTED_VERSIONS
            .into_iter()
            .find(|version| version.as_str() == value)
    }

    /// True for the stateless per-request-metadata revisions (2026-07-28 and later).
    pub fn is_modern(self) -> bool {
        self >= ProtocolVersion::V2026_07_28
    }

    /// Only 2025-03-26 allowed JSON-RPC batches; 2025-06-18 removed them.
    pub fn allows_batches(self) -> bool {
        self == ProtocolVersion::V2025_03_26
    }

    /// `title`, `outputSchema` and `structuredContent` exist from 2025-06-18 on.
    pub fn has_titles_and_structured_content(self) -> bool {
        self >= ProtocolVersion::V2025_06_18
    }

    /// From 2025-11-25 on, tool input validation errors are reported as tool results with
    /// `isError: true`; before, "invalid arguments" was a protocol error (-32602).
    pub fn argument_errors_are_tool_results(self) -> bool {
        self >= ProtocolVersion::V2025_11_25
    }
}

/// The identifiers of [`SUPPORTED_VERSIONS`], newest first.
pub fn supported_version_strings() -> Vec<&'static str> {
    SUPPORTED_VERSIONS
        .iter()
        .map(|version| version.as_str())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_exactly_the_supported_identifiers() {
        for version in SUPPORTED_VERSIONS {
            assert_eq!(ProtocolVersion::parse(version.as_str()), Some(version));
        }
        assert_eq!(ProtocolVersion::parse("2024-11-05"), None);
        assert_eq!(ProtocolVersion::parse("2026-07-28 "), None);
        assert_eq!(ProtocolVersion::parse(""), None);
    }

    #[test]
    fn revision_features() {
        assert!(ProtocolVersion::V2026_07_28.is_modern());
        assert!(!ProtocolVersion::V2025_11_25.is_modern());
        assert!(ProtocolVersion::V2025_03_26.allows_batches());
        assert!(!ProtocolVersion::V2025_06_18.allows_batches());
        assert!(!ProtocolVersion::V2025_03_26.has_titles_and_structured_content());
        assert!(ProtocolVersion::V2025_06_18.has_titles_and_structured_content());
        assert!(!ProtocolVersion::V2025_06_18.argument_errors_are_tool_results());
        assert!(ProtocolVersion::V2025_11_25.argument_errors_are_tool_results());
        assert_eq!(
            supported_version_strings(),
            ["2026-07-28", "2025-11-25", "2025-06-18", "2025-03-26"]
        );
    }
}
