//! Live delivery to connected apps (`Subscribe`): one feed of the event store per
//! replica (feed.rs), one task per subscriber choosing its updates (subscriber.rs),
//! at most a few streams per account (streams.rs).

mod feed;
mod streams;
mod subscriber;

pub(crate) use feed::Feed;
pub(crate) use subscriber::{decode, subscribe};
