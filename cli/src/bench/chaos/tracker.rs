//! What the load saw acknowledged and what the watcher saw published, and the
//! two measures of health taken from them while faults strike: whether roll
//! calls are accepted, and how long an acknowledged one waits to be published.
//!
//! Publication is timed twice: when the watcher heard it (live, to know when to
//! move on) and when JetStream stored it (its own timestamp, afterwards, for the
//! figures), so that the watcher's own reconnections after a node's loss are
//! not counted against the system.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use time::OffsetDateTime;

pub(super) struct Tracker {
    state: Mutex<State>,
    /// The same moment on both clocks, to read JetStream's timestamps as instants
    /// (the suite runs on the servers' machine).
    anchor: (Instant, OffsetDateTime),
}

impl Default for Tracker {
    fn default() -> Self {
        Self {
            state: Mutex::default(),
            anchor: (Instant::now(), OffsetDateTime::now_utc()),
        }
    }
}

#[derive(Default)]
struct State {
    /// Each acknowledged roll call's event stream
    /// (`roll_call:<class>:<date>:SESSION_MORNING`), with its first acknowledgement.
    acknowledged: HashMap<String, Instant>,
    /// Acknowledged and not yet heard on JetStream, with when it was acknowledged.
    unpublished: HashMap<String, Instant>,
    /// Heard on JetStream (perhaps before its acknowledgement reached the load).
    published: HashSet<String>,
    /// When JetStream stored each published roll call.
    stored: HashMap<String, Instant>,
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
        // A retry answered again has waited since its first answer.
        if !state.published.contains(&stream_id) {
            state
                .unpublished
                .entry(stream_id.clone())
                .or_insert(answered);
        }
        state.acknowledged.entry(stream_id).or_insert(answered);
    }

    /// `stream_id` heard on JetStream, which stored it at `stored_at`.
    pub(super) fn published(&self, stream_id: String, stored_at: OffsetDateTime) {
        let (instant, wall) = self.anchor;
        let offset = stored_at - wall;
        let stored = if offset.is_negative() {
            instant.checked_sub(offset.unsigned_abs())
        } else {
            instant.checked_add(offset.unsigned_abs())
        }
        .unwrap_or(instant);
        let mut state = self.state();
        state.unpublished.remove(&stream_id);
        state.stored.entry(stream_id.clone()).or_insert(stored);
        state.published.insert(stream_id);
    }

    /// The first moment from `from` after which, for `steady`, no acknowledged
    /// roll call had waited longer than `lag_goal` to be stored on JetStream;
    /// None while one is still unpublished.
    pub(super) fn published_steadily_since(
        &self,
        from: Instant,
        lag_goal: Duration,
        steady: Duration,
    ) -> Option<Instant> {
        let state = self.state();
        let late = state.acknowledged.iter().map(|(stream_id, acknowledged)| {
            (
                *acknowledged + lag_goal,
                state.stored.get(stream_id).copied(),
            )
        });
        first_steady(late, from, steady)
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
        self.state().acknowledged.keys().cloned().collect()
    }

    pub(super) fn unpublished(&self) -> usize {
        self.state().unpublished.len()
    }
}

/// The first moment from `from` that begins `steady` clear of every late
/// interval (from when a roll call became late until it was stored; an unstored
/// one stays late): None when an unstored one is late by then.
fn first_steady(
    late: impl Iterator<Item = (Instant, Option<Instant>)>,
    from: Instant,
    steady: Duration,
) -> Option<Instant> {
    let mut late: Vec<(Instant, Option<Instant>)> = late
        .filter(|(since, until)| until.is_none_or(|until| until > *since && until > from))
        .collect();
    late.sort_by_key(|(since, _)| *since);
    let mut clear_from = from;
    for (since, until) in late {
        if since >= clear_from + steady {
            break;
        }
        clear_from = clear_from.max(until?);
    }
    Some(clear_from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_roll_call_seen_published_before_its_acknowledgement_never_counts_as_waiting() {
        let tracker = Tracker::default();
        let stored = OffsetDateTime::now_utc();
        tracker.published("roll_call:a".into(), stored);
        let now = Instant::now();
        tracker.acknowledged("roll_call:a".into(), now, now);
        assert_eq!(tracker.unpublished(), 0);
        tracker.acknowledged("roll_call:b".into(), now, now);
        assert_eq!(tracker.unpublished(), 1);
        tracker.published("roll_call:b".into(), stored);
        assert_eq!(tracker.publication_lag(), Duration::ZERO);
    }

    #[test]
    fn a_roll_call_answered_twice_waits_from_its_first_answer() {
        let tracker = Tracker::default();
        let now = Instant::now();
        tracker.acknowledged("a".into(), now, now - Duration::from_secs(3));
        tracker.acknowledged("a".into(), now, now);
        assert!(tracker.publication_lag() >= Duration::from_secs(3));
    }

    #[test]
    fn steadiness_begins_after_the_last_late_roll_call_is_stored() {
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let steady = Duration::from_millis(1000);
        // (case, late spells in ms as (since, stored), the moment, steady from)
        type Case = (&'static str, Vec<(u64, Option<u64>)>, u64, Option<u64>);
        let cases: [Case; 7] = [
            ("nothing late", vec![], 100, Some(100)),
            (
                "late before the moment",
                vec![(0, Some(50))],
                100,
                Some(100),
            ),
            (
                "stored before it was late",
                vec![(300, Some(200))],
                100,
                Some(100),
            ),
            (
                "late across the moment",
                vec![(0, Some(400))],
                100,
                Some(400),
            ),
            (
                "two late spells within the steady time",
                vec![(200, Some(600)), (1200, Some(1500))],
                100,
                Some(1500),
            ),
            (
                "a late spell after the steady time",
                vec![(200, Some(600)), (1700, Some(1900))],
                100,
                Some(600),
            ),
            (
                "still unstored",
                vec![(200, Some(600)), (900, None)],
                100,
                None,
            ),
        ];
        for (case, late, from, expected) in cases {
            let late = late
                .into_iter()
                .map(|(since, until)| (at(since), until.map(at)));
            assert_eq!(
                first_steady(late, at(from), steady),
                expected.map(at),
                "{case}"
            );
        }
    }

    #[test]
    fn stored_times_are_read_on_the_suites_clock() {
        let tracker = Tracker::default();
        let (instant, wall) = tracker.anchor;
        let now = Instant::now();
        tracker.acknowledged("a".into(), now, instant);
        tracker.published("a".into(), wall + time::Duration::milliseconds(2500));
        let goal = Duration::from_secs(1);
        assert_eq!(
            tracker.published_steadily_since(instant, goal, Duration::from_secs(5)),
            Some(instant + Duration::from_millis(2500))
        );
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
