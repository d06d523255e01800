//! gRPC adapters: parse and validate the request (bad fields are INVALID_ARGUMENT
//! with details), find the caller, and hand over to the use case.

pub(crate) mod auth;
pub(crate) mod directory;
mod fields;
mod roster;
