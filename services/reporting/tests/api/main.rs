//! The reporting service over gRPC, beside real identity and attendance services,
//! against real Postgres and NATS: one test binary.

#![allow(clippy::unwrap_used)] // test helpers fail the test by panicking
#![allow(unreachable_pub)] // helpers are shared between the test modules

mod access;
mod consistency;
mod export;
mod figures;
mod helpers;
mod rebuild;
