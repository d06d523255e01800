//! gRPC plumbing shared by every service: a span per RPC, the authentication slot,
//! trace propagation for clients, and the mapping of kernel errors to statuses.

mod auth;
mod check;
mod client;
mod plain_http;
mod status;
mod trace;
mod undecodable;

pub use auth::{AuthLayer, Authenticator};
pub use check::{Check, Violation, invalid_argument, parse_uuid, printable};
pub use client::TracePropagation;
pub use plain_http::PlainHttpLayer;
pub use status::{append_error_status, request_error_status, retry_later, rule_broken};
pub use trace::{GrpcTraceLayer, KnownMethods};

/// The largest request message any service decodes (tonic's default is 4 MiB).
/// Every list in a request has a cap of its own, stated in the .proto files, that
/// keeps a valid request far below it.
pub const MAX_REQUEST_BYTES: usize = 256 * 1024;
