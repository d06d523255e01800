//! The sync service against the city database simulator, a real identity, real
//! Postgres and NATS: one test binary.

#![allow(clippy::unwrap_used)] // test helpers fail the test by panicking
#![allow(unreachable_pub)] // helpers are shared between the test modules

mod helpers;
mod mirror;
mod oneroster;
mod push;
mod term_results;
mod workbook;
