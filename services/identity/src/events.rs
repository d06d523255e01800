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
/// projects it into identity's tables (`write_model.rs`). For commands whose row
/// locks already keep two writers of one stream apart; a race they did not
/// foresee still ends in a version conflict.
pub(crate) async fn emit<E>(
    conn: &mut PgConnection,
    stream_id: &str,
    meta: &EventMeta,
    event: &E,
) -> Result<(), WriteError>
where
    E: prost::Message + prost::Name + Serialize,
{
    record(
        conn,
        stream_id,
        meta,
        NewEvent::from_message(event).map_err(AppendError::from)?,
    )
    .await
}

/// [`emit`] for an event built by hand: one that keeps more than it publishes, or
/// one that stays inside identity.
pub(crate) async fn record(
    conn: &mut PgConnection,
    stream_id: &str,
    meta: &EventMeta,
    event: NewEvent,
) -> Result<(), WriteError> {
    let version = stream_version(conn, stream_id)
        .await
        .map_err(AppendError::from)?;
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

/// Events identity stores and never publishes.
pub(crate) mod internal {
    use serde::{Deserialize, Serialize};

    /// The platform operator's account, created at first start.
    pub(crate) const OPERATOR_ACCOUNT_CREATED: &str = "OperatorAccountCreated";
    /// An account given a new activation code: issued again, its password gone.
    pub(crate) const ACTIVATION_REISSUED: &str = "ActivationReissued";

    #[derive(Debug, Serialize, Deserialize)]
    pub(crate) struct OperatorAccountCreated {
        pub(crate) account_id: String,
        pub(crate) username: String,
    }

    #[derive(Debug, Serialize, Deserialize)]
    pub(crate) struct ActivationReissued {
        pub(crate) account_id: String,
    }
}

/// Fields the stored events keep beyond their published form.
pub(crate) mod kept {
    /// AccountIssued: the account's username.
    pub(crate) const USERNAME: &str = "username";
}
