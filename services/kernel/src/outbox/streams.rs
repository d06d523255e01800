//! The publishing service's JetStream stream, declared at start-up from configuration
//! so that tests and production agree.

use std::time::Duration;

use anyhow::Context as _;
use async_nats::jetstream::context::{CreateStreamError, CreateStreamErrorKind};
use async_nats::jetstream::{self, stream};

use crate::config::KernelConfig;

/// Attempts at declaring the stream when the server fails for reasons of its own.
const ATTEMPTS: u32 = 5;

/// Creates the stream, or updates it to the configured limits. A failure of the
/// server's own (a 5xx answer, no answer in time, JetStream not ready yet) is
/// tried again a few times; a refusal of the configuration is not. One such
/// failure is a race in nats-server 2.9: deleting an account's last stream removes
/// the account's empty stream directory, and a stream created at that moment fails
/// with "could not create storage directory".
pub async fn ensure_stream(
    jetstream: &jetstream::Context,
    config: &KernelConfig,
) -> anyhow::Result<stream::Info> {
    let mut backoff =
        crate::retry::Backoff::new(Duration::from_millis(200), Duration::from_secs(2));
    let mut attempt = 1;
    loop {
        match declare(jetstream, config).await {
            Err(error) if attempt < ATTEMPTS && is_servers_own(&error) => {
                let delay = backoff.next_delay();
                tracing::warn!(
                    %error,
                    stream = %config.stream_name(),
                    attempt,
                    retry_in_ms = delay.as_millis() as u64,
                    "declaring the stream failed on the server's side; retrying"
                );
                tokio::time::sleep(delay).await;
                attempt += 1;
            }
            outcome => {
                return outcome.with_context(|| {
                    format!("creating or updating stream {}", config.stream_name())
                });
            }
        }
    }
}

fn is_servers_own(error: &CreateStreamError) -> bool {
    match error.kind() {
        CreateStreamErrorKind::JetStream(error) => error.code() >= 500,
        CreateStreamErrorKind::TimedOut | CreateStreamErrorKind::JetStreamUnavailable => true,
        _ => false,
    }
}

async fn declare(
    jetstream: &jetstream::Context,
    config: &KernelConfig,
) -> Result<stream::Info, CreateStreamError> {
    let stream_config = stream::Config {
        name: config.stream_name(),
        subjects: vec![format!("{}.>", config.subject_prefix())],
        storage: stream::StorageType::File,
        num_replicas: config.stream.replicas,
        max_age: config.stream.max_age,
        duplicate_window: config.stream.duplicate_window,
        description: Some(format!(
            "events published by lienlac {}",
            config.service.name
        )),
        ..Default::default()
    };
    jetstream.create_or_update_stream(stream_config).await
}
