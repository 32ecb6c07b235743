//! The one registry of Airtable tools. Chat (function declarations for Gemini and OpenAI) and
//! MCP (tools/list, tools/call) both offer exactly these: each tool is defined once, with a
//! description written for a model, JSON Schemas for its input and output, read-only or
//! destructive annotations, and the scope a caller needs.
//!
//! Every call's arguments are checked against the tool's input schema, and every id in them is
//! parsed with the client's own types ([`airtable::BaseId`], [`airtable::TableRef`]…), before
//! the tool runs: a call the schema refuses never reaches Airtable.
//!
//! Tools talk to Airtable through the shared client, so they are rate-limited and retried like
//! every other call, and their answers are bounded in size ([`output`]): a cut answer says so and
//! how to narrow the request.

pub mod output;
pub mod registry;
pub mod spec;
mod tools;
mod validation;

pub use output::ToolOutput;
pub use registry::{Offer, Registry, Tool, ToolContext, ToolError};
pub use spec::{Annotations, ToolSpec};
