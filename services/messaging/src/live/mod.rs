//! Live delivery to connected apps (`Subscribe`): one feed of the event store per
//! replica (feed.rs), one task per subscriber choosing its updates (subscriber.rs).

mod feed;
mod subscriber;

pub(crate) use feed::Feed;
pub(crate) use subscriber::{decode, subscribe};
