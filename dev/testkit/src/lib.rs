//! One test kit for the platform's black-box tests (the "spawn_app" pattern): [`TestApp::spawn`]
//! starts the whole platform in this process on a free port, on a temporary `DATA_DIR` it owns,
//! with an in-process Airtable sandbox and (when asked) a scripted fake LLM as fixtures. Options
//! are typed ([`TestAppBuilder`]) and go straight into `devserver::DevServerConfig`: no
//! environment variables, no binary to build or spawn, no ports to race for.
//!
//! The calls nearly every test makes live here once: register an owner, connect the sandbox,
//! mint an API key, count the calls that reached "Airtable", send a request and read its
//! [`Reply`]. Tests that must see what the real binary does (its banner, signals, environment
//! parsing) start it through [`process`].
//!
//! ```no_run
//! # async fn demo() {
//! let app = testkit::TestApp::spawn().await;
//! let (_access, key) = app.connected_key("ada@example.com", &["records:read"]).await;
//! let before = app.upstream_requests();
//! app.get("/v0/appSandboxDemoCRM/Contacts", &key).await.expect(reqwest::StatusCode::OK);
//! assert_eq!(app.upstream_requests(), before + 1);
//! # }
//! ```

mod app;
mod base_contents;
mod builder;
mod fixtures;
mod logs;
mod moto;
pub mod process;
mod reply;

pub use airtable_sandbox::{DEMO_BASE_ID, DEMO_TOKEN};
pub use app::TestApp;
pub use base_contents::{BaseContents, base_contents};
pub use builder::TestAppBuilder;
pub use fixtures::{GATEWAY_SCOPES, OWNER_NAME, Owner, PASSWORD};
pub use moto::moto_endpoint;
pub use reply::{Bearer, Reply};
