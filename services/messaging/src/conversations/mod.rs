//! The conversations' commands: each checks who the caller is to the
//! conversation (access.rs) and what the rules allow (rules.rs), then appends its
//! event to the conversation's stream and projects it (write_model.rs), in one
//! idempotent transaction.

pub(crate) mod access;
pub(crate) mod export;
pub(crate) mod read;
pub(crate) mod rules;

use kernel::auth::Caller;
use kernel::command::idempotent;
use kernel::error::{AppError, AppResult};
use kernel::event_store::{EventMeta, ExpectedVersion, NewEvent, RequestKey, stream_version};
use kernel::write_model::append_and_project;
use lienlac_proto::messaging::v1 as pb;
use lienlac_proto::messaging::v1::ConversationKind;
use sqlx::PgConnection;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::Ctx;
use crate::write_model::{MessagingTables, kept};
use access::Place;
use rules::{Party, Posted, Refusal, Ties};

impl From<Refusal> for AppError {
    fn from(refusal: Refusal) -> Self {
        let message = refusal.to_string();
        match refusal {
            Refusal::WithOneself => tonic::Status::invalid_argument(message).into(),
            Refusal::TooLateToEdit | Refusal::Deleted => AppError::Rejected(message),
            _ => tonic::Status::permission_denied(message).into(),
        }
    }
}

fn stream(conversation: Uuid) -> String {
    format!("conversation:{conversation}")
}

fn meta(caller: &Caller, place: &Place) -> EventMeta {
    EventMeta::for_command(Some(caller.account_id.to_string()))
        .in_tenant(place.district_id, Some(place.school_id))
}

/// Holds other writers of the conversation off until the transaction ends, so that
/// messages are numbered one after another.
async fn lock(tx: &mut PgConnection, conversation: Uuid) -> AppResult<()> {
    Ok(kernel::db::lock_until_commit(tx, &stream(conversation)).await?)
}

/// Appends `event` after the conversation's last event (under [`lock`]) and
/// projects it.
async fn record(
    tx: &mut PgConnection,
    caller: &Caller,
    place: &Place,
    event: NewEvent,
) -> AppResult<()> {
    let stream = stream(place.id);
    let version = stream_version(tx, &stream)
        .await
        .map_err(kernel::event_store::AppendError::from)?;
    append_and_project(
        tx,
        &MessagingTables,
        &stream,
        ExpectedVersion::from_loaded(version),
        &[event],
        &meta(caller, place),
    )
    .await?;
    Ok(())
}

fn person_of(caller: &Caller) -> AppResult<Uuid> {
    caller.person_id.ok_or_else(|| {
        tonic::Status::permission_denied("only guardians and staff of a school write messages")
            .into()
    })
}

pub(crate) async fn start_direct(
    ctx: &Ctx,
    caller: &Caller,
    request: RequestKey,
    other: Uuid,
) -> AppResult<pb::Conversation> {
    let me = person_of(caller)?;
    if me == other {
        return Err(Refusal::WithOneself.into());
    }
    let by = caller.clone();
    idempotent(&ctx.pool, &request, move |tx| {
        Box::pin(async move {
            let (a, b) = if me < other { (me, other) } else { (other, me) };
            kernel::db::lock_until_commit(tx, &format!("direct:{a}:{b}")).await?;
            let existing: Option<Uuid> = sqlx::query_scalar(
                "SELECT id FROM direct_threads WHERE person_a = $1 AND person_b = $2",
            )
            .bind(a)
            .bind(b)
            .fetch_optional(&mut *tx)
            .await?;
            if let Some(id) = existing {
                return read::conversation(tx, id).await;
            }
            let (mine, theirs) = (party(tx, me).await?, party(tx, other).await?);
            let ties = ties(tx, me, mine.0, other).await?;
            rules::may_start_direct(mine.0, theirs.0, ties)?;
            // The thread belongs to the staff member's school (the caller's, when both are).
            let (district_id, school_id) = match (mine, theirs) {
                ((Party::Staff, Some(school)), _) | (_, (Party::Staff, Some(school))) => school,
                _ => return Err(Refusal::NotInASchool.into()),
            };
            let id = Uuid::now_v7();
            let place = Place {
                id,
                kind: ConversationKind::Direct,
                district_id,
                school_id,
                class_id: None,
            };
            let event = pb::DirectThreadStarted {
                conversation_id: id.to_string(),
                school_id: school_id.to_string(),
                participant_ids: vec![me.to_string(), other.to_string()],
                started_by: by.account_id.to_string(),
            };
            let event = NewEvent::from_message(&event).map_err(anyhow::Error::from)?;
            record(tx, &by, &place, event).await?;
            read::conversation(tx, id).await
        })
    })
    .await
}

/// Guardian, staff (with their school) or neither.
async fn party(tx: &mut PgConnection, person: Uuid) -> AppResult<(Party, Option<(Uuid, Uuid)>)> {
    let staff: Option<(Uuid, Uuid)> =
        sqlx::query_as("SELECT district_id, school_id FROM staff WHERE id = $1")
            .bind(person)
            .fetch_optional(&mut *tx)
            .await?;
    if staff.is_some() {
        return Ok((Party::Staff, staff));
    }
    let guardian: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM guardianships WHERE guardian_id = $1)")
            .bind(person)
            .fetch_one(&mut *tx)
            .await?;
    Ok((
        if guardian {
            Party::Guardian
        } else {
            Party::Other
        },
        None,
    ))
}

/// What ties the caller (`me`, a `mine`) to `other`, from the directory.
async fn ties(tx: &mut PgConnection, me: Uuid, mine: Party, other: Uuid) -> AppResult<Ties> {
    let (staff, guardian) = if mine == Party::Staff {
        (me, other)
    } else {
        (other, me)
    };
    let (colleagues, teaches_child, leads_childs_school): (bool, bool, bool) = sqlx::query_as(
        "SELECT \
           EXISTS (SELECT 1 FROM staff s JOIN staff t ON t.school_id = s.school_id \
                   WHERE s.id = $1 AND t.id = $2), \
           EXISTS (SELECT 1 FROM classes c \
                   JOIN enrolment_periods e ON e.class_id = c.id AND e.to_date IS NULL \
                   JOIN guardianships g ON g.student_id = e.student_id \
                   WHERE c.homeroom_teacher_id = $1 AND g.guardian_id = $2), \
           EXISTS (SELECT 1 FROM school_leaders l JOIN classes c ON c.school_id = l.school_id \
                   JOIN enrolment_periods e ON e.class_id = c.id AND e.to_date IS NULL \
                   JOIN guardianships g ON g.student_id = e.student_id \
                   WHERE l.person_id = $1 AND g.guardian_id = $2)",
    )
    .bind(staff)
    .bind(guardian)
    .fetch_one(&mut *tx)
    .await?;
    Ok(Ties {
        colleagues,
        teaches_child,
        leads_childs_school,
    })
}

pub(crate) struct NewMessage {
    pub(crate) conversation: Uuid,
    pub(crate) body: String,
    pub(crate) reply_to: Option<Uuid>,
    pub(crate) attachments: Vec<Uuid>,
}

pub(crate) async fn post(
    ctx: &Ctx,
    caller: &Caller,
    request: RequestKey,
    new: NewMessage,
) -> AppResult<pb::Message> {
    let by = caller.clone();
    idempotent(&ctx.pool, &request, move |tx| {
        Box::pin(async move {
            let (place, _) = access::member_of(tx, &by, new.conversation).await?;
            lock(tx, place.id).await?;
            if let Some(reply) = new.reply_to {
                let found: bool = sqlx::query_scalar(
                    "SELECT EXISTS (SELECT 1 FROM messages WHERE id = $1 AND conversation_id = $2)",
                )
                .bind(reply)
                .bind(place.id)
                .fetch_one(&mut *tx)
                .await?;
                if !found {
                    return Err(tonic::Status::invalid_argument(
                        "reply_to: not a message of this conversation",
                    )
                    .into());
                }
            }
            crate::attachments::claim(
                tx,
                &by,
                place.district_id,
                Some(place.school_id),
                &new.attachments,
            )
            .await?;
            let last: Option<i64> = sqlx::query_scalar(
                "SELECT last_seq FROM conversation_heads WHERE conversation_id = $1",
            )
            .bind(place.id)
            .fetch_optional(&mut *tx)
            .await?;
            let seq = last.unwrap_or(0) + 1;
            let message_id = Uuid::now_v7();
            let event = pb::MessagePosted {
                message_id: message_id.to_string(),
                conversation_id: place.id.to_string(),
                kind: place.kind as i32,
                school_id: place.school_id.to_string(),
                class_id: place.class_id.map(|c| c.to_string()).unwrap_or_default(),
                seq,
                author_account_id: by.account_id.to_string(),
                author_person_id: by.person_id.map(|p| p.to_string()).unwrap_or_default(),
                reply_to: new.reply_to.map(|r| r.to_string()).unwrap_or_default(),
                attachment_ids: new.attachments.iter().map(Uuid::to_string).collect(),
            };
            let event = NewEvent::from_message(&event)
                .and_then(|event| event.keeping(kept::BODY, &new.body))
                .map_err(anyhow::Error::from)?;
            record(tx, &by, &place, event).await?;
            if let Some(person) = by.person_id {
                read::advance(tx, person, place.id, seq).await?;
            }
            read::message(tx, message_id).await
        })
    })
    .await
}

/// The message `id` as the caller acts on it: its conversation (which the caller
/// must be in), whether the caller leads its school, and what it is.
async fn acted_on(
    tx: &mut PgConnection,
    caller: &Caller,
    id: Uuid,
) -> AppResult<(Place, bool, Posted)> {
    let row: Option<(Uuid, Uuid, OffsetDateTime, bool)> = sqlx::query_as(
        "SELECT conversation_id, author_account_id, posted_at, deleted_at IS NOT NULL FROM messages WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?;
    let (conversation, author, at, deleted) = row.ok_or(AppError::NotFound("message"))?;
    let (place, leads) = access::member_of(tx, caller, conversation).await?;
    lock(tx, place.id).await?;
    Ok((
        place,
        leads,
        Posted {
            by_caller: author == caller.account_id,
            at,
            deleted,
        },
    ))
}

pub(crate) async fn edit(
    ctx: &Ctx,
    caller: &Caller,
    request: RequestKey,
    message_id: Uuid,
    body: String,
) -> AppResult<pb::Message> {
    let by = caller.clone();
    idempotent(&ctx.pool, &request, move |tx| {
        Box::pin(async move {
            let (place, _, posted) = acted_on(tx, &by, message_id).await?;
            rules::may_edit(posted, OffsetDateTime::now_utc())?;
            let event = pb::MessageEdited {
                message_id: message_id.to_string(),
                conversation_id: place.id.to_string(),
                edited_by: by.account_id.to_string(),
            };
            let event = NewEvent::from_message(&event)
                .and_then(|event| event.keeping(kept::BODY, &body))
                .map_err(anyhow::Error::from)?;
            record(tx, &by, &place, event).await?;
            read::message(tx, message_id).await
        })
    })
    .await
}

pub(crate) async fn delete(
    ctx: &Ctx,
    caller: &Caller,
    request: RequestKey,
    message_id: Uuid,
) -> AppResult<pb::Message> {
    let by = caller.clone();
    idempotent(&ctx.pool, &request, move |tx| {
        Box::pin(async move {
            let (place, leads, posted) = acted_on(tx, &by, message_id).await?;
            rules::may_delete(posted, leads)?;
            let event = pb::MessageDeleted {
                message_id: message_id.to_string(),
                conversation_id: place.id.to_string(),
                deleted_by: by.account_id.to_string(),
            };
            let event = NewEvent::from_message(&event).map_err(anyhow::Error::from)?;
            record(tx, &by, &place, event).await?;
            read::message(tx, message_id).await
        })
    })
    .await
}
