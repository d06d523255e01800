//! Shared pieces of the kernel's integration tests: a probe event, a projection
//! of it, and the probe gRPC service that drives the whole command path.

#![allow(dead_code, unreachable_pub)]

pub mod probe;

use std::collections::HashSet;
use std::sync::Mutex;

use kernel::consumer::{Projection, ReceivedEvent};
use kernel::event_store::{NewEvent, PublishedForm};
use lienlac_proto::testing::v1::Noted;
use sqlx::PgConnection;

pub static MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("tests/migrations");

/// A published `Noted` event on `stream_id`.
pub fn noted(stream_id: &str, text: &str) -> NewEvent {
    let message = Noted {
        stream_id: stream_id.to_owned(),
        text: text.to_owned(),
    };
    NewEvent::new("Noted", 1, &serde_json::json!({ "text": text }))
        .unwrap()
        .published_as(PublishedForm::encode(&message))
}

/// An event that stays inside the service (no published form).
pub fn internal(text: &str) -> NewEvent {
    NewEvent::new("Internal", 1, &serde_json::json!({ "text": text })).unwrap()
}

/// Projects `Noted` events into `notes`; fails on texts listed as poison.
pub struct NotesProjection {
    pub name: String,
    pub poison: Mutex<HashSet<String>>,
}

impl NotesProjection {
    pub fn new(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            poison: Mutex::new(HashSet::new()),
        }
    }

    pub fn poison(self, text: &str) -> Self {
        self.poison.lock().unwrap().insert(text.to_owned());
        self
    }
}

impl Projection for NotesProjection {
    fn name(&self) -> &str {
        &self.name
    }

    async fn handle(&self, conn: &mut PgConnection, event: &ReceivedEvent) -> anyhow::Result<()> {
        let note: Noted = event.decode()?;
        if self.poison.lock().unwrap().contains(&note.text) {
            anyhow::bail!("cannot project note {:?}", note.text);
        }
        sqlx::query("INSERT INTO notes (event_id, stream_id, text, sequence) VALUES ($1, $2, $3, $4)")
            .bind(event.event_id)
            .bind(&note.stream_id)
            .bind(&note.text)
            .bind(event.sequence)
            .execute(conn)
            .await?;
        Ok(())
    }

    async fn reset(&self, conn: &mut PgConnection) -> anyhow::Result<()> {
        sqlx::query("DELETE FROM notes").execute(conn).await?;
        Ok(())
    }
}
