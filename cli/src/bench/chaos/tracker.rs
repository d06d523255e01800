//! What the load saw acknowledged and what the watcher saw published, and the
//! two measures of health taken from them while faults strike: whether roll
//! calls are accepted, and how long an acknowledged one waits to be published.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Default)]
pub(super) struct Tracker {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// Each acknowledged roll call's event stream (`roll_call:<class>:<date>:SESSION_MORNING`).
    acknowledged: HashSet<String>,
    /// Acknowledged and not yet seen on JetStream, with when it was acknowledged.
    unpublished: HashMap<String, Instant>,
    /// Seen on JetStream (perhaps before its acknowledgement reached the load).
    published: HashSet<String>,
    /// Each acknowledgement: when the attempt that got it was sent, and when it came.
    answers: Vec<(Instant, Instant)>,
}

impl Tracker {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // A panicking holder leaves nothing half-written worth refusing.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(super) fn acknowledged(&self, stream_id: String, sent: Instant, answered: Instant) {
        let mut state = self.state();
        state.answers.push((sent, answered));
        if !state.published.contains(&stream_id) {
            state.unpublished.insert(stream_id.clone(), answered);
        }
        state.acknowledged.insert(stream_id);
    }

    pub(super) fn published(&self, stream_id: String) {
        let mut state = self.state();
        state.unpublished.remove(&stream_id);
        state.published.insert(stream_id);
    }

    /// How long the oldest acknowledged roll call not yet on JetStream has waited.
    pub(super) fn publication_lag(&self) -> Duration {
        self.state()
            .unpublished
            .values()
            .min()
            .map_or(Duration::ZERO, Instant::elapsed)
    }

    /// When the first acknowledgement of an attempt sent at or after `since` came.
    pub(super) fn accepted_since(&self, since: Instant) -> Option<Instant> {
        self.state()
            .answers
            .iter()
            .filter(|(sent, _)| *sent >= since)
            .map(|(_, answered)| *answered)
            .min()
    }

    /// The longest time between `from` and `to` without an acknowledgement.
    pub(super) fn longest_silence(&self, from: Instant, to: Instant) -> Duration {
        let mut answered: Vec<Instant> = self
            .state()
            .answers
            .iter()
            .map(|(_, answered)| *answered)
            .filter(|answered| (from..=to).contains(answered))
            .collect();
        answered.sort();
        let mut last = from;
        let mut longest = Duration::ZERO;
        for at in answered.into_iter().chain([to]) {
            longest = longest.max(at.saturating_duration_since(last));
            last = at;
        }
        longest
    }

    pub(super) fn acknowledged_streams(&self) -> Vec<String> {
        self.state().acknowledged.iter().cloned().collect()
    }

    pub(super) fn unpublished(&self) -> usize {
        self.state().unpublished.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_roll_call_seen_published_before_its_acknowledgement_never_counts_as_waiting() {
        let tracker = Tracker::default();
        tracker.published("roll_call:a".into());
        let now = Instant::now();
        tracker.acknowledged("roll_call:a".into(), now, now);
        assert_eq!(tracker.unpublished(), 0);
        tracker.acknowledged("roll_call:b".into(), now, now);
        assert_eq!(tracker.unpublished(), 1);
        tracker.published("roll_call:b".into());
        assert_eq!(tracker.publication_lag(), Duration::ZERO);
    }

    #[test]
    fn acceptance_resumes_with_the_first_answer_to_an_attempt_sent_after_the_moment() {
        let tracker = Tracker::default();
        let t0 = Instant::now();
        let at = |ms| t0 + Duration::from_millis(ms);
        tracker.acknowledged("a".into(), at(0), at(900));
        tracker.acknowledged("b".into(), at(500), at(700));
        tracker.acknowledged("c".into(), at(600), at(1200));
        assert_eq!(tracker.accepted_since(at(500)), Some(at(700)));
        assert_eq!(tracker.accepted_since(at(601)), None);
        assert_eq!(
            tracker.longest_silence(at(0), at(2000)),
            Duration::from_millis(800)
        );
        assert_eq!(
            tracker.longest_silence(at(1300), at(1400)),
            Duration::from_millis(100)
        );
    }
}
