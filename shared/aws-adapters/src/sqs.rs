//! [`SqsQueue`]: the queue port on SQS. The port was modelled on SQS, so this is mostly a
//! translation; the work is in checking requests the way the embedded queue does (so both refuse
//! the same things) and in turning SQS's error codes into the port's errors.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_sqs::Client;
use aws_sdk_sqs::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_sqs::types::{MessageSystemAttributeName, QueueAttributeName};
use ports::{Message, Queue, QueueError, QueueName, SendOptions};

/// SQS's longest long poll.
const MAX_WAIT: Duration = Duration::from_secs(20);
/// SQS's longest visibility timeout (12 hours).
const MAX_VISIBILITY: Duration = Duration::from_secs(12 * 60 * 60);
/// SQS's largest receive batch.
const MAX_BATCH: u32 = 10;

/// Error codes that mean the receipt handle is not (or no longer) valid. With the JSON protocol
/// SQS may prefix codes with `AWS.SimpleQueueService.`, so they are matched by suffix.
const RECEIPT_ERRORS: [&str; 3] = [
    "ReceiptHandleIsInvalid",
    "InvalidIdFormat",
    "MessageNotInflight",
];

/// Error codes that mean the request itself was malformed.
const INVALID_REQUEST_ERRORS: [&str; 3] = [
    "InvalidParameterValue",
    "InvalidMessageContents",
    "MissingParameter",
];

#[derive(Debug, Clone)]
pub struct SqsQueue {
    client: Client,
    queue_urls: BTreeMap<QueueName, String>,
}

fn code_is(code: Option<&str>, candidates: &[&str]) -> bool {
    code.is_some_and(|code| candidates.iter().any(|c| code.ends_with(c)))
}

fn queue_error<E, R>(operation: &str, err: SdkError<E, R>) -> QueueError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug,
{
    if code_is(err.code(), &INVALID_REQUEST_ERRORS) {
        return QueueError::Invalid(format!(
            "SQS {operation}: {}",
            err.message().unwrap_or("invalid request")
        ));
    }
    QueueError::Unavailable(format!("SQS {operation}: {}", DisplayErrorContext(err)))
}

/// Like [`queue_error`], but a bad receipt is the caller's `InvalidReceipt`.
fn receipt_error<E, R>(operation: &str, err: SdkError<E, R>) -> QueueError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug,
{
    if code_is(err.code(), &RECEIPT_ERRORS) {
        return QueueError::InvalidReceipt;
    }
    match queue_error(operation, err) {
        // SQS answers a malformed receipt handle with InvalidParameterValue.
        QueueError::Invalid(_) => QueueError::InvalidReceipt,
        other => other,
    }
}

/// Whole seconds, rounded up, so a sub-second wait or visibility never becomes zero.
fn seconds(duration: Duration) -> i32 {
    let secs = duration.as_secs() + u64::from(duration.subsec_nanos() > 0);
    i32::try_from(secs).unwrap_or(i32::MAX)
}

impl SqsQueue {
    /// `queue_urls` maps each logical queue to its URL (from the SAM template's outputs or
    /// `provision::ensure_queues`).
    pub fn new(client: Client, queue_urls: BTreeMap<QueueName, String>) -> Self {
        Self { client, queue_urls }
    }

    fn url(&self, queue: QueueName) -> Result<&str, QueueError> {
        self.queue_urls
            .get(&queue)
            .map(String::as_str)
            .ok_or_else(|| {
                QueueError::Unavailable(format!("no SQS queue is configured for {queue}"))
            })
    }
}

fn to_message(message: &aws_sdk_sqs::types::Message) -> Result<Message, QueueError> {
    let attribute = |name: MessageSystemAttributeName| {
        message
            .attributes()
            .and_then(|attributes| attributes.get(&name))
            .cloned()
    };
    let missing =
        |what: &str| QueueError::Unavailable(format!("SQS returned a message without {what}"));
    let receive_count = attribute(MessageSystemAttributeName::ApproximateReceiveCount)
        .and_then(|count| count.parse().ok())
        .ok_or_else(|| missing("a receive count"))?;
    Ok(Message {
        id: message
            .message_id()
            .ok_or_else(|| missing("an id"))?
            .to_string(),
        receipt: message
            .receipt_handle()
            .ok_or_else(|| missing("a receipt handle"))?
            .to_string(),
        body: message.body().unwrap_or_default().to_string(),
        receive_count,
        group_id: attribute(MessageSystemAttributeName::MessageGroupId),
    })
}

#[async_trait]
impl Queue for SqsQueue {
    async fn send(
        &self,
        queue: QueueName,
        body: &str,
        options: SendOptions,
    ) -> Result<String, QueueError> {
        options.validate(queue, body)?;
        let delay = (!options.delay.is_zero()).then(|| seconds(options.delay));
        let out = self
            .client
            .send_message()
            .queue_url(self.url(queue)?)
            .message_body(body)
            .set_delay_seconds(delay)
            .set_message_group_id(options.group_id)
            .set_message_deduplication_id(options.dedup_id)
            .send()
            .await
            .map_err(|err| queue_error("SendMessage", err))?;
        out.message_id()
            .map(str::to_string)
            .ok_or_else(|| QueueError::Unavailable("SQS SendMessage returned no message id".into()))
    }

    async fn receive(
        &self,
        queue: QueueName,
        max: u32,
        visibility: Duration,
        wait: Duration,
    ) -> Result<Vec<Message>, QueueError> {
        if !(1..=MAX_BATCH).contains(&max) {
            return Err(QueueError::Invalid(format!(
                "receive takes 1 to {MAX_BATCH} messages, not {max}"
            )));
        }
        if wait > MAX_WAIT {
            return Err(QueueError::Invalid(
                "a receive waits at most 20 seconds".into(),
            ));
        }
        if visibility > MAX_VISIBILITY {
            return Err(QueueError::Invalid(
                "a visibility timeout is at most 12 hours".into(),
            ));
        }
        let out = self
            .client
            .receive_message()
            .queue_url(self.url(queue)?)
            .max_number_of_messages(max as i32)
            .visibility_timeout(seconds(visibility))
            .wait_time_seconds(seconds(wait))
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .message_system_attribute_names(MessageSystemAttributeName::MessageGroupId)
            .send()
            .await
            .map_err(|err| queue_error("ReceiveMessage", err))?;
        out.messages().iter().map(to_message).collect()
    }

    async fn delete(&self, queue: QueueName, receipt: &str) -> Result<(), QueueError> {
        if receipt.is_empty() {
            return Err(QueueError::InvalidReceipt);
        }
        self.client
            .delete_message()
            .queue_url(self.url(queue)?)
            .receipt_handle(receipt)
            .send()
            .await
            .map_err(|err| receipt_error("DeleteMessage", err))?;
        Ok(())
    }

    async fn change_visibility(
        &self,
        queue: QueueName,
        receipt: &str,
        visibility: Duration,
    ) -> Result<(), QueueError> {
        if receipt.is_empty() {
            return Err(QueueError::InvalidReceipt);
        }
        if visibility > MAX_VISIBILITY {
            return Err(QueueError::Invalid(
                "a visibility timeout is at most 12 hours".into(),
            ));
        }
        self.client
            .change_message_visibility()
            .queue_url(self.url(queue)?)
            .receipt_handle(receipt)
            .visibility_timeout(seconds(visibility))
            .send()
            .await
            .map_err(|err| receipt_error("ChangeMessageVisibility", err))?;
        Ok(())
    }

    async fn approximate_depth(&self, queue: QueueName) -> Result<u64, QueueError> {
        let out = self
            .client
            .get_queue_attributes()
            .queue_url(self.url(queue)?)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
            .send()
            .await
            .map_err(|err| queue_error("GetQueueAttributes", err))?;
        out.attributes()
            .and_then(|a| a.get(&QueueAttributeName::ApproximateNumberOfMessages))
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| {
                QueueError::Unavailable("SQS returned no ApproximateNumberOfMessages".into())
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_round_up_to_whole_seconds() {
        assert_eq!(seconds(Duration::ZERO), 0);
        assert_eq!(seconds(Duration::from_millis(500)), 1);
        assert_eq!(seconds(Duration::from_secs(2)), 2);
    }

    #[test]
    fn error_codes_match_with_or_without_the_query_prefix() {
        assert!(code_is(
            Some("AWS.SimpleQueueService.MessageNotInflight"),
            &RECEIPT_ERRORS
        ));
        assert!(code_is(Some("ReceiptHandleIsInvalid"), &RECEIPT_ERRORS));
        assert!(!code_is(Some("QueueDoesNotExist"), &RECEIPT_ERRORS));
        assert!(!code_is(None, &RECEIPT_ERRORS));
    }
}

#[cfg(test)]
mod contract {
    use std::sync::Arc;

    use ports::contract::queue::Fixture;

    use super::*;
    use crate::moto;

    #[cfg_attr(not(moto), allow(dead_code))]
    async fn fixture(case: &str) -> Fixture {
        let config = moto::sdk_config().await;
        let client = Client::new(&config);
        // Queues are per case: the cases count messages and receives.
        let urls = crate::provision::ensure_queues(&client, &moto::unique_name(case))
            .await
            .expect("create the case's queues on moto");
        Fixture {
            queue: Arc::new(SqsQueue::new(client, urls)),
        }
    }

    #[cfg(moto)]
    ports::queue_contract_tests!(fixture);
}
