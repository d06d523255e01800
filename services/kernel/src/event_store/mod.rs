//! The event store: append-only streams of events in the service's own schema.
//!
//! Every function takes `&mut PgConnection`, so the caller owns the transaction:
//! a command loads its stream, decides, appends and records its request id in one
//! transaction (docs/architecture.md).

mod aggregate;
mod append;
mod read;
mod requests;
mod types;

pub use aggregate::{Aggregate, DomainEvent, LoadError, load};
pub use append::{
    AppendError, AppendReceipt, ExpectedVersion, FirstEvent, append, append_first_events,
};
pub use read::{CommitCursor, read_committed, read_stream, read_visible, stream_version};
pub use requests::{RequestError, RequestKey, find_request, record_request};
pub use types::{EventMeta, NarrowError, NewEvent, PublishedForm, RecordedEvent};
