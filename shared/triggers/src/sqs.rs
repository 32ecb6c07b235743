//! SQS batches: partial failures reported per message, FIFO order held per message group.
//!
//! Lambda's SQS event source deletes a batch's messages only when the function succeeds; with
//! `FunctionResponseTypes: [ReportBatchItemFailures]` the function may instead name the messages
//! that failed (`batchItemFailures`), and only those come back after the visibility timeout. So a
//! failure here is never an error of the invocation: it is an entry in the response.
//!
//! On a FIFO queue the messages of one group must be handled in order. If the 2nd of a group's
//! three messages fails and the 3rd were handled anyway, the redelivered 2nd would run after the
//! 3rd. So at a group's first failure the rest of that group is not handled and is reported as
//! failed too (AWS's documented rule for FIFO partial batch responses); other groups go on.
//!
//! [`process_batch`] is that logic, shared by the Lambda runner ([`serve_sqs`]) and the dev
//! server's in-process worker ([`crate::local::QueueWorker`]).

#[cfg(feature = "lambda")]
use std::sync::Arc;

use async_trait::async_trait;
#[cfg(feature = "lambda")]
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use futures::StreamExt;
use futures::stream::FuturesOrdered;
#[cfg(feature = "lambda")]
use lambda_runtime::{Diagnostic, LambdaEvent, service_fn};

use crate::message::{InboundMessage, JobFailure, MalformedRecord};
use crate::stop::Stop;

/// How many messages (standard queues) or message groups (FIFO) are handled at once. A Lambda
/// batch holds at most 10 messages unless a batching window is configured; this bounds the work
/// one invocation starts when it does.
pub const MAX_CONCURRENT: usize = 10;

/// What a queue-triggered function does with one message. It holds what it needs (built from
/// the platform once per process); the same value serves Lambda and the dev server.
#[async_trait]
pub trait QueueConsumer: Send + Sync + 'static {
    /// Handles one message. `Err` leaves it on the queue to be received again; SQS at-least-once
    /// delivery means a consumer must tolerate seeing a message it already handled.
    async fn consume(&self, message: &InboundMessage) -> Result<(), JobFailure>;
}

/// How one message of a batch ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Disposition {
    /// Handled: delete it.
    Handled,
    /// The consumer failed, or the record was malformed.
    Failed(JobFailure),
    /// FIFO: not handled because an earlier message of its group failed in this batch.
    HeldBack,
    /// Not handled because the worker was shutting down.
    NotStarted,
}

impl Disposition {
    pub fn is_handled(&self) -> bool {
        matches!(self, Disposition::Handled)
    }
}

/// The outcome of a batch: one disposition per message, in the batch's order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchOutcome {
    results: Vec<(String, Disposition)>,
}

impl BatchOutcome {
    /// (message id, disposition), one per message of the batch, in the batch's order.
    pub fn results(&self) -> &[(String, Disposition)] {
        &self.results
    }

    /// The ids of every message not handled: what comes back after the visibility timeout.
    pub fn failed_ids(&self) -> Vec<&str> {
        self.results
            .iter()
            .filter(|(_, disposition)| !disposition.is_handled())
            .map(|(id, _)| id.as_str())
            .collect()
    }

    /// The Lambda response: every message not handled, as a `batchItemFailures` entry.
    #[cfg(feature = "lambda")]
    pub fn response(&self) -> SqsBatchResponse {
        let mut response = SqsBatchResponse::default();
        response.set_failures(self.failed_ids());
        response
    }
}

/// Handles a batch: on a standard queue every message (up to [`MAX_CONCURRENT`] at once), on a
/// FIFO queue each message group in order, stopping the group at its first failure.
pub async fn process_batch(
    consumer: &dyn QueueConsumer,
    messages: Vec<InboundMessage>,
    fifo: bool,
) -> BatchOutcome {
    let entries = messages.into_iter().map(Entry::Ready).collect();
    process_entries(consumer, entries, fifo, &Stop::never()).await
}

/// [`process_batch`] that starts no further message once `stop` is set.
pub(crate) async fn process_batch_until(
    consumer: &dyn QueueConsumer,
    messages: Vec<InboundMessage>,
    fifo: bool,
    stop: &Stop,
) -> BatchOutcome {
    let entries = messages.into_iter().map(Entry::Ready).collect();
    process_entries(consumer, entries, fifo, stop).await
}

/// The SQS event could not be handled at all, so Lambda retries the whole batch.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BatchError {
    /// A record without a message id cannot be named in `batchItemFailures`; failing the
    /// invocation returns the whole batch instead, which loses nothing.
    #[error("an SQS record has no message id: {0}")]
    UnidentifiedRecord(MalformedRecord),
}

#[cfg(feature = "lambda")]
impl From<BatchError> for Diagnostic {
    fn from(err: BatchError) -> Self {
        Diagnostic {
            error_type: "Queue.UnidentifiedRecord".to_string(),
            error_message: err.to_string(),
        }
    }
}

/// Handles one SQS Lambda event. The queue is FIFO when its ARN ends in `.fifo` (SQS requires
/// the suffix); a record without a body fails that message alone.
#[cfg(feature = "lambda")]
pub async fn handle_sqs_event(
    consumer: &dyn QueueConsumer,
    event: SqsEvent,
) -> Result<SqsBatchResponse, BatchError> {
    let fifo = event.records.iter().any(|record| {
        record
            .event_source_arn
            .as_deref()
            .is_some_and(|arn| arn.ends_with(".fifo"))
    });
    let mut entries = Vec::with_capacity(event.records.len());
    for record in &event.records {
        match InboundMessage::from_sqs(record) {
            Ok(message) => entries.push(Entry::Ready(message)),
            Err(malformed) if malformed.id.is_some() => entries.push(Entry::Malformed(malformed)),
            Err(malformed) => return Err(BatchError::UnidentifiedRecord(malformed)),
        }
    }
    Ok(process_entries(consumer, entries, fifo, &Stop::never())
        .await
        .response())
}

/// Runs `consumer` as an SQS-triggered Lambda function until the runtime stops. The event source
/// mapping must set `FunctionResponseTypes: [ReportBatchItemFailures]` (the template test checks).
#[cfg(feature = "lambda")]
pub async fn serve_sqs(consumer: Arc<dyn QueueConsumer>) -> Result<(), lambda_runtime::Error> {
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| {
        let consumer = Arc::clone(&consumer);
        async move { handle_sqs_event(consumer.as_ref(), event.payload).await }
    }))
    .await
}

/// A record of the batch: a message to handle, or one that is already a failure.
enum Entry {
    Ready(InboundMessage),
    #[cfg_attr(not(feature = "lambda"), allow(dead_code))]
    Malformed(MalformedRecord),
}

impl Entry {
    fn id(&self) -> String {
        match self {
            Entry::Ready(message) => message.id.clone(),
            Entry::Malformed(record) => record.id.clone().unwrap_or_default(),
        }
    }

    fn group(&self) -> Option<&str> {
        match self {
            Entry::Ready(message) => message.group_id.as_deref(),
            Entry::Malformed(record) => record.group_id.as_deref(),
        }
    }
}

async fn process_entries(
    consumer: &dyn QueueConsumer,
    entries: Vec<Entry>,
    fifo: bool,
    stop: &Stop,
) -> BatchOutcome {
    let dispositions = if fifo {
        handle_groups(consumer, &entries, stop).await
    } else {
        let each = entries
            .iter()
            .map(|entry| handle_one(consumer, entry, stop));
        join_bounded(each.collect()).await
    };
    BatchOutcome {
        results: entries.iter().map(Entry::id).zip(dispositions).collect(),
    }
}

/// FIFO: the groups side by side, each group's messages one after another.
async fn handle_groups(
    consumer: &dyn QueueConsumer,
    entries: &[Entry],
    stop: &Stop,
) -> Vec<Disposition> {
    // Positions of each group's entries, groups in order of first appearance.
    let mut groups: Vec<(Option<&str>, Vec<usize>)> = Vec::new();
    for (position, entry) in entries.iter().enumerate() {
        match groups.iter_mut().find(|(group, _)| *group == entry.group()) {
            Some((_, positions)) => positions.push(position),
            None => groups.push((entry.group(), vec![position])),
        }
    }
    let each = groups
        .into_iter()
        .map(|(_, positions)| handle_group(consumer, entries, positions, stop));
    let handled = join_bounded(each.collect()).await;
    let mut dispositions = vec![Disposition::NotStarted; entries.len()];
    for (position, disposition) in handled.into_iter().flatten() {
        dispositions[position] = disposition;
    }
    dispositions
}

/// One FIFO group's messages in order; after the first failure the rest are held back.
async fn handle_group(
    consumer: &dyn QueueConsumer,
    entries: &[Entry],
    positions: Vec<usize>,
    stop: &Stop,
) -> Vec<(usize, Disposition)> {
    let mut results = Vec::with_capacity(positions.len());
    let mut failed = false;
    for position in positions {
        let disposition = if failed {
            Disposition::HeldBack
        } else {
            handle_one(consumer, &entries[position], stop).await
        };
        // Not started (shutdown) is no failure: the rest are not started either, and come back
        // at once rather than after the visibility timeout.
        failed |= matches!(disposition, Disposition::Failed(_));
        results.push((position, disposition));
    }
    results
}

/// Runs `futures` with at most [`MAX_CONCURRENT`] in progress; outputs in the input's order.
async fn join_bounded<F: Future>(futures: Vec<F>) -> Vec<F::Output> {
    let mut pending = futures.into_iter();
    let mut running = FuturesOrdered::new();
    running.extend(pending.by_ref().take(MAX_CONCURRENT));
    let mut outputs = Vec::new();
    while let Some(output) = running.next().await {
        outputs.push(output);
        running.extend(pending.next());
    }
    outputs
}

async fn handle_one(consumer: &dyn QueueConsumer, entry: &Entry, stop: &Stop) -> Disposition {
    if stop.is_set() {
        return Disposition::NotStarted;
    }
    let result = match entry {
        Entry::Ready(message) => consumer.consume(message).await,
        Entry::Malformed(record) => Err(JobFailure::new(record.to_string())),
    };
    match result {
        Ok(()) => Disposition::Handled,
        Err(failure) => {
            tracing::warn!(message_id = %entry.id(), error = %failure, "queue message failed");
            Disposition::Failed(failure)
        }
    }
}

#[cfg(all(test, feature = "lambda"))]
mod tests {
    use std::collections::HashSet;
    use std::sync::Mutex;

    use super::*;

    const STANDARD_BATCH: &str = include_str!("../../../events/sqs-runs-batch.json");
    const FIFO_BATCH: &str = include_str!("../../../events/sqs-events-fifo-batch.json");
    const MALFORMED_BATCH: &str = include_str!("../../../events/sqs-runs-malformed-body.json");

    /// Parses each body as the runs queue's message, records every attempt, and fails the
    /// messages it is told to.
    #[derive(Default)]
    struct Recorder {
        fail: HashSet<String>,
        attempts: Mutex<Vec<String>>,
    }

    /// The runs queue's message shape, as the sample events carry it.
    #[derive(serde::Deserialize)]
    #[allow(dead_code)]
    struct Body {
        tenant_id: String,
    }

    impl Recorder {
        fn failing(ids: &[&str]) -> Self {
            Self {
                fail: ids.iter().map(|id| id.to_string()).collect(),
                attempts: Mutex::default(),
            }
        }

        fn attempts(&self) -> Vec<String> {
            self.attempts.lock().expect("attempts").clone()
        }
    }

    #[async_trait]
    impl QueueConsumer for Recorder {
        async fn consume(&self, message: &InboundMessage) -> Result<(), JobFailure> {
            self.attempts
                .lock()
                .expect("attempts")
                .push(message.id.clone());
            message.json::<Body>()?;
            if self.fail.contains(&message.id) {
                return Err(JobFailure::new(format!("{} was told to fail", message.id)));
            }
            Ok(())
        }
    }

    fn event(text: &str) -> SqsEvent {
        serde_json::from_str(text).expect("a sample SQS event")
    }

    fn failure_ids(response: &SqsBatchResponse) -> Vec<String> {
        response
            .batch_item_failures
            .iter()
            .map(|failure| failure.item_identifier.clone())
            .collect()
    }

    #[tokio::test]
    async fn a_standard_batch_reports_exactly_the_failed_message() {
        let event = event(STANDARD_BATCH);
        let ids: Vec<String> = event
            .records
            .iter()
            .filter_map(|r| r.message_id.clone())
            .collect();
        assert_eq!(ids.len(), 3, "the sample holds three messages");
        let consumer = Recorder::failing(&[&ids[1]]);
        let response = handle_sqs_event(&consumer, event)
            .await
            .expect("a response");
        assert_eq!(failure_ids(&response), vec![ids[1].clone()]);
        let mut attempts = consumer.attempts();
        attempts.sort();
        let mut all = ids.clone();
        all.sort();
        assert_eq!(attempts, all, "every message is handled once");
        let json = serde_json::to_value(&response).expect("serialize");
        assert_eq!(
            json,
            serde_json::json!({"batchItemFailures": [{"itemIdentifier": ids[1]}]})
        );
    }

    #[tokio::test]
    async fn a_fifo_batch_stops_a_group_at_its_first_failure_and_goes_on_with_others() {
        let event = event(FIFO_BATCH);
        let by_group = |group: &str| -> Vec<String> {
            event
                .records
                .iter()
                .filter(|r| r.attributes.get("MessageGroupId").map(String::as_str) == Some(group))
                .filter_map(|r| r.message_id.clone())
                .collect()
        };
        let (a, b) = (by_group("appAAAAAAAAAAAAAA"), by_group("appBBBBBBBBBBBBBB"));
        assert_eq!((a.len(), b.len()), (3, 2), "the sample's groups");
        let consumer = Recorder::failing(&[&a[1]]);
        let response = handle_sqs_event(&consumer, event.clone())
            .await
            .expect("a response");
        assert_eq!(failure_ids(&response), vec![a[1].clone(), a[2].clone()]);
        let attempts = consumer.attempts();
        assert!(!attempts.contains(&a[2]), "A's 3rd is never handled");
        let of = |group: &[String]| -> Vec<String> {
            attempts
                .iter()
                .filter(|id| group.contains(id))
                .cloned()
                .collect()
        };
        assert_eq!(
            of(&a),
            a[..2].to_vec(),
            "group A in order, up to its failure"
        );
        assert_eq!(of(&b), b, "group B all handled, in order");
    }

    #[tokio::test]
    async fn a_malformed_body_fails_that_message_only() {
        let event = event(MALFORMED_BATCH);
        let bad: Vec<String> = event
            .records
            .iter()
            .filter(|r| serde_json::from_str::<Body>(r.body.as_deref().unwrap_or("")).is_err())
            .filter_map(|r| r.message_id.clone())
            .collect();
        assert_eq!(bad.len(), 1, "the sample holds one malformed body");
        let consumer = Recorder::default();
        let response = handle_sqs_event(&consumer, event)
            .await
            .expect("a response");
        assert_eq!(failure_ids(&response), bad);
    }

    #[tokio::test]
    async fn a_record_without_body_fails_alone_and_one_without_id_fails_the_invocation() {
        let mut event = event(FIFO_BATCH);
        let first = event.records[0].message_id.clone().expect("an id");
        let group = event.records[0].attributes["MessageGroupId"].clone();
        event.records[0].body = None;
        let consumer = Recorder::default();
        let response = handle_sqs_event(&consumer, event.clone())
            .await
            .expect("a response");
        let failed = failure_ids(&response);
        assert_eq!(failed.first(), Some(&first));
        let same_group = event
            .records
            .iter()
            .filter(|r| r.attributes.get("MessageGroupId") == Some(&group))
            .count();
        assert_eq!(
            failed.len(),
            same_group,
            "the rest of its group is held back"
        );

        event.records[1].message_id = None;
        let err = handle_sqs_event(&consumer, event)
            .await
            .expect_err("an unidentified record");
        let diagnostic = Diagnostic::from(err);
        assert_eq!(diagnostic.error_type, "Queue.UnidentifiedRecord");
    }

    #[tokio::test]
    async fn an_outcome_lists_each_message_once_in_batch_order() {
        let messages: Vec<InboundMessage> = (1..=4)
            .map(|n| InboundMessage {
                id: format!("m{n}"),
                receipt: format!("r{n}"),
                body: r#"{"tenant_id":"ten_1"}"#.into(),
                receive_count: 1,
                group_id: Some(if n % 2 == 0 { "even" } else { "odd" }.into()),
            })
            .collect();
        let consumer = Recorder::failing(&["m1"]);
        let outcome = process_batch(&consumer, messages, true).await;
        let ids: Vec<&str> = outcome
            .results()
            .iter()
            .map(|(id, _)| id.as_str())
            .collect();
        assert_eq!(ids, ["m1", "m2", "m3", "m4"]);
        assert!(matches!(outcome.results()[0].1, Disposition::Failed(_)));
        assert_eq!(outcome.results()[2].1, Disposition::HeldBack);
        assert_eq!(outcome.failed_ids(), ["m1", "m3"]);
    }
}
