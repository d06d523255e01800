//! Reading conversations: the caller's inbox with unread counts, a conversation's
//! messages (a deleted one as a tombstone), and the reader's own place in each.

use kernel::auth::Caller;
use kernel::error::{AppError, AppResult};
use lienlac_proto::messaging::v1 as pb;
use lienlac_proto::messaging::v1::ConversationKind;
use sqlx::PgConnection;
use time::OffsetDateTime;
use uuid::Uuid;

use super::access;
use crate::{Ctx, attachments, cursor};

fn rfc3339(at: Option<OffsetDateTime>) -> String {
    at.map(kernel::dates::rfc3339).unwrap_or_default()
}

#[derive(sqlx::FromRow)]
struct MessageRow {
    id: Uuid,
    conversation_id: Uuid,
    seq: i64,
    author_account_id: Uuid,
    author_person_id: Option<Uuid>,
    body: String,
    reply_to: Option<Uuid>,
    posted_at: OffsetDateTime,
    edited_at: Option<OffsetDateTime>,
    deleted_at: Option<OffsetDateTime>,
}

const MESSAGE_COLUMNS: &str = "id, conversation_id, seq, author_account_id, author_person_id, body, reply_to, posted_at, edited_at, deleted_at";

impl From<MessageRow> for pb::Message {
    fn from(row: MessageRow) -> Self {
        let deleted = row.deleted_at.is_some();
        pb::Message {
            id: row.id.to_string(),
            conversation_id: row.conversation_id.to_string(),
            seq: row.seq,
            author_account_id: row.author_account_id.to_string(),
            author_person_id: row
                .author_person_id
                .map(|p| p.to_string())
                .unwrap_or_default(),
            // The school keeps a deleted message's text; readers see a tombstone.
            body: if deleted { String::new() } else { row.body },
            reply_to: row.reply_to.map(|r| r.to_string()).unwrap_or_default(),
            posted_at: kernel::dates::rfc3339(row.posted_at),
            edited_at: rfc3339(row.edited_at),
            deleted_at: rfc3339(row.deleted_at),
            attachments: Vec::new(),
            author_display_name: String::new(),
            author_is_staff: false,
        }
    }
}

pub(crate) async fn message(conn: &mut PgConnection, id: Uuid) -> AppResult<pb::Message> {
    let sql = format!("SELECT {MESSAGE_COLUMNS} FROM messages WHERE id = $1");
    let row: MessageRow = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_one(&mut *conn)
        .await?;
    Ok(with_attachments(conn, vec![row.into()]).await?.remove(0))
}

/// The messages with the descriptions of their attachments (none once deleted).
async fn with_attachments(
    conn: &mut PgConnection,
    mut messages: Vec<pb::Message>,
) -> AppResult<Vec<pb::Message>> {
    let ids: Vec<Uuid> = messages
        .iter()
        .filter(|m| m.deleted_at.is_empty())
        .filter_map(|m| m.id.parse().ok())
        .collect();
    for row in attachments::of_messages(conn, &ids).await? {
        let message = row.message_id.map(|id| id.to_string()).unwrap_or_default();
        if let Some(owner) = messages.iter_mut().find(|m| m.id == message) {
            owner.attachments.push(row.into());
        }
    }
    Ok(messages)
}

/// A direct thread, as its participants see it.
pub(crate) async fn conversation(conn: &mut PgConnection, id: Uuid) -> AppResult<pb::Conversation> {
    let (school_id, a, b, last_seq, last_at): (Uuid, Uuid, Uuid, Option<i64>, Option<OffsetDateTime>) =
        sqlx::query_as(
            "SELECT d.school_id, d.person_a, d.person_b, h.last_seq, h.last_message_at \
             FROM direct_threads d LEFT JOIN conversation_heads h ON h.conversation_id = d.id WHERE d.id = $1",
        )
        .bind(id)
        .fetch_one(conn)
        .await?;
    Ok(pb::Conversation {
        id: id.to_string(),
        kind: ConversationKind::Direct as i32,
        school_id: school_id.to_string(),
        class_id: String::new(),
        participant_ids: vec![a.to_string(), b.to_string()],
        last_seq: last_seq.unwrap_or(0),
        last_message_at: rfc3339(last_at),
    })
}

/// The reader has read up to `seq` (never back); answers their place and muting.
pub(crate) async fn advance(
    conn: &mut PgConnection,
    person: Uuid,
    conversation: Uuid,
    seq: i64,
) -> AppResult<(i64, bool)> {
    Ok(sqlx::query_as(
        "INSERT INTO conversation_states (person_id, conversation_id, read_seq) VALUES ($1, $2, $3) \
         ON CONFLICT (person_id, conversation_id) DO UPDATE SET read_seq = greatest(conversation_states.read_seq, excluded.read_seq) \
         RETURNING read_seq, muted",
    )
    .bind(person)
    .bind(conversation)
    .bind(seq)
    .fetch_one(conn)
    .await?)
}

#[derive(sqlx::FromRow)]
struct InboxRow {
    id: Uuid,
    kind: i32,
    school_id: Uuid,
    class_id: Option<Uuid>,
    participants: Option<Vec<Uuid>>,
    last_seq: i64,
    last_message_at: Option<OffsetDateTime>,
    read_seq: i64,
    muted: bool,
    /// The last activity in microseconds since the epoch; the least for a
    /// conversation without messages.
    at: i64,
}

pub(crate) async fn inbox(
    ctx: &Ctx,
    caller: &Caller,
    cursor_text: &str,
    limit: i64,
) -> AppResult<pb::ListInboxResponse> {
    let Some(person) = caller.person_id else {
        return Ok(pb::ListInboxResponse::default());
    };
    let (after_at, after_id) = if cursor_text.is_empty() {
        (i64::MAX, Uuid::max())
    } else {
        cursor::decode(cursor_text)?
    };
    let sql = format!(
        "WITH mine (id, kind, school_id, class_id) AS ({}), \
         page AS ( \
           SELECT m.*, coalesce(h.last_seq, 0) AS last_seq, h.last_message_at, \
                  coalesce((extract(epoch FROM h.last_message_at) * 1000000)::bigint, -9223372036854775808) AS at \
           FROM mine m LEFT JOIN conversation_heads h ON h.conversation_id = m.id) \
         SELECT p.id, p.kind, p.school_id, p.class_id, \
                CASE WHEN p.kind = 3 THEN (SELECT ARRAY[d.person_a, d.person_b] FROM direct_threads d WHERE d.id = p.id) END AS participants, \
                p.last_seq, p.last_message_at, coalesce(s.read_seq, 0) AS read_seq, coalesce(s.muted, false) AS muted, p.at \
         FROM page p LEFT JOIN conversation_states s ON s.person_id = $1 AND s.conversation_id = p.id \
         WHERE (p.at, p.id) < ($3, $4) \
         ORDER BY p.at DESC, p.id DESC LIMIT $5",
        access::MINE
    );
    let rows: Vec<InboxRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(person)
        .bind(access::led_schools(caller))
        .bind(after_at)
        .bind(after_id)
        .bind(limit + 1)
        .fetch_all(&ctx.pool)
        .await?;
    let more = rows.len() as i64 > limit;
    let rows = &rows[..rows.len().min(limit as usize)];
    Ok(pb::ListInboxResponse {
        next_cursor: if more {
            rows.last()
                .map(|row| cursor::encode(row.at, row.id))
                .unwrap_or_default()
        } else {
            String::new()
        },
        entries: rows
            .iter()
            .map(|row| pb::InboxEntry {
                conversation: Some(pb::Conversation {
                    id: row.id.to_string(),
                    kind: row.kind,
                    school_id: row.school_id.to_string(),
                    class_id: row.class_id.map(|c| c.to_string()).unwrap_or_default(),
                    participant_ids: row
                        .participants
                        .iter()
                        .flatten()
                        .map(Uuid::to_string)
                        .collect(),
                    last_seq: row.last_seq,
                    last_message_at: rfc3339(row.last_message_at),
                }),
                state: Some(pb::ConversationState {
                    conversation_id: row.id.to_string(),
                    read_seq: row.read_seq,
                    unread: (row.last_seq - row.read_seq).max(0),
                    muted: row.muted,
                }),
            })
            .collect(),
    })
}

/// Fills in how each author appears to the reader. Without identity the messages
/// still go out, unnamed: a conversation stays readable when names are not.
pub(crate) async fn with_display_names(
    ctx: &Ctx,
    reader: &school::peers::Reader,
    messages: &mut [pb::Message],
) {
    let mut authors: Vec<Uuid> = messages
        .iter()
        .filter_map(|m| m.author_person_id.parse().ok())
        .collect();
    authors.sort_unstable();
    authors.dedup();
    if authors.is_empty() {
        return;
    }
    let directory = school::peers::directory(&ctx.identity);
    match school::names::display_names_of(directory, reader, &authors).await {
        Ok(names) => {
            for message in messages {
                if let Some(name) = message
                    .author_person_id
                    .parse()
                    .ok()
                    .and_then(|id| names.get(&id))
                {
                    message.author_display_name = name.display_name.clone();
                    message.author_is_staff = name.staff;
                }
            }
        }
        Err(error) => {
            tracing::warn!(error = %error, "messages listed without their authors' names");
        }
    }
}

pub(crate) async fn messages(
    ctx: &Ctx,
    caller: &Caller,
    conversation: Uuid,
    before_seq: i64,
    limit: i64,
) -> AppResult<Vec<pb::Message>> {
    let mut conn = ctx.pool.acquire().await?;
    access::member_of(&mut conn, caller, conversation).await?;
    let before = if before_seq <= 0 {
        i64::MAX
    } else {
        before_seq
    };
    let sql = format!(
        "SELECT {MESSAGE_COLUMNS} FROM messages WHERE conversation_id = $1 AND seq < $2 \
         ORDER BY seq DESC LIMIT $3"
    );
    let rows: Vec<MessageRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(conversation)
        .bind(before)
        .bind(limit)
        .fetch_all(&mut *conn)
        .await?;
    with_attachments(&mut conn, rows.into_iter().map(pb::Message::from).collect()).await
}

/// Marks read up to `seq` (at most the last message), or sets muting; answers the
/// reader's state.
pub(crate) async fn set_state(
    ctx: &Ctx,
    caller: &Caller,
    conversation: Uuid,
    change: StateChange,
) -> AppResult<pb::ConversationState> {
    let person = caller.person_id.ok_or_else(|| {
        AppError::from(tonic::Status::permission_denied(
            "you are not in this conversation",
        ))
    })?;
    let mut conn = ctx.pool.acquire().await?;
    access::member_of(&mut conn, caller, conversation).await?;
    let last: i64 = sqlx::query_scalar(
        "SELECT coalesce((SELECT last_seq FROM conversation_heads WHERE conversation_id = $1), 0)",
    )
    .bind(conversation)
    .fetch_one(&mut *conn)
    .await?;
    let (read_seq, muted) = match change {
        StateChange::Read(seq) => advance(&mut conn, person, conversation, seq.min(last)).await?,
        StateChange::Muted(muted) => {
            sqlx::query_as(
                "INSERT INTO conversation_states (person_id, conversation_id, muted) VALUES ($1, $2, $3) \
                 ON CONFLICT (person_id, conversation_id) DO UPDATE SET muted = excluded.muted \
                 RETURNING read_seq, muted",
            )
            .bind(person)
            .bind(conversation)
            .bind(muted)
            .fetch_one(&mut *conn)
            .await?
        }
    };
    Ok(pb::ConversationState {
        conversation_id: conversation.to_string(),
        read_seq,
        unread: (last - read_seq).max(0),
        muted,
    })
}

pub(crate) enum StateChange {
    Read(i64),
    Muted(bool),
}
