//! Appending protobuf messages as events: stored as the JSON of the message and
//! published as the message itself, so the .proto stays the one definition.

use serde::Serialize;
use sqlx::PgConnection;

use super::append::{AppendError, AppendReceipt, ExpectedVersion, append};
use super::read::stream_version;
use super::types::{EventMeta, NewEvent};

/// Appends `message` to `stream_id` after the stream's current last version. For
/// commands whose row locks already keep two writers of one stream apart; a race
/// they did not foresee still ends in [`AppendError::Conflict`].
pub async fn append_message<M>(
    conn: &mut PgConnection,
    stream_id: &str,
    meta: &EventMeta,
    message: &M,
) -> Result<AppendReceipt, AppendError>
where
    M: prost::Message + prost::Name + Serialize,
{
    let version = stream_version(conn, stream_id).await?;
    let event = NewEvent::from_message(message)?;
    append(
        conn,
        stream_id,
        ExpectedVersion::from_loaded(version),
        &[event],
        meta,
    )
    .await
}
