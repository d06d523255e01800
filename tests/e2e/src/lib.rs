//! End-to-end tests live in `tests/`: identity, attendance and reporting running
//! together against the real Postgres and NATS, checked through their public gRPC
//! APIs and the published events only.
