//! The consumers' projections: identity's events into the directory read model,
//! attendance's into the attendance read model, sync's into the transfers read
//! model. Each writes unqualified table
//! names; its pool's `search_path` points at its generation's schema.

mod attendance;
mod directory;
mod transfers;

pub(crate) use attendance::AttendanceProjection;
pub(crate) use directory::DirectoryProjection;
pub(crate) use transfers::TransfersProjection;
