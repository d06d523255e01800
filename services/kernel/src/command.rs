//! Running a command idempotently: the client's `request_id`, the command's writes
//! and its answer commit in one transaction, and a retry gets the first answer.

use futures::future::BoxFuture;
use serde::{Serialize, de::DeserializeOwned};
use sqlx::{PgConnection, PgPool};

use crate::event_store::{RequestError, RequestKey, find_request, record_request};

/// Runs `run` in a transaction unless `request` was already answered, in which
/// case that first answer comes back and nothing runs. When a concurrent retry of
/// the same request commits first, its answer is returned.
pub async fn idempotent<T, E, F>(pool: &PgPool, request: &RequestKey, run: F) -> Result<T, E>
where
    T: Serialize + DeserializeOwned,
    E: From<RequestError> + From<sqlx::Error>,
    F: for<'c> FnOnce(&'c mut PgConnection) -> BoxFuture<'c, Result<T, E>>,
{
    let mut tx = pool.begin().await?;
    if let Some(first) = find_request::<T>(&mut tx, request).await? {
        return Ok(first);
    }
    let answer = run(&mut tx).await?;
    match record_request(&mut tx, request, &answer).await {
        Ok(()) => {}
        Err(RequestError::RecordedConcurrently(_)) => {
            drop(tx);
            let mut conn = pool.acquire().await?;
            return find_request::<T>(&mut conn, request)
                .await?
                .ok_or(RequestError::RecordedConcurrently(request.request_id).into());
        }
        Err(error) => return Err(error.into()),
    }
    tx.commit().await?;
    Ok(answer)
}
