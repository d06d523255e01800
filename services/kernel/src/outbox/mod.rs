//! From the event store to JetStream: stream provisioning, the CloudEvents form of
//! an event on the wire, and the relay that publishes in commit order.

mod cloudevents;
mod relay;
mod streams;

pub use cloudevents::{CloudEventHeaders, NO_SCHOOL, event_subject, header};
pub use relay::{EarlierContract, Relay, RelayConfig};
pub use streams::ensure_stream;
