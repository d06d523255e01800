//! The identity service over gRPC against real Postgres and NATS: one test binary.

#![allow(clippy::unwrap_used)] // test helpers fail the test by panicking
#![allow(unreachable_pub)] // helpers are shared between the test modules

mod access;
mod accounts;
mod administration;
mod directory;
mod events;
mod helpers;
mod members;
mod mirror;
mod operator;
mod privacy;
mod rebuild;
mod service_tokens;
mod throttle;
mod tokens;
