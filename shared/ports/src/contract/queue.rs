//! The queue contract. Every case gets a fresh, empty set of queues.

use std::sync::Arc;
use std::time::Duration;

use crate::queue::*;

pub struct Fixture {
    pub queue: Arc<dyn Queue>,
}

/// Generates one `#[tokio::test]` per case; `$make` takes the case name and evaluates to a
/// future of [`Fixture`] with fresh queues.
#[macro_export]
macro_rules! queue_contract_tests {
    ($make:expr) => {
        $crate::queue_contract_tests!(@cases $make;
            send_receive_delete,
            visibility_timeout_hides_then_redelivers,
            change_visibility_to_zero_makes_visible_again,
            delay_hides_a_new_message,
            fifo_keeps_order_within_a_group_and_drops_duplicates,
            fifo_group_waits_while_a_message_is_in_flight,
            redrive_moves_a_message_to_the_dlq_after_max_receives,
            receive_waits_for_a_message,
            options_are_checked_against_the_queue_kind,
        );
    };
    (@cases $make:expr; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $case() {
                let fixture = ($make)(stringify!($case)).await;
                $crate::contract::queue::$case(&fixture).await;
            }
        )*
    };
}

const NO_WAIT: Duration = Duration::ZERO;
const HIDE: Duration = Duration::from_secs(30);

fn bodies(messages: &[Message]) -> Vec<&str> {
    messages.iter().map(|m| m.body.as_str()).collect()
}

async fn receive_all(f: &Fixture, queue: QueueName, visibility: Duration) -> Vec<Message> {
    f.queue
        .receive(queue, 10, visibility, Duration::from_secs(1))
        .await
        .expect("receive")
}

pub async fn send_receive_delete(f: &Fixture) {
    let body = r#"{"run_id":"run_1","note":"ünïcode ✓"}"#;
    let id = f
        .queue
        .send(QueueName::Runs, body, SendOptions::default())
        .await
        .expect("send");
    assert!(!id.is_empty());
    assert_eq!(
        f.queue
            .approximate_depth(QueueName::Runs)
            .await
            .expect("depth"),
        1
    );
    let got = receive_all(f, QueueName::Runs, HIDE).await;
    assert_eq!(bodies(&got), [body]);
    assert_eq!(got[0].id, id);
    assert_eq!(got[0].receive_count, 1);
    f.queue
        .delete(QueueName::Runs, &got[0].receipt)
        .await
        .expect("delete");
    let after = f
        .queue
        .receive(QueueName::Runs, 10, Duration::ZERO, NO_WAIT)
        .await
        .expect("receive");
    assert!(after.is_empty(), "a deleted message must not come back");
    assert_eq!(
        f.queue
            .approximate_depth(QueueName::Runs)
            .await
            .expect("depth"),
        0
    );
}

pub async fn visibility_timeout_hides_then_redelivers(f: &Fixture) {
    f.queue
        .send(QueueName::Runs, "m", SendOptions::default())
        .await
        .expect("send");
    let first = receive_all(f, QueueName::Runs, Duration::from_secs(1)).await;
    assert_eq!(bodies(&first), ["m"]);
    let hidden = f
        .queue
        .receive(QueueName::Runs, 10, HIDE, NO_WAIT)
        .await
        .expect("receive");
    assert!(hidden.is_empty(), "an in-flight message must stay hidden");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let again = receive_all(f, QueueName::Runs, HIDE).await;
    assert_eq!(bodies(&again), ["m"], "an undeleted message must come back");
    assert_eq!(again[0].receive_count, 2);
    assert_ne!(
        again[0].receipt, first[0].receipt,
        "each receive gets a new receipt"
    );
}

pub async fn change_visibility_to_zero_makes_visible_again(f: &Fixture) {
    f.queue
        .send(QueueName::Runs, "retry-me", SendOptions::default())
        .await
        .expect("send");
    let got = receive_all(f, QueueName::Runs, HIDE).await;
    assert_eq!(bodies(&got), ["retry-me"]);
    f.queue
        .change_visibility(QueueName::Runs, &got[0].receipt, Duration::ZERO)
        .await
        .expect("change visibility");
    let again = receive_all(f, QueueName::Runs, HIDE).await;
    assert_eq!(bodies(&again), ["retry-me"]);
}

pub async fn delay_hides_a_new_message(f: &Fixture) {
    f.queue
        .send(
            QueueName::Runs,
            "later",
            SendOptions::delayed(Duration::from_secs(2)),
        )
        .await
        .expect("send");
    let now = f
        .queue
        .receive(QueueName::Runs, 10, HIDE, NO_WAIT)
        .await
        .expect("receive");
    assert!(
        now.is_empty(),
        "a delayed message must not be visible at once"
    );
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let later = receive_all(f, QueueName::Runs, HIDE).await;
    assert_eq!(bodies(&later), ["later"]);
}

pub async fn fifo_keeps_order_within_a_group_and_drops_duplicates(f: &Fixture) {
    for (body, dedup) in [("a", "d1"), ("b", "d2"), ("a-again", "d1"), ("c", "d3")] {
        f.queue
            .send(QueueName::Events, body, SendOptions::fifo("base1", dedup))
            .await
            .expect("send");
    }
    let got = receive_all(f, QueueName::Events, HIDE).await;
    assert_eq!(bodies(&got), ["a", "b", "c"], "in order, duplicate dropped");
    assert!(got.iter().all(|m| m.group_id.as_deref() == Some("base1")));
}

pub async fn fifo_group_waits_while_a_message_is_in_flight(f: &Fixture) {
    for (body, group, dedup) in [
        ("g1-a", "g1", "1"),
        ("g1-b", "g1", "2"),
        ("g2-a", "g2", "3"),
    ] {
        f.queue
            .send(QueueName::Events, body, SendOptions::fifo(group, dedup))
            .await
            .expect("send");
    }
    let first = f
        .queue
        .receive(QueueName::Events, 1, HIDE, Duration::from_secs(1))
        .await
        .expect("receive");
    assert_eq!(bodies(&first), ["g1-a"]);
    let next = receive_all(f, QueueName::Events, HIDE).await;
    assert_eq!(
        bodies(&next),
        ["g2-a"],
        "g1-b must wait until g1-a is deleted or visible again"
    );
    f.queue
        .delete(QueueName::Events, &first[0].receipt)
        .await
        .expect("delete");
    let last = receive_all(f, QueueName::Events, HIDE).await;
    assert_eq!(bodies(&last), ["g1-b"]);
}

pub async fn redrive_moves_a_message_to_the_dlq_after_max_receives(f: &Fixture) {
    f.queue
        .send(QueueName::Runs, "poison", SendOptions::default())
        .await
        .expect("send");
    for attempt in 1..=MAX_RECEIVES {
        let got = receive_all(f, QueueName::Runs, Duration::ZERO).await;
        assert_eq!(bodies(&got), ["poison"], "receive {attempt}");
        assert_eq!(got[0].receive_count, attempt);
    }
    let gone = f
        .queue
        .receive(QueueName::Runs, 10, HIDE, Duration::from_millis(500))
        .await
        .expect("receive");
    assert!(
        gone.is_empty(),
        "after {MAX_RECEIVES} receives it must leave the queue"
    );
    let dead = receive_all(f, QueueName::RunsDlq, HIDE).await;
    assert_eq!(
        bodies(&dead),
        ["poison"],
        "it must be in the dead-letter queue"
    );
}

pub async fn receive_waits_for_a_message(f: &Fixture) {
    let queue = Arc::clone(&f.queue);
    let sender = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        queue
            .send(QueueName::Runs, "arrived", SendOptions::default())
            .await
    });
    let got = f
        .queue
        .receive(QueueName::Runs, 10, HIDE, Duration::from_secs(5))
        .await
        .expect("receive");
    assert_eq!(
        bodies(&got),
        ["arrived"],
        "a long poll must return a message sent meanwhile"
    );
    sender.await.expect("join").expect("send");
}

pub async fn options_are_checked_against_the_queue_kind(f: &Fixture) {
    let no_group = f
        .queue
        .send(QueueName::Events, "x", SendOptions::default())
        .await;
    assert!(
        matches!(no_group, Err(QueueError::Invalid(_))),
        "{no_group:?}"
    );
    let group_on_standard = f
        .queue
        .send(QueueName::Runs, "x", SendOptions::fifo("g", "d"))
        .await;
    assert!(matches!(group_on_standard, Err(QueueError::Invalid(_))));
    let empty = f
        .queue
        .send(QueueName::Runs, "", SendOptions::default())
        .await;
    assert!(matches!(empty, Err(QueueError::Invalid(_))));
    let huge = "x".repeat(MAX_BODY_BYTES + 1);
    let too_big = f
        .queue
        .send(QueueName::Runs, &huge, SendOptions::default())
        .await;
    assert!(matches!(too_big, Err(QueueError::Invalid(_))));
    assert_eq!(
        f.queue
            .approximate_depth(QueueName::Runs)
            .await
            .expect("depth"),
        0
    );
}
