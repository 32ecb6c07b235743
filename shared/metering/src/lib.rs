//! Usage metering and per-tenant rate limits, on the table store.
//!
//! - [`UsageCounters`]: atomic counters per tenant per day and per month (one item each in the
//!   usage table), named like `requests` and `requests.records`. Later meters (Airtable calls per
//!   base, LLM tokens and cost) add their own counter names to the same items.
//! - [`RequestRateLimit`]: requests per tenant (or per client address) per minute, a fixed
//!   one-minute window counted in the ephemeral table.

mod rate_limit;
mod tally;
mod usage;

pub use rate_limit::{LimitSubject, RateLimited, RequestRateLimit};
pub use tally::UsageTally;
pub use usage::{DayUsage, MonthUsage, UsageCounters, month_of, route_group_counter};
