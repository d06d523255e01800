//! How many live streams one account holds on a replica: a phone, a tablet and a
//! browser, with room for a reconnect that overlaps the stream it replaces. An
//! account asking for more is refused, so one stolen session cannot tie up the
//! replica's connections and queries.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use uuid::Uuid;

pub(crate) const MAX_PER_ACCOUNT: usize = 5;

/// The open streams of each account.
#[derive(Default)]
pub(crate) struct Streams(Mutex<HashMap<Uuid, usize>>);

/// One admitted stream; dropping it (the stream ended) frees its place.
pub(crate) struct Slot {
    streams: Arc<Streams>,
    account: Uuid,
}

impl Streams {
    /// A place for one more stream of `account`, unless it holds the most already.
    pub(crate) fn admit(self: &Arc<Self>, account: Uuid) -> Option<Slot> {
        let mut open = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let count = open.entry(account).or_default();
        if *count >= MAX_PER_ACCOUNT {
            return None;
        }
        *count += 1;
        Some(Slot {
            streams: Arc::clone(self),
            account,
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = self
            .streams
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = open.get_mut(&self.account) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.account);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_account_holds_at_most_five_streams_and_a_closed_one_frees_its_place() {
        let streams = Arc::new(Streams::default());
        let (parent, other) = (Uuid::now_v7(), Uuid::now_v7());
        let mut held: Vec<Slot> = (0..MAX_PER_ACCOUNT)
            .map(|_| streams.admit(parent).expect("within the limit"))
            .collect();
        assert!(streams.admit(parent).is_none(), "one too many");
        assert!(
            streams.admit(other).is_some(),
            "another account is not held back"
        );
        held.pop();
        assert!(
            streams.admit(parent).is_some(),
            "a closed stream's place is free"
        );
        drop(held);
        assert!(streams.0.lock().unwrap().is_empty(), "every place freed");
    }
}
