//! Idempotent commands: the first answer to a caller's `request_id` is recorded in
//! the command's transaction, and a retry gets that answer back. A record belongs
//! to its caller and remembers a fingerprint of the request, so another caller's
//! request never receives it and the same id with a different request is refused.

use serde::{Serialize, de::DeserializeOwned};
use sha2::{Digest as _, Sha256};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::auth::Caller;

/// What makes a request the same request: its caller, the id they chose, the
/// command, and a SHA-256 of the whole request message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestKey {
    pub caller: Uuid,
    pub request_id: Uuid,
    pub command: &'static str,
    pub fingerprint: [u8; 32],
}

impl RequestKey {
    /// The key of `request`, a protobuf request message (`FooRequest` is the
    /// command `Foo`). Its encoding is deterministic: maps are ordered (proto's
    /// build.rs).
    pub fn new<R: prost::Message + prost::Name>(
        caller: &Caller,
        request_id: Uuid,
        request: &R,
    ) -> Self {
        Self {
            caller: caller.account_id,
            request_id,
            command: R::NAME.strip_suffix("Request").unwrap_or(R::NAME),
            fingerprint: Sha256::digest(request.encode_to_vec()).into(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    /// The id was first used for another command: a client bug, INVALID_ARGUMENT.
    #[error("request_id {request_id} was already used for {first_command}")]
    ReusedForAnotherCommand {
        request_id: Uuid,
        first_command: String,
    },
    /// The id was first used with different content: a client bug, INVALID_ARGUMENT.
    #[error(
        "request_id {0} was already used for a different request; a retry must repeat the request unchanged"
    )]
    ReusedForAnotherRequest(Uuid),
    /// A concurrent retry recorded the id first; the caller rolls back and asks again.
    #[error("request_id {0} is being recorded by a concurrent retry")]
    RecordedConcurrently(Uuid),
    #[error("stored answer cannot be read back: {0}")]
    Decode(#[from] serde_json::Error),
    #[error("request ids: {0}")]
    Database(#[from] sqlx::Error),
}

/// The answer first given to `key`'s caller and request id, if there was one.
pub async fn find_request<T: DeserializeOwned>(
    conn: &mut PgConnection,
    key: &RequestKey,
) -> Result<Option<T>, RequestError> {
    let row: Option<(String, Option<Vec<u8>>, serde_json::Value)> = sqlx::query_as(
        "SELECT command, fingerprint, response FROM requests WHERE caller = $1 AND request_id = $2",
    )
    .bind(key.caller)
    .bind(key.request_id)
    .fetch_optional(conn)
    .await?;
    match row {
        None => Ok(None),
        Some((first_command, _, _)) if first_command != key.command => {
            Err(RequestError::ReusedForAnotherCommand {
                request_id: key.request_id,
                first_command,
            })
        }
        Some((_, fingerprint, _)) if fingerprint.as_deref() != Some(key.fingerprint.as_slice()) => {
            Err(RequestError::ReusedForAnotherRequest(key.request_id))
        }
        Some((_, _, response)) => Ok(Some(serde_json::from_value(response)?)),
    }
}

/// Records the answer to `key` in the caller's transaction.
pub async fn record_request<T: Serialize>(
    conn: &mut PgConnection,
    key: &RequestKey,
    response: &T,
) -> Result<(), RequestError> {
    let response = serde_json::to_value(response)?;
    sqlx::query(
        "INSERT INTO requests (caller, request_id, command, fingerprint, response) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(key.caller)
    .bind(key.request_id)
    .bind(key.command)
    .bind(key.fingerprint.as_slice())
    .bind(response)
    .execute(conn)
    .await
    .map_err(|error| {
        if crate::db::has_sqlstate(&error, &["23505"]) {
            RequestError::RecordedConcurrently(key.request_id)
        } else {
            RequestError::Database(error)
        }
    })?;
    Ok(())
}
