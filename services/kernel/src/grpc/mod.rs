//! gRPC plumbing shared by every service: a span per RPC, the authentication slot,
//! trace propagation for clients, and the mapping of kernel errors to statuses.

mod auth;
mod check;
mod client;
mod status;
mod trace;

pub use auth::{AuthLayer, Authenticator};
pub use check::{Check, Violation, invalid_argument, parse_uuid};
pub use client::TracePropagation;
pub use status::{append_error_status, request_error_status};
pub use trace::GrpcTraceLayer;
