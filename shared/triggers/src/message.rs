//! One queue message as a consumer sees it, whether it arrived in an SQS Lambda batch or was
//! received by the dev server's in-process worker from the queue port, and the failure a
//! consumer reports for it.

#[cfg(feature = "lambda")]
use aws_lambda_events::event::sqs::SqsMessage;
use serde::de::DeserializeOwned;

/// A message handed to a [`crate::QueueConsumer`]. Built from an SQS Lambda record
/// ([`InboundMessage::from_sqs`]) or from a [`ports::Message`] (`From`), so one consumer serves
/// both the deployed function and the dev server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboundMessage {
    /// The queue's message id: what `batchItemFailures` reports.
    pub id: String,
    /// The receipt handle of this receive; the in-process worker deletes successes with it.
    pub receipt: String,
    pub body: String,
    /// How many times the message has been received, this time included (1 on the first try).
    pub receive_count: u32,
    /// FIFO queues: the message group, within which order holds.
    pub group_id: Option<String>,
}

/// An SQS record that cannot become an [`InboundMessage`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed SQS record {id:?}: {reason}")]
pub struct MalformedRecord {
    /// The record's message id, when it has one (then only that message fails).
    pub id: Option<String>,
    /// Its message group, so that a FIFO group still stops at it.
    pub group_id: Option<String>,
    pub reason: String,
}

impl InboundMessage {
    /// Reads a record of an SQS Lambda event. A record without a body is malformed; a missing or
    /// unreadable `ApproximateReceiveCount` counts as a first receive (it only informs logs and
    /// consumers, never redrive, which SQS does itself).
    #[cfg(feature = "lambda")]
    pub fn from_sqs(record: &SqsMessage) -> Result<Self, MalformedRecord> {
        let group_id = record.attributes.get("MessageGroupId").cloned();
        let malformed = |reason: &str| MalformedRecord {
            id: record.message_id.clone().filter(|id| !id.is_empty()),
            group_id: group_id.clone(),
            reason: reason.to_string(),
        };
        let id = record
            .message_id
            .clone()
            .filter(|id| !id.is_empty())
            .ok_or_else(|| malformed("no messageId"))?;
        let body = record.body.clone().ok_or_else(|| malformed("no body"))?;
        let receive_count = record
            .attributes
            .get("ApproximateReceiveCount")
            .and_then(|count| count.parse().ok())
            .unwrap_or(1);
        Ok(Self {
            id,
            receipt: record.receipt_handle.clone().unwrap_or_default(),
            body,
            receive_count,
            group_id,
        })
    }

    /// The body as JSON of type `T`. A body that does not parse is a failure of this message
    /// alone: retrying cannot fix it, but SQS redrive carries it to the dead-letter queue where
    /// it can be looked at, which is better than deleting it.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, JobFailure> {
        serde_json::from_str(&self.body).map_err(|err| {
            JobFailure::new(format!("message {} has a malformed body: {err}", self.id))
        })
    }
}

impl From<ports::Message> for InboundMessage {
    fn from(message: ports::Message) -> Self {
        Self {
            id: message.id,
            receipt: message.receipt,
            body: message.body,
            receive_count: message.receive_count,
            group_id: message.group_id,
        }
    }
}

/// Why a queue message or a scheduled tick was not handled. The message comes back after its
/// visibility timeout (and reaches the dead-letter queue after `ports::queue::MAX_RECEIVES`
/// receives); a failed tick is retried by Lambda's asynchronous invocation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct JobFailure {
    message: String,
}

impl JobFailure {
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }

    pub fn message(&self) -> &str {
        &self.message
    }
}

#[cfg(all(test, feature = "lambda"))]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn record(id: Option<&str>, body: Option<&str>, attributes: &[(&str, &str)]) -> SqsMessage {
        let mut record = SqsMessage::default();
        record.message_id = id.map(str::to_string);
        record.receipt_handle = Some("receipt-1".into());
        record.body = body.map(str::to_string);
        record.attributes = attributes
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<HashMap<_, _>>();
        record
    }

    #[test]
    fn an_sqs_record_carries_id_receipt_count_and_group() {
        let message = InboundMessage::from_sqs(&record(
            Some("m-1"),
            Some("{}"),
            &[("ApproximateReceiveCount", "3"), ("MessageGroupId", "app1")],
        ))
        .expect("well-formed");
        assert_eq!(
            message,
            InboundMessage {
                id: "m-1".into(),
                receipt: "receipt-1".into(),
                body: "{}".into(),
                receive_count: 3,
                group_id: Some("app1".into()),
            }
        );
    }

    #[test]
    fn a_record_without_body_is_malformed_but_keeps_its_id_and_group() {
        let err =
            InboundMessage::from_sqs(&record(Some("m-2"), None, &[("MessageGroupId", "app1")]))
                .expect_err("no body");
        assert_eq!(err.id.as_deref(), Some("m-2"));
        assert_eq!(err.group_id.as_deref(), Some("app1"));
        let err = InboundMessage::from_sqs(&record(Some(""), Some("x"), &[])).expect_err("no id");
        assert_eq!(err.id, None);
    }

    #[test]
    fn an_unreadable_receive_count_counts_as_the_first() {
        let message = InboundMessage::from_sqs(&record(
            Some("m-3"),
            Some("x"),
            &[("ApproximateReceiveCount", "many")],
        ))
        .expect("well-formed");
        assert_eq!(message.receive_count, 1);
    }

    #[test]
    fn a_port_message_converts_field_for_field() {
        let message = InboundMessage::from(ports::Message {
            id: "m-4".into(),
            receipt: "r-4".into(),
            body: "b".into(),
            receive_count: 2,
            group_id: None,
        });
        assert_eq!(
            (
                message.id.as_str(),
                message.receipt.as_str(),
                message.receive_count
            ),
            ("m-4", "r-4", 2)
        );
    }

    #[test]
    fn a_body_that_is_not_the_expected_json_is_a_job_failure() {
        let message = InboundMessage::from_sqs(&record(Some("m-5"), Some("not json"), &[]))
            .expect("well-formed");
        let err = message.json::<serde_json::Value>().expect_err("not JSON");
        assert!(err.message().contains("m-5"), "{err}");
    }
}
