//! Identity's event streams, and appending to them.

use kernel::event_store::{AppendError, EventMeta, ExpectedVersion, NewEvent, stream_version};
use kernel::write_model::{WriteError, append_and_project};
use serde::Serialize;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::write_model::IdentityTables;

/// Stream ids: one stream per district, school, class, person and account.
pub(crate) fn district_stream(id: Uuid) -> String {
    format!("district:{id}")
}

pub(crate) fn school_stream(id: Uuid) -> String {
    format!("school:{id}")
}

pub(crate) fn class_stream(id: Uuid) -> String {
    format!("class:{id}")
}

pub(crate) fn person_stream(id: Uuid) -> String {
    format!("person:{id}")
}

pub(crate) fn account_stream(id: Uuid) -> String {
    format!("account:{id}")
}

/// Appends `event` to `stream_id` after the stream's current last version and
/// projects it into the directory (`write_model.rs`). For commands whose row locks
/// already keep two writers of one stream apart; a race they did not foresee still
/// ends in a version conflict.
pub(crate) async fn emit<E>(
    conn: &mut PgConnection,
    stream_id: &str,
    meta: &EventMeta,
    event: &E,
) -> Result<(), WriteError>
where
    E: prost::Message + prost::Name + Serialize,
{
    let version = stream_version(conn, stream_id)
        .await
        .map_err(AppendError::from)?;
    let event = NewEvent::from_message(event).map_err(AppendError::from)?;
    append_and_project(
        conn,
        &IdentityTables,
        stream_id,
        ExpectedVersion::from_loaded(version),
        &[event],
        meta,
    )
    .await?;
    Ok(())
}
