//! The attendance service over gRPC, beside a real identity service, against real
//! Postgres and NATS: one test binary.

#![allow(clippy::unwrap_used)] // test helpers fail the test by panicking
#![allow(unreachable_pub)] // helpers are shared between the test modules

mod access;
mod calendar;
mod helpers;
mod leaves;
mod rebuild;
mod roll_calls;
