//! Appending identity events. Each event is stored as the JSON of its protobuf
//! message and published as the message itself: the .proto is the one definition.

use kernel::event_store::{
    EventMeta, ExpectedVersion, NewEvent, PublishedForm, append, stream_version,
};
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

/// Appends `event` to `stream_id` after its current last version; the caller's
/// row locks keep two commands on one record apart, and the store's version check
/// turns a race it did not foresee into ABORTED.
pub(crate) async fn emit<E>(
    conn: &mut PgConnection,
    stream_id: &str,
    meta: &EventMeta,
    event: &E,
) -> AppResult<()>
where
    E: prost::Message + prost::Name + Serialize,
{
    let version = stream_version(conn, stream_id).await?;
    let stored = NewEvent::new(E::NAME, 1, event)
        .map_err(anyhow::Error::from)?
        .published_as(PublishedForm::encode(event));
    append(
        conn,
        stream_id,
        ExpectedVersion::from_loaded(version),
        &[stored],
        meta,
    )
    .await?;
    Ok(())
}
