//! Idempotent commands: the first answer to a client's `request_id` is recorded in
//! the command's transaction, and a retry gets that answer back.

use serde::{Serialize, de::DeserializeOwned};
use sqlx::PgConnection;
use uuid::Uuid;

#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    /// The id was first used for another command: a client bug, INVALID_ARGUMENT.
    #[error("request_id {request_id} was already used for {first_command}")]
    ReusedForAnotherCommand {
        request_id: Uuid,
        first_command: String,
    },
    /// A concurrent retry recorded the id first; the caller rolls back and asks again.
    #[error("request_id {0} is being recorded by a concurrent retry")]
    RecordedConcurrently(Uuid),
    #[error("stored answer cannot be read back: {0}")]
    Decode(#[from] serde_json::Error),
    #[error("request ids: {0}")]
    Database(#[from] sqlx::Error),
}

/// The answer first given to `request_id` for `command`, if there was one.
pub async fn find_request<T: DeserializeOwned>(
    conn: &mut PgConnection,
    request_id: Uuid,
    command: &str,
) -> Result<Option<T>, RequestError> {
    let row: Option<(String, serde_json::Value)> =
        sqlx::query_as("SELECT command, response FROM requests WHERE request_id = $1")
            .bind(request_id)
            .fetch_optional(conn)
            .await?;
    match row {
        None => Ok(None),
        Some((first_command, _)) if first_command != command => {
            Err(RequestError::ReusedForAnotherCommand {
                request_id,
                first_command,
            })
        }
        Some((_, response)) => Ok(Some(serde_json::from_value(response)?)),
    }
}

/// Records the answer to `request_id` in the caller's transaction.
pub async fn record_request<T: Serialize>(
    conn: &mut PgConnection,
    request_id: Uuid,
    command: &str,
    response: &T,
) -> Result<(), RequestError> {
    let response = serde_json::to_value(response)?;
    sqlx::query("INSERT INTO requests (request_id, command, response) VALUES ($1, $2, $3)")
        .bind(request_id)
        .bind(command)
        .bind(response)
        .execute(conn)
        .await
        .map_err(|error| {
            if crate::db::has_sqlstate(&error, &["23505"]) {
                RequestError::RecordedConcurrently(request_id)
            } else {
                RequestError::Database(error)
            }
        })?;
    Ok(())
}
