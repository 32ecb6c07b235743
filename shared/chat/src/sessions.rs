//! Chat sessions: each tenant's conversations, kept with a bounded history so a session never
//! outgrows a store item or a model's context.

use std::sync::Arc;

use basics::Clock;
use llm::Message;
use ports::typed::{from_item, to_item};
use ports::{Key, Query, StoreError, Table, TableStore};
use serde::{Deserialize, Serialize};

/// Messages kept per session (the most recent ones).
pub const MAX_HISTORY_MESSAGES: usize = 40;
/// Bytes of history kept per session: well under DynamoDB's 400 KB item limit.
pub const MAX_HISTORY_BYTES: usize = 200 * 1024;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatSession {
    pub id: String,
    pub title: String,
    pub model: String,
    pub created_at: String,
    pub updated_at: String,
    pub messages: Vec<Message>,
}

/// A session as lists show it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SessionSummary {
    pub id: String,
    pub title: String,
    pub model: String,
    pub created_at: String,
    pub updated_at: String,
    pub message_count: usize,
}

impl ChatSession {
    pub fn summary(&self) -> SessionSummary {
        SessionSummary {
            id: self.id.clone(),
            title: self.title.clone(),
            model: self.model.clone(),
            created_at: self.created_at.clone(),
            updated_at: self.updated_at.clone(),
            message_count: self.messages.len(),
        }
    }

    /// Drops the oldest messages until the history fits both bounds, and starts it at a user
    /// message, so no kept tool result lacks the call it answers.
    pub fn bound_history(&mut self) {
        let size =
            |messages: &[Message]| serde_json::to_string(messages).map_or(usize::MAX, |s| s.len());
        while self.messages.len() > MAX_HISTORY_MESSAGES || size(&self.messages) > MAX_HISTORY_BYTES
        {
            self.messages.remove(0);
        }
        while !self.messages.is_empty() && !matches!(self.messages[0], Message::User { .. }) {
            self.messages.remove(0);
        }
    }
}

#[derive(Debug, Clone)]
pub struct Sessions {
    store: Arc<dyn TableStore>,
    clock: Arc<dyn Clock>,
}

fn key(tenant_id: &str, session_id: &str) -> Key {
    Key::new(
        format!("TENANT#{tenant_id}"),
        format!("CHATSESSION#{session_id}"),
    )
}

impl Sessions {
    pub fn new(store: Arc<dyn TableStore>, clock: Arc<dyn Clock>) -> Self {
        Self { store, clock }
    }

    pub fn now(&self) -> String {
        self.clock.now().to_rfc3339()
    }

    pub async fn get(
        &self,
        tenant_id: &str,
        session_id: &str,
    ) -> Result<Option<ChatSession>, StoreError> {
        match self
            .store
            .get(Table::Core, &key(tenant_id, session_id))
            .await?
        {
            Some(item) => Ok(Some(from_item(item)?)),
            None => Ok(None),
        }
    }

    pub async fn save(&self, tenant_id: &str, session: &ChatSession) -> Result<(), StoreError> {
        let item = to_item(&key(tenant_id, &session.id), session)?;
        self.store.put(Table::Core, item, None).await
    }

    /// The tenant's sessions, most recently created first.
    pub async fn list(&self, tenant_id: &str) -> Result<Vec<SessionSummary>, StoreError> {
        let mut summaries = Vec::new();
        let mut cursor = None;
        loop {
            let page = self
                .store
                .query(
                    Table::Core,
                    Query::partition(format!("TENANT#{tenant_id}"))
                        .begins_with("CHATSESSION#")
                        .after(cursor),
                )
                .await?;
            for item in page.items {
                let session: ChatSession = from_item(item)?;
                summaries.push(session.summary());
            }
            match page.next {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        summaries.sort_by(|a, b| b.created_at.cmp(&a.created_at));
        Ok(summaries)
    }

    /// Deletes a session; false when there was none.
    pub async fn delete(&self, tenant_id: &str, session_id: &str) -> Result<bool, StoreError> {
        Ok(self
            .store
            .delete(Table::Core, &key(tenant_id, session_id), None)
            .await?
            .is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_is_bounded_and_starts_with_a_user_message() {
        let mut session = ChatSession {
            id: "s".into(),
            title: "t".into(),
            model: "m".into(),
            created_at: String::new(),
            updated_at: String::new(),
            messages: Vec::new(),
        };
        for i in 0..30 {
            session.messages.push(Message::User {
                text: format!("q{i}"),
            });
            session.messages.push(Message::Assistant {
                text: None,
                tool_calls: vec![],
            });
            session.messages.push(Message::Tool {
                call_id: "c".into(),
                name: "n".into(),
                content: serde_json::json!({}),
            });
        }
        session.bound_history();
        assert!(session.messages.len() <= MAX_HISTORY_MESSAGES);
        assert!(matches!(session.messages[0], Message::User { .. }));
    }
}
