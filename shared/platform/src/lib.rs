//! The platform core that knows no trigger. A process builds one [`Platform`] at start (Lambda
//! init, or dev-server start) from its [`Settings`] and its adapters; HTTP handlers, queue
//! consumers, the scheduler and saga steps all stand on it. What is HTTP (the error type, the
//! routers, the extractors) lives in `http-api`, which wraps a `Platform` in its state; what is
//! Lambda lives in `lambda-runners`; which adapters back the ports is chosen by `backend`.
//!
//! Services are built on first use, not at start: a worker that never checks a password or
//! calls a model neither pays for building those services at init nor, in its release binary,
//! links their code (the linker drops what nothing calls).

mod platform;
pub mod settings;

pub use platform::{Platform, Ports, VERSION};
pub use settings::{
    AwsSettings, BackendKind, DEFAULT_CLIENT_AUTH_REQUESTS_PER_MINUTE,
    DEFAULT_TENANT_REQUESTS_PER_MINUTE, PlatformSettings, Settings,
};
