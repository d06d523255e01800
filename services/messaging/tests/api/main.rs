//! The messaging service against identity, Postgres and NATS, through its gRPC API.

#![allow(clippy::unwrap_used, unreachable_pub)] // a test fails by panicking; its helpers are shared by its modules

mod access;
mod announcements;
mod attachments;
mod bulletins;
mod conversations;
mod helpers;
mod live;
mod posts;
mod rebuild;
mod s3;
mod surveys;
