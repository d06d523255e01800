//! A conversation's whole record for a complaint: every message, deleted ones and
//! the earlier texts of edited ones included, for the principal of its school and
//! the district's administrators; each export recorded in `conversation_exports`.

use kernel::auth::{Caller, Role};
use kernel::error::{AppError, AppResult};
use lienlac_proto::messaging::v1 as pb;
use time::OffsetDateTime;
use uuid::Uuid;

use super::access;
use crate::Ctx;

/// Who exports a conversation's record.
const EXPORTERS: &[Role] = &[Role::Principal, Role::DistrictAdmin];

#[derive(sqlx::FromRow, serde::Serialize)]
struct Recorded {
    id: Uuid,
    seq: i64,
    author_account_id: Uuid,
    author_person_id: Option<Uuid>,
    body: String,
    reply_to: Option<Uuid>,
    #[serde(with = "time::serde::rfc3339")]
    posted_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    edited_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    deleted_at: Option<OffsetDateTime>,
    deleted_by: Option<Uuid>,
    #[sqlx(skip)]
    edits: Vec<Edit>,
}

#[derive(sqlx::FromRow, serde::Serialize)]
struct Edit {
    #[serde(skip)]
    message_id: Uuid,
    #[serde(with = "time::serde::rfc3339")]
    edited_at: OffsetDateTime,
    previous_body: String,
}

pub(crate) async fn export(
    ctx: &Ctx,
    caller: &Caller,
    conversation: Uuid,
    reason: String,
) -> AppResult<pb::ConversationExport> {
    let mut tx = ctx.pool.begin().await?;
    let place = access::find(&mut tx, conversation)
        .await?
        .ok_or(AppError::NotFound("conversation"))?;
    if !caller.holds(EXPORTERS, &place.school()) {
        return Err(tonic::Status::permission_denied(
            "the principal of the school and the district's administrators export a conversation's record",
        )
        .into());
    }
    let mut messages: Vec<Recorded> = sqlx::query_as(
        "SELECT id, seq, author_account_id, author_person_id, body, reply_to, posted_at, edited_at, \
         deleted_at, deleted_by FROM messages WHERE conversation_id = $1 ORDER BY seq",
    )
    .bind(conversation)
    .fetch_all(&mut *tx)
    .await?;
    let ids: Vec<Uuid> = messages.iter().map(|m| m.id).collect();
    let edits: Vec<Edit> = sqlx::query_as(
        "SELECT message_id, edited_at, previous_body FROM message_edits \
         WHERE message_id = ANY($1) ORDER BY edited_at",
    )
    .bind(&ids)
    .fetch_all(&mut *tx)
    .await?;
    for edit in edits {
        if let Some(message) = messages.iter_mut().find(|m| m.id == edit.message_id) {
            message.edits.push(edit);
        }
    }
    let participants: Vec<Uuid> = sqlx::query_scalar(
        "SELECT unnest(ARRAY[person_a, person_b]) FROM direct_threads WHERE id = $1",
    )
    .bind(conversation)
    .fetch_all(&mut *tx)
    .await?;
    let exported_at: OffsetDateTime = sqlx::query_scalar(
        "INSERT INTO conversation_exports (conversation_id, account_id, person_id, reason, messages) \
         VALUES ($1, $2, $3, $4, $5) RETURNING exported_at",
    )
    .bind(conversation)
    .bind(caller.account_id)
    .bind(caller.person_id)
    .bind(&reason)
    .bind(messages.len() as i64)
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    tracing::info!(conversation = %conversation, messages = messages.len(), "conversation record exported");
    let document = serde_json::json!({
        "conversation": {
            "id": conversation,
            "kind": place.kind.as_str_name(),
            "school_id": place.school_id,
            "class_id": place.class_id,
            "participant_ids": participants,
        },
        "messages": messages,
        "exported_at": kernel::dates::rfc3339(exported_at),
        "exported_by": caller.account_id,
        "reason": reason,
    });
    Ok(pb::ConversationExport {
        file_name: format!("hoi-thoai-{conversation}-{}.json", exported_at.date()),
        document_json: serde_json::to_string_pretty(&document)
            .map_err(|error| AppError::Unexpected(error.into()))?,
    })
}
