//! Watches attendance's stream from outside, as a subscriber would, and tells the
//! tracker each roll call that reaches it. Follows the stream through node
//! losses and quorum losses: when the subscription fails it subscribes again
//! after the last message it saw.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use async_nats::jetstream::{self, consumer::DeliverPolicy, consumer::pull};
use futures::StreamExt as _;

use super::tracker::Tracker;

/// How long the watcher hears nothing, while roll calls wait, before it
/// subscribes again.
const SILENCE: Duration = Duration::from_secs(2);

/// The published type of a roll call's first taking.
const SUBMITTED: &str = "lienlac.attendance.v2.RollCallSubmitted";

/// Attendance's current contract in `namespace`.
pub(super) fn attendance_subjects(namespace: &str) -> String {
    if namespace.is_empty() {
        "lienlac.attendance.v2.>".to_owned()
    } else {
        format!("{namespace}.lienlac.attendance.v2.>")
    }
}

/// Runs until `stop` is set; returns how often it had to subscribe again.
pub(super) async fn watch(
    nats_url: String,
    namespace: String,
    tracker: Arc<Tracker>,
    stop: Arc<AtomicBool>,
) -> anyhow::Result<u64> {
    let client = crate::nats::connect(&nats_url).await?;
    let mut jetstream = jetstream::new(client);
    // Asked of a metadata leader that died, a request waits out its timeout
    // before it is sent again: two seconds, not the client's ten.
    jetstream.set_timeout(Duration::from_secs(2));
    let stream_name = crate::events::stream_name(&namespace, "attendance");
    let mut next_sequence = 1;
    let mut resubscribed = 0;
    while !stop.load(Ordering::Relaxed) {
        match follow(
            &jetstream,
            &stream_name,
            &namespace,
            &mut next_sequence,
            &tracker,
            &stop,
        )
        .await
        {
            Ok(()) => return Ok(resubscribed),
            Err(_) => {
                resubscribed += 1;
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        }
    }
    Ok(resubscribed)
}

async fn follow(
    jetstream: &jetstream::Context,
    stream_name: &str,
    namespace: &str,
    next_sequence: &mut u64,
    tracker: &Tracker,
    stop: &AtomicBool,
) -> anyhow::Result<()> {
    let stream = jetstream.get_stream(stream_name).await?;
    let consumer = stream
        .create_consumer(pull::OrderedConfig {
            filter_subject: attendance_subjects(namespace),
            deliver_policy: DeliverPolicy::ByStartSequence {
                start_sequence: *next_sequence,
            },
            ..Default::default()
        })
        .await?;
    let mut messages = consumer.messages().await?;
    let mut heard = Instant::now();
    loop {
        if stop.load(Ordering::Relaxed) {
            return Ok(());
        }
        let message = match tokio::time::timeout(Duration::from_millis(500), messages.next()).await
        {
            // Silence while acknowledged roll calls wait may be this
            // subscription's own trouble (its node died): subscribe again
            // rather than count it against the system.
            Err(_) if heard.elapsed() > SILENCE && tracker.publication_lag() > SILENCE => {
                anyhow::bail!("nothing heard while roll calls wait")
            }
            Err(_) => continue,
            Ok(None) => anyhow::bail!("the subscription ended"),
            Ok(Some(message)) => message?,
        };
        heard = Instant::now();
        let info = message.info().map_err(|error| anyhow::anyhow!("{error}"))?;
        *next_sequence = info.stream_sequence + 1;
        let stored_at = info.published;
        let header = |name: &str| crate::events::header(&message, name);
        if header("ce-type").as_deref() == Some(SUBMITTED)
            && let Some(stream_id) = header("ce-subject")
        {
            tracker.published(stream_id, stored_at);
        }
    }
}
