//! The publishing service's JetStream stream, declared at start-up from configuration
//! so that tests and production agree.

use anyhow::Context as _;
use async_nats::jetstream::{self, stream};

use crate::config::KernelConfig;

/// Creates the stream, or updates it to the configured limits.
pub async fn ensure_stream(
    jetstream: &jetstream::Context,
    config: &KernelConfig,
) -> anyhow::Result<stream::Info> {
    let name = config.stream_name();
    let stream_config = stream::Config {
        name: name.clone(),
        subjects: vec![format!("{}.>", config.subject_root())],
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
    jetstream
        .create_or_update_stream(stream_config)
        .await
        .with_context(|| format!("creating or updating stream {name}"))
}
