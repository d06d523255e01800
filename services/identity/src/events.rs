//! Identity's event streams, and appending to them.

use kernel::event_store::{EventMeta, append_message};
use serde::Serialize;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::error::AppResult;

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

/// Appends `event` to `stream_id` (see [`kernel::event_store::append_message`]).
pub(crate) async fn emit<E>(
    conn: &mut PgConnection,
    stream_id: &str,
    meta: &EventMeta,
    event: &E,
) -> AppResult<()>
where
    E: prost::Message + prost::Name + Serialize,
{
    append_message(conn, stream_id, meta, event).await?;
    Ok(())
}
