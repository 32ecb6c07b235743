//! The one Airtable client. Every part of the platform that talks to Airtable does so through
//! [`Airtable`], so that the platform-wide promises hold in one place:
//!
//! * every request takes a slot from the shared [`RateLimiter`] (5/s per base, 50/s per token,
//!   a pause of 1 s after an upstream 429, doubling for repeated 429s up to Airtable's 30 s
//!   lockout), across all concurrent function instances;
//! * a call waits for its slot within a latency budget and otherwise fails fast with
//!   [`AirtableError::RateLimited`] rather than hammering Airtable;
//! * reads and other idempotent calls are retried on 429/502/503 with full-jitter back-off
//!   honouring `Retry-After`; creates are never retried blindly (see [`retry`]);
//! * writes are chunked by 10; upsert merge fields are checked before the first chunk goes out;
//! * filter formulas are built with escaping ([`formula`]);
//! * every URL path is built from parsed ids ([`ids`], [`ApiPath`]), never from raw text, so no
//!   caller's input can turn into a different endpoint (`..`, `meta`, a `/` in a name).
//!
//! ```no_run
//! # async fn demo(limiter: airtable::RateLimiter) -> Result<(), airtable::AirtableError> {
//! use airtable::{Airtable, BaseId, ClientConfig, ListParams, TableRef, formula};
//! use futures::TryStreamExt;
//!
//! let client = Airtable::new(ClientConfig::new("pat…".into()), limiter)?;
//! // Ids are parsed before anything can be sent: `..` or `meta` never reach a URL.
//! let base = BaseId::parse("appXXXXXXXXXXXXXX")?;
//! let people = client.table(base, TableRef::parse("People")?);
//! let filter = formula::search("o'brien", ["Name", "Email"]);
//! let mut pages = people.pages(ListParams::new().filter(filter));
//! while let Some(page) = pages.try_next().await? {
//!     println!("{} records", page.len());
//! }
//! # Ok(()) }
//! ```

pub mod config;
pub mod error;
pub mod formula;
pub mod forward;
mod http;
pub mod ids;
pub mod meta;
pub mod models;
pub mod path;
pub mod rate_limit;
pub mod records;
pub mod retry;
pub mod webhooks;

use std::sync::Arc;

use basics::{Clock, SystemClock};

pub use config::{ClientConfig, DEFAULT_BASE_URL};
pub use error::AirtableError;
pub use formula::Formula;
pub use forward::{Forward, RawAnswer};
pub use http::{CallObserver, StatsSnapshot};
pub use ids::{BaseId, FieldId, InvalidPath, RecordId, TableId, TableRef, WebhookId};
pub use models::records::{
    CellFormat, DeletedRecord, Fields, GetParams, ListParams, MAX_PAGE_SIZE, MAX_RECORDS_PER_WRITE,
    Record, RecordPage, RecordUpdate, Sort, SortDirection, UpsertRecord, UpsertResult,
    WriteOptions,
};
pub use models::schema::{
    BaseInfo, BaseSchema, BasesPage, FieldSchema, NewField, NewTable, SchemaChange, TableSchema,
    ViewSchema, WhoAmI,
};
pub use models::webhooks::{
    CreatedWebhook, NewWebhook, RefreshedWebhook, Webhook, WebhookList, WebhookPayload,
    WebhookPayloads,
};
pub use path::{ApiPath, Change, WebhookAction};
pub use rate_limit::{RateLimiter, RateLimits, Reservation};
pub use records::TableClient;
pub use retry::{Idempotency, RetryPolicy};

/// A client for one token. Cheap to clone (clones share the connection pool and counters);
/// build it once per function instance.
#[derive(Debug, Clone)]
pub struct Airtable {
    transport: Arc<http::Transport>,
}

impl Airtable {
    /// A client on the system clock. Fails only on an unusable configuration.
    pub fn new(config: ClientConfig, limiter: RateLimiter) -> Result<Self, AirtableError> {
        Self::with_clock(config, limiter, Arc::new(SystemClock))
    }

    /// A client whose notion of "now" (for `Retry-After` dates) comes from `clock`.
    pub fn with_clock(
        config: ClientConfig,
        limiter: RateLimiter,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, AirtableError> {
        Ok(Self {
            transport: Arc::new(http::Transport::new(config, limiter, clock)?),
        })
    }

    /// Record operations on one table (by ID or name) of one base.
    pub fn table(&self, base_id: BaseId, table: TableRef) -> TableClient {
        TableClient::new(self.clone(), base_id, table)
    }

    /// A client sharing this one's connections and limits that reports every call it sends to
    /// `observer` (for per-request usage counting, or invalidating cached reads after writes),
    /// as well as to the observers this one already has.
    pub fn observed(&self, observer: Arc<dyn CallObserver>) -> Self {
        Self {
            transport: Arc::new(self.transport.observed(observer)),
        }
    }

    /// What this client has sent and received so far.
    pub fn stats(&self) -> StatsSnapshot {
        self.transport.stats.snapshot()
    }

    pub(crate) fn transport(&self) -> &http::Transport {
        &self.transport
    }
}
