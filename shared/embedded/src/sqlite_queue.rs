//! The queue on SQLite, with SQS's semantics: visibility timeouts, receive counts, delays, FIFO
//! groups (one in flight at a time, in order) with five-minute deduplication, and redrive to the
//! dead-letter queue once a message has been received [`MAX_RECEIVES`] times.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use basics::Clock;
use ports::queue::{MAX_RECEIVES, Message, Queue, QueueError, QueueName, SendOptions};
use rusqlite::{Connection, OptionalExtension, params};
use tokio::sync::Notify;

use crate::database::{Database, DbFailure};

/// SQS keeps deduplication ids for five minutes.
const DEDUP_WINDOW_MS: i64 = 5 * 60 * 1000;
/// How often a long poll looks again when no send wakes it.
const POLL_INTERVAL: Duration = Duration::from_millis(100);
/// SQS's longest long poll.
const MAX_WAIT: Duration = Duration::from_secs(20);

#[derive(Debug, Clone)]
pub struct SqliteQueue {
    db: Database,
    clock: Arc<dyn Clock>,
    /// Wakes long polls in this process when a message is sent.
    sent: Arc<Notify>,
}

impl SqliteQueue {
    pub fn new(db: Database, clock: Arc<dyn Clock>) -> Self {
        Self {
            db,
            clock,
            sent: Arc::new(Notify::new()),
        }
    }

    fn now_ms(&self) -> i64 {
        self.clock.epoch_millis()
    }

    async fn receive_now(
        &self,
        queue: QueueName,
        max: u32,
        visibility: Duration,
    ) -> Result<Vec<Message>, QueueError> {
        let now = self.now_ms();
        let hide_ms = i64::try_from(visibility.as_millis()).unwrap_or(i64::MAX / 2);
        self.db
            .run(move |conn| {
                let tx = conn.transaction().map_err(DbFailure::from)?;
                let received = take_visible(&tx, queue, max, now, hide_ms)?;
                tx.commit().map_err(DbFailure::from)?;
                Ok(received)
            })
            .await
    }
}

struct Candidate {
    seq: i64,
    id: String,
    body: String,
    group_id: Option<String>,
    receive_count: u32,
}

fn take_visible(
    conn: &Connection,
    queue: QueueName,
    max: u32,
    now: i64,
    hide_ms: i64,
) -> Result<Vec<Message>, QueueError> {
    // For FIFO queues a group with a message in flight is skipped entirely, so a group's messages
    // go out in order, one batch at a time.
    let sql = if queue.is_fifo() {
        "SELECT seq, id, body, group_id, receive_count FROM queue_messages m
         WHERE queue = ?1 AND visible_at <= ?2
           AND NOT EXISTS (SELECT 1 FROM queue_messages f WHERE f.queue = m.queue
                AND f.group_id = m.group_id AND f.visible_at > ?2 AND f.receive_count > 0)
         ORDER BY seq"
    } else {
        "SELECT seq, id, body, group_id, receive_count FROM queue_messages
         WHERE queue = ?1 AND visible_at <= ?2 ORDER BY seq LIMIT 100"
    };
    let candidates: Vec<Candidate> = {
        let mut statement = conn.prepare(sql).map_err(DbFailure::from)?;
        let rows = statement
            .query_map(params![queue.logical_name(), now], |row| {
                Ok(Candidate {
                    seq: row.get(0)?,
                    id: row.get(1)?,
                    body: row.get(2)?,
                    group_id: row.get(3)?,
                    receive_count: row.get(4)?,
                })
            })
            .map_err(DbFailure::from)?;
        rows.collect::<Result<_, _>>().map_err(DbFailure::from)?
    };
    let mut received = Vec::new();
    for candidate in candidates {
        if received.len() >= max as usize {
            break;
        }
        if let Some(dlq) = queue.dead_letter_queue()
            && candidate.receive_count >= MAX_RECEIVES
        {
            move_to(conn, candidate.seq, dlq, now)?;
            continue;
        }
        let receipt = uuid::Uuid::new_v4().to_string();
        let count = candidate.receive_count + 1;
        conn.execute(
            "UPDATE queue_messages SET receive_count = ?1, receipt = ?2, visible_at = ?3
             WHERE seq = ?4",
            params![count, receipt, now.saturating_add(hide_ms), candidate.seq],
        )
        .map_err(DbFailure::from)?;
        received.push(Message {
            id: candidate.id,
            receipt,
            body: candidate.body,
            receive_count: count,
            group_id: candidate.group_id,
        });
    }
    Ok(received)
}

/// Moves a message to the end of another queue as a fresh message (receive count reset), as SQS
/// redrive does.
fn move_to(conn: &Connection, seq: i64, target: QueueName, now: i64) -> Result<(), QueueError> {
    let moved: Option<(String, String, Option<String>)> = conn
        .query_row(
            "DELETE FROM queue_messages WHERE seq = ?1 RETURNING id, body, group_id",
            params![seq],
            |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
        )
        .optional()
        .map_err(DbFailure::from)?;
    if let Some((id, body, group_id)) = moved {
        conn.execute(
            "INSERT INTO queue_messages (id, queue, body, group_id, visible_at)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![id, target.logical_name(), body, group_id, now],
        )
        .map_err(DbFailure::from)?;
    }
    Ok(())
}

#[async_trait]
impl Queue for SqliteQueue {
    async fn send(
        &self,
        queue: QueueName,
        body: &str,
        options: SendOptions,
    ) -> Result<String, QueueError> {
        options.validate(queue, body)?;
        let now = self.now_ms();
        let delay_ms = i64::try_from(options.delay.as_millis()).unwrap_or(0);
        let id = uuid::Uuid::new_v4().to_string();
        let body = body.to_string();
        let sent_id = self
            .db
            .run(move |conn| {
                let tx = conn.transaction().map_err(DbFailure::from)?;
                if let Some(dedup) = &options.dedup_id {
                    tx.execute(
                        "DELETE FROM queue_dedup WHERE expires_at <= ?1",
                        params![now],
                    )
                    .map_err(DbFailure::from)?;
                    let earlier: Option<String> = tx
                        .query_row(
                            "SELECT message_id FROM queue_dedup WHERE queue = ?1 AND dedup_id = ?2",
                            params![queue.logical_name(), dedup],
                            |row| row.get(0),
                        )
                        .optional()
                        .map_err(DbFailure::from)?;
                    if let Some(earlier) = earlier {
                        return Ok(earlier);
                    }
                    tx.execute(
                        "INSERT INTO queue_dedup (queue, dedup_id, message_id, expires_at)
                         VALUES (?1, ?2, ?3, ?4)",
                        params![queue.logical_name(), dedup, id, now + DEDUP_WINDOW_MS],
                    )
                    .map_err(DbFailure::from)?;
                }
                tx.execute(
                    "INSERT INTO queue_messages (id, queue, body, group_id, visible_at)
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![
                        id,
                        queue.logical_name(),
                        body,
                        options.group_id,
                        now + delay_ms
                    ],
                )
                .map_err(DbFailure::from)?;
                tx.commit().map_err(DbFailure::from)?;
                Ok::<_, QueueError>(id)
            })
            .await?;
        self.sent.notify_waiters();
        Ok(sent_id)
    }

    async fn receive(
        &self,
        queue: QueueName,
        max: u32,
        visibility: Duration,
        wait: Duration,
    ) -> Result<Vec<Message>, QueueError> {
        if !(1..=10).contains(&max) {
            return Err(QueueError::Invalid(format!(
                "receive takes 1 to 10 messages, not {max}"
            )));
        }
        let deadline = tokio::time::Instant::now() + wait.min(MAX_WAIT);
        loop {
            let notified = self.sent.notified();
            let received = self.receive_now(queue, max, visibility).await?;
            if !received.is_empty() || tokio::time::Instant::now() >= deadline {
                return Ok(received);
            }
            let nap = POLL_INTERVAL.min(deadline - tokio::time::Instant::now());
            // Wake at once on a local send; poll anyway for delays, visibility expiry and
            // messages sent by other processes.
            let _ = tokio::time::timeout(nap, notified).await;
        }
    }

    async fn delete(&self, queue: QueueName, receipt: &str) -> Result<(), QueueError> {
        let receipt = receipt.to_string();
        // Deleting an already deleted message succeeds, as it does on SQS.
        self.db
            .run(move |conn| {
                conn.execute(
                    "DELETE FROM queue_messages WHERE queue = ?1 AND receipt = ?2",
                    params![queue.logical_name(), receipt],
                )
                .map_err(DbFailure::from)?;
                Ok(())
            })
            .await
    }

    async fn change_visibility(
        &self,
        queue: QueueName,
        receipt: &str,
        visibility: Duration,
    ) -> Result<(), QueueError> {
        let receipt = receipt.to_string();
        let visible_at = self
            .now_ms()
            .saturating_add(i64::try_from(visibility.as_millis()).unwrap_or(i64::MAX / 2));
        self.db
            .run(move |conn| {
                let changed = conn
                    .execute(
                        "UPDATE queue_messages SET visible_at = ?1
                         WHERE queue = ?2 AND receipt = ?3",
                        params![visible_at, queue.logical_name(), receipt],
                    )
                    .map_err(DbFailure::from)?;
                if changed == 0 {
                    Err(QueueError::InvalidReceipt)
                } else {
                    Ok(())
                }
            })
            .await
    }

    async fn approximate_depth(&self, queue: QueueName) -> Result<u64, QueueError> {
        let now = self.now_ms();
        self.db
            .run(move |conn| {
                let count: i64 = conn
                    .query_row(
                        "SELECT COUNT(*) FROM queue_messages WHERE queue = ?1 AND visible_at <= ?2",
                        params![queue.logical_name(), now],
                        |row| row.get(0),
                    )
                    .map_err(DbFailure::from)?;
                Ok(u64::try_from(count).unwrap_or(0))
            })
            .await
    }
}

#[cfg(test)]
mod contract {
    use std::sync::Arc;

    use basics::SystemClock;
    use ports::contract::queue::Fixture;

    use super::*;

    async fn fixture(_case: &str) -> Fixture {
        let db = Database::in_memory().expect("in-memory database");
        Fixture {
            queue: Arc::new(SqliteQueue::new(db, Arc::new(SystemClock))),
        }
    }

    ports::queue_contract_tests!(fixture);
}
