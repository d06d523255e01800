//! Which NATS node leads attendance's stream, asked every quarter second while
//! faults strike. Until a stream has a leader nothing can be published to it,
//! and nats-server's followers wait 4 to 9 s after they last heard a lost
//! leader before they elect another: each NATS fault's figures say how long the
//! stream was leaderless, beside how long the system took to recover.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_nats::jetstream;

const EVERY: Duration = Duration::from_millis(250);

#[derive(Default)]
pub(super) struct Leaders {
    /// Each answer (or its absence): when it was asked, and the leader's name.
    samples: Mutex<Vec<(Instant, Option<String>)>>,
}

impl Leaders {
    fn record(&self, at: Instant, leader: Option<String>) {
        self.samples
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push((at, leader));
    }

    /// The leader last known at `at`.
    pub(super) fn leader_at(&self, at: Instant) -> Option<String> {
        let samples = self
            .samples
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        samples
            .iter()
            .take_while(|(asked, _)| *asked <= at)
            .last()
            .and_then(|(_, leader)| leader.clone())
    }

    /// How long, between `from` and `to`, the stream was known to have no leader
    /// (or its nodes did not answer).
    pub(super) fn leaderless(&self, from: Instant, to: Instant) -> Duration {
        let samples = self
            .samples
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        leaderless(&samples, from, to)
    }
}

/// Each sample holds until the next one.
fn leaderless(samples: &[(Instant, Option<String>)], from: Instant, to: Instant) -> Duration {
    let ends = samples.iter().skip(1).map(|(at, _)| *at).chain([to]);
    samples
        .iter()
        .zip(ends)
        .filter(|((_, leader), _)| leader.is_none())
        .map(|((start, _), end)| end.min(to).saturating_duration_since((*start).max(from)))
        .sum()
}

/// Asks until `stop` is set; returns the version of the first node it asked.
pub(super) async fn watch(
    nats_url: String,
    namespace: String,
    leaders: Arc<Leaders>,
    stop: Arc<AtomicBool>,
) -> anyhow::Result<String> {
    let client = crate::nats::connect(&nats_url).await?;
    let version = client.server_info().version;
    let mut jetstream = jetstream::new(client);
    jetstream.set_timeout(Duration::from_secs(1));
    let stream_name = crate::events::stream_name(&namespace, "attendance");
    while !stop.load(Ordering::Relaxed) {
        let asked = Instant::now();
        let leader = match jetstream.get_stream(&stream_name).await {
            Ok(stream) => stream
                .cached_info()
                .cluster
                .as_ref()
                .and_then(|cluster| cluster.leader.clone())
                .filter(|leader| !leader.is_empty()),
            Err(_) => None,
        };
        leaders.record(asked, leader);
        tokio::time::sleep(EVERY.saturating_sub(asked.elapsed())).await;
    }
    Ok(version)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leaderless_time_adds_the_spells_without_a_leader_within_the_window() {
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let leader = |name: &str| Some(name.to_owned());
        let samples = vec![
            (at(0), leader("n1")),
            (at(1000), None),
            (at(2000), None),
            (at(3000), leader("n2")),
            (at(4000), None),
        ];
        let ms = |from, to| leaderless(&samples, at(from), at(to)).as_millis();
        assert_eq!(ms(0, 5000), 3000);
        assert_eq!(ms(1500, 3500), 1500);
        assert_eq!(ms(0, 900), 0);
        assert_eq!(ms(4500, 4800), 300);

        let leaders = Leaders::default();
        for (asked, leader) in samples {
            leaders.record(asked, leader);
        }
        assert_eq!(leaders.leader_at(at(500)).as_deref(), Some("n1"));
        assert_eq!(leaders.leader_at(at(2500)), None);
        assert_eq!(leaders.leader_at(at(3999)).as_deref(), Some("n2"));
    }
}
