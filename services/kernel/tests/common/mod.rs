//! Shared pieces of the kernel's integration tests: a probe event, a projection
//! of it, and the probe gRPC service that drives the whole command path.

#![allow(dead_code, unreachable_pub)]

pub mod probe;

use std::collections::HashSet;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

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
    /// Replays in any order, each batch held a moment so that several overlap.
    any_order: bool,
    replaying: AtomicUsize,
    /// The most batches a replay had in progress at once.
    pub most_replayed_at_once: AtomicUsize,
    /// How long projecting each event takes: a slow replica, or a stuck one.
    hold: Duration,
}

impl NotesProjection {
    pub fn new(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            poison: Mutex::new(HashSet::new()),
            any_order: false,
            replaying: AtomicUsize::new(0),
            most_replayed_at_once: AtomicUsize::new(0),
            hold: Duration::ZERO,
        }
    }

    pub fn holding_each_event(mut self, hold: Duration) -> Self {
        self.hold = hold;
        self
    }

    pub fn poison(self, text: &str) -> Self {
        self.poison.lock().unwrap().insert(text.to_owned());
        self
    }

    pub fn replaying_in_any_order(mut self) -> Self {
        self.any_order = true;
        self
    }
}

impl Projection for NotesProjection {
    fn name(&self) -> &str {
        &self.name
    }

    async fn handle(&self, conn: &mut PgConnection, event: &ReceivedEvent) -> anyhow::Result<()> {
        let note: Noted = event.decode()?;
        tokio::time::sleep(self.hold).await;
        if self.poison.lock().unwrap().contains(&note.text) {
            anyhow::bail!("cannot project note {:?}", note.text);
        }
        sqlx::query(
            "INSERT INTO notes (event_id, stream_id, text, sequence) VALUES ($1, $2, $3, $4)",
        )
        .bind(event.event_id)
        .bind(&note.stream_id)
        .bind(&note.text)
        .bind(event.sequence)
        .execute(conn)
        .await?;
        Ok(())
    }

    async fn replay_batch(
        &self,
        conn: &mut PgConnection,
        events: &[&ReceivedEvent],
    ) -> anyhow::Result<()> {
        let now = self.replaying.fetch_add(1, Ordering::SeqCst) + 1;
        self.most_replayed_at_once.fetch_max(now, Ordering::SeqCst);
        if self.any_order {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let applied = self.handle_batch(conn, events).await;
        self.replaying.fetch_sub(1, Ordering::SeqCst);
        applied
    }

    fn replays_in_any_order(&self) -> bool {
        self.any_order
    }

    async fn reset(&self, conn: &mut PgConnection) -> anyhow::Result<()> {
        sqlx::query("DELETE FROM notes").execute(conn).await?;
        Ok(())
    }
}

/// A message as stored in a JetStream stream.
#[derive(Debug, Clone)]
pub struct Stored {
    pub subject: String,
    pub event_id: String,
    pub msg_id: String,
    pub stream_id: String,
    pub sequence: i64,
    pub traceparent: Option<String>,
    pub headers: async_nats::HeaderMap,
}

/// Every message of `stream`, in stream order.
pub async fn stored_messages(
    jetstream: &async_nats::jetstream::Context,
    stream: &str,
) -> Vec<Stored> {
    let stream = jetstream.get_stream(stream).await.unwrap();
    let info = stream.get_info().await.unwrap();
    let mut messages = Vec::new();
    for seq in info.state.first_sequence..=info.state.last_sequence {
        if info.state.messages == 0 {
            break;
        }
        let message = stream.get_raw_message(seq).await.unwrap();
        let header = |name: &str| {
            message
                .headers
                .get(name)
                .map(|value| value.as_str().to_owned())
        };
        messages.push(Stored {
            subject: message.subject.to_string(),
            event_id: header("ce-id").unwrap_or_default(),
            msg_id: header("Nats-Msg-Id").unwrap_or_default(),
            stream_id: header("ce-subject").unwrap_or_default(),
            sequence: header("ce-sequence")
                .and_then(|s| s.parse().ok())
                .unwrap_or(0),
            traceparent: header("traceparent"),
            headers: message.headers.clone(),
        });
    }
    messages
}

/// How many messages `stream` holds.
pub async fn stream_len(jetstream: &async_nats::jetstream::Context, stream: &str) -> u64 {
    match jetstream.get_stream(stream).await {
        Ok(stream) => stream
            .get_info()
            .await
            .map(|info| info.state.messages)
            .unwrap_or(0),
        Err(_) => 0,
    }
}

/// A nats-server of the test's own, on a free port, that the test can stop and
/// start again with the same JetStream store.
pub struct PrivateNats {
    pub port: u16,
    store: std::path::PathBuf,
    child: Option<std::process::Child>,
}

impl PrivateNats {
    pub async fn start(name: &str) -> Self {
        let mut nats = Self::reserve(name);
        nats.resume().await;
        nats
    }

    /// Picks a free port and a store, without starting the server yet.
    pub fn reserve(name: &str) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let store = std::env::temp_dir().join(format!("lienlac-nats-{name}"));
        Self {
            port,
            store,
            child: None,
        }
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    fn binary() -> String {
        if let Ok(path) = std::env::var("LIENLAC_NATS_SERVER_BIN") {
            return path;
        }
        for candidate in [
            "/usr/sbin/nats-server",
            "/usr/bin/nats-server",
            "/usr/local/bin/nats-server",
        ] {
            if std::path::Path::new(candidate).exists() {
                return candidate.to_owned();
            }
        }
        "nats-server".to_owned()
    }

    /// Starts the server (again) and waits until it accepts connections.
    pub async fn resume(&mut self) {
        let child = std::process::Command::new(Self::binary())
            .args([
                "-a",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-js",
                "-sd",
            ])
            .arg(&self.store)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("nats-server runs (deploy/local/stack.sh up installs it)");
        self.child = Some(child);
        for _ in 0..200 {
            if tokio::net::TcpStream::connect(("127.0.0.1", self.port))
                .await
                .is_ok()
            {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
        panic!("private nats-server did not start on port {}", self.port);
    }

    /// Stops the server the way an operator would (SIGTERM) and waits for it.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = std::process::Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
            let _ = child.wait();
        }
    }
}

impl Drop for PrivateNats {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.store);
    }
}
