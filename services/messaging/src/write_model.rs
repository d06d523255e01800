//! Messaging's tables as inline projections of its own events
//! (kernel/src/write_model.rs): direct threads, conversation heads, messages and
//! their edits, announcements, schools' publishing policies, posts and their
//! moderation decisions. A message's or announcement's text is kept in its
//! stored event beside the published ids (`NewEvent::keeping`), never on the bus.
//! Where each reader is in each conversation, and whom an announcement reached and
//! how far (announcements/mod.rs), are no event's and a rebuild leaves them.

use kernel::auth::{Caller, Role, Target};
use kernel::error::AppResult;
use kernel::event_store::{EventMeta, ExpectedVersion, NewEvent, stream_version};
use kernel::write_model::{self, Fact, InlineProjection, append_and_project};
use lienlac_proto::messaging::v1 as pb;
use sqlx::PgConnection;
use uuid::Uuid;

pub(crate) struct MessagingTables;

/// What the stored events keep beyond their published form.
pub(crate) mod kept {
    /// MessagePosted, MessageEdited, AnnouncementPublished: the text.
    pub(crate) const BODY: &str = "body";
    /// AnnouncementPublished, PostSubmitted: its title.
    pub(crate) const TITLE: &str = "title";
    /// PostSubmitted: the people a confidential post is for.
    pub(crate) const RECIPIENTS: &str = "recipients";
    /// PostApproved, PostRejected: the moderator's reason.
    pub(crate) const REASON: &str = "reason";
    /// BulletinPublished: the timetable, menu or plan, as the JSON of its message.
    pub(crate) const CONTENT: &str = "content";
    /// BulletinPublished: the person who published it.
    pub(crate) const PERSON: &str = "person";
    /// SurveyCreated: its questions.
    pub(crate) const QUESTIONS: &str = "questions";
    /// SurveyCreated: its description.
    pub(crate) const DESCRIPTION: &str = "description";
}

impl InlineProjection for MessagingTables {
    const TABLES: &'static [&'static str] = &[
        "surveys",
        "bulletins",
        "post_decisions",
        "posts",
        "school_policies",
        "announcements",
        "message_edits",
        "messages",
        "conversation_heads",
        "direct_threads",
    ];

    async fn apply(&self, conn: &mut PgConnection, fact: &Fact<'_>) -> anyhow::Result<()> {
        match fact.event_type {
            "DirectThreadStarted" => {
                let started: pb::DirectThreadStarted = fact.decode()?;
                let mut people: Vec<Uuid> = started
                    .participant_ids
                    .iter()
                    .map(|id| id.parse())
                    .collect::<Result<_, _>>()?;
                people.sort();
                let [a, b] = people[..] else {
                    anyhow::bail!("a direct thread of {} people", people.len());
                };
                sqlx::query(
                    "INSERT INTO direct_threads (id, school_id, district_id, person_a, person_b, started_at) \
                     VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(id(&started.conversation_id)?)
                .bind(id(&started.school_id)?)
                .bind(fact.district_id)
                .bind(a)
                .bind(b)
                .bind(fact.recorded_at)
                .execute(conn)
                .await?;
            }
            "MessagePosted" => {
                let posted: pb::MessagePosted = fact.decode()?;
                let body: String = fact.required(kept::BODY)?;
                let conversation = id(&posted.conversation_id)?;
                sqlx::query(
                    "INSERT INTO messages (conversation_id, seq, id, author_account_id, author_person_id, body, reply_to, posted_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                )
                .bind(conversation)
                .bind(posted.seq)
                .bind(id(&posted.message_id)?)
                .bind(id(&posted.author_account_id)?)
                .bind(optional(&posted.author_person_id)?)
                .bind(body)
                .bind(optional(&posted.reply_to)?)
                .bind(fact.recorded_at)
                .execute(&mut *conn)
                .await?;
                sqlx::query(
                    "INSERT INTO conversation_heads (conversation_id, last_seq, last_message_at) VALUES ($1, $2, $3) \
                     ON CONFLICT (conversation_id) DO UPDATE SET last_seq = excluded.last_seq, \
                     last_message_at = excluded.last_message_at",
                )
                .bind(conversation)
                .bind(posted.seq)
                .bind(fact.recorded_at)
                .execute(&mut *conn)
                .await?;
                if !posted.attachment_ids.is_empty() {
                    sqlx::query(
                        "UPDATE attachments SET message_id = $1, conversation_id = $2 WHERE id = ANY($3)",
                    )
                    .bind(id(&posted.message_id)?)
                    .bind(conversation)
                    .bind(ids(&posted.attachment_ids)?)
                    .execute(conn)
                    .await?;
                }
            }
            "MessageEdited" => {
                let edited: pb::MessageEdited = fact.decode()?;
                let body: String = fact.required(kept::BODY)?;
                let message = id(&edited.message_id)?;
                sqlx::query(
                    "INSERT INTO message_edits (message_id, edited_at, previous_body) \
                     SELECT id, $2, body FROM messages WHERE id = $1",
                )
                .bind(message)
                .bind(fact.recorded_at)
                .execute(&mut *conn)
                .await?;
                sqlx::query("UPDATE messages SET body = $2, edited_at = $3 WHERE id = $1")
                    .bind(message)
                    .bind(body)
                    .bind(fact.recorded_at)
                    .execute(conn)
                    .await?;
            }
            "MessageDeleted" => {
                let deleted: pb::MessageDeleted = fact.decode()?;
                sqlx::query("UPDATE messages SET deleted_at = $2, deleted_by = $3 WHERE id = $1")
                    .bind(id(&deleted.message_id)?)
                    .bind(fact.recorded_at)
                    .bind(id(&deleted.deleted_by)?)
                    .execute(conn)
                    .await?;
            }
            "AnnouncementPublished" => {
                let published: pb::AnnouncementPublished = fact.decode()?;
                let title: String = fact.required(kept::TITLE)?;
                let body: String = fact.required(kept::BODY)?;
                let visible_at = time::OffsetDateTime::parse(
                    &published.visible_at,
                    &time::format_description::well_known::Rfc3339,
                )?;
                // Published before classifications and AnnouncementShown: only its
                // recipients read it, and it was shown at its time.
                let earlier = published.classification() == pb::Classification::Unspecified;
                let classification = match published.classification() {
                    pb::Classification::Unspecified => pb::Classification::Confidential,
                    chosen => chosen,
                };
                let audience = published.audience.unwrap_or_default();
                let class_id = match &audience.scope {
                    Some(pb::audience::Scope::ClassId(class)) => Some(id(class)?),
                    _ => None,
                };
                sqlx::query(
                    "INSERT INTO announcements (id, district_id, school_id, audience, title, body, \
                     requires_ack, author_account_id, published_at, visible_at, recipients, \
                     classification, class_id, shown_at, emergency) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, \
                     CASE WHEN $10 <= $9 OR $14 THEN $10 END, $15)",
                )
                .bind(id(&published.announcement_id)?)
                .bind(fact.district_id)
                .bind(optional(&published.school_id)?)
                .bind(sqlx::types::Json(&audience))
                .bind(title)
                .bind(body)
                .bind(published.requires_ack)
                .bind(id(&published.author_account_id)?)
                .bind(fact.recorded_at)
                .bind(visible_at)
                .bind(published.recipients)
                .bind(classification.as_str_name())
                .bind(class_id)
                .bind(earlier)
                .bind(published.emergency)
                .execute(&mut *conn)
                .await?;
                if !published.attachment_ids.is_empty() {
                    sqlx::query("UPDATE attachments SET announcement_id = $1 WHERE id = ANY($2)")
                        .bind(id(&published.announcement_id)?)
                        .bind(ids(&published.attachment_ids)?)
                        .execute(conn)
                        .await?;
                }
            }
            "SchoolPolicySet" => {
                let set: pb::SchoolPolicySet = fact.decode()?;
                let policy = set.policy.unwrap_or_default();
                let names = |all: &[i32]| -> Vec<&'static str> {
                    all.iter().map(|c| classification_name(*c)).collect()
                };
                sqlx::query(
                    "INSERT INTO school_policies (school_id, allowed, default_classification, \
                     trusted_staff_ids, moderator_ids, public_feed, updated_at, updated_by, \
                     notify_late, paid_channels, fallback_minutes) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
                     ON CONFLICT (school_id) DO UPDATE SET allowed = excluded.allowed, \
                     default_classification = excluded.default_classification, \
                     trusted_staff_ids = excluded.trusted_staff_ids, moderator_ids = excluded.moderator_ids, \
                     public_feed = excluded.public_feed, updated_at = excluded.updated_at, \
                     updated_by = excluded.updated_by, notify_late = excluded.notify_late, \
                     paid_channels = excluded.paid_channels, \
                     fallback_minutes = excluded.fallback_minutes",
                )
                .bind(id(&policy.school_id)?)
                .bind(names(&policy.allowed))
                .bind(classification_name(policy.default_classification))
                .bind(ids(&policy.trusted_staff_ids)?)
                .bind(ids(&policy.moderator_ids)?)
                .bind(policy.public_feed)
                .bind(fact.recorded_at)
                .bind(id(&policy.updated_by)?)
                .bind(policy.notify_late)
                .bind(
                    policy
                        .paid_channels
                        .iter()
                        .filter_map(|c| i16::try_from(*c).ok())
                        .collect::<Vec<i16>>(),
                )
                // Policies set before the delivery policy existed wait the default.
                .bind(if policy.fallback_minutes > 0 {
                    policy.fallback_minutes
                } else {
                    crate::posts::rules::DEFAULT_FALLBACK_MINUTES
                })
                .execute(conn)
                .await?;
            }
            "PostSubmitted" => {
                let submitted: pb::PostSubmitted = fact.decode()?;
                let title: String = fact.required(kept::TITLE)?;
                let body: String = fact.required(kept::BODY)?;
                let recipients: Vec<Uuid> = fact.required(kept::RECIPIENTS)?;
                sqlx::query(
                    "INSERT INTO posts (id, district_id, school_id, class_id, author_account_id, author_person_id, \
                     status, revision, title, body, classification, recipients, submitted_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, 'pending', $7, $8, $9, $10, $11, $12) \
                     ON CONFLICT (id) DO UPDATE SET status = 'pending', revision = excluded.revision, \
                     title = excluded.title, body = excluded.body, classification = excluded.classification, \
                     recipients = excluded.recipients, submitted_at = excluded.submitted_at",
                )
                .bind(id(&submitted.post_id)?)
                .bind(fact.district_id)
                .bind(id(&submitted.school_id)?)
                .bind(optional(&submitted.class_id)?)
                .bind(id(&submitted.author_account_id)?)
                .bind(optional(&submitted.author_person_id)?)
                .bind(submitted.revision)
                .bind(title)
                .bind(body)
                .bind(classification_name(submitted.classification))
                .bind(recipients)
                .bind(fact.recorded_at)
                .execute(&mut *conn)
                .await?;
                if !submitted.attachment_ids.is_empty() {
                    sqlx::query(
                        "UPDATE attachments SET post_id = $1, post_revision = $2 WHERE id = ANY($3)",
                    )
                    .bind(id(&submitted.post_id)?)
                    .bind(submitted.revision)
                    .bind(ids(&submitted.attachment_ids)?)
                    .execute(conn)
                    .await?;
                }
            }
            "PostApproved" => {
                let approved: pb::PostApproved = fact.decode()?;
                let post = id(&approved.post_id)?;
                sqlx::query(
                    "UPDATE posts SET status = 'published', published_revision = revision, \
                     published_title = title, published_body = body, \
                     published_classification = classification, published_recipients = recipients, \
                     published_submitted_at = submitted_at, \
                     first_published_at = coalesce(first_published_at, $3) \
                     WHERE id = $1 AND revision = $2",
                )
                .bind(post)
                .bind(approved.revision)
                .bind(fact.recorded_at)
                .execute(&mut *conn)
                .await?;
                let decision = Decision {
                    post,
                    revision: approved.revision,
                    approved: true,
                    reason: fact.kept(kept::REASON)?.unwrap_or_default(),
                    decided_by: id(&approved.decided_by)?,
                    automatic: approved.automatic,
                };
                decision.record(conn, fact.recorded_at).await?;
            }
            "PostRejected" => {
                let rejected: pb::PostRejected = fact.decode()?;
                let post = id(&rejected.post_id)?;
                sqlx::query("UPDATE posts SET status = 'rejected' WHERE id = $1 AND revision = $2")
                    .bind(post)
                    .bind(rejected.revision)
                    .execute(&mut *conn)
                    .await?;
                let decision = Decision {
                    post,
                    revision: rejected.revision,
                    approved: false,
                    reason: fact.required(kept::REASON)?,
                    decided_by: id(&rejected.decided_by)?,
                    automatic: false,
                };
                decision.record(conn, fact.recorded_at).await?;
            }
            "BulletinPublished" => {
                let published: pb::BulletinPublished = fact.decode()?;
                let content: serde_json::Value = fact.required(kept::CONTENT)?;
                let person: Option<Uuid> = fact.kept(kept::PERSON)?.flatten();
                let kind = pb::BulletinKind::try_from(published.kind).unwrap_or_default();
                sqlx::query(
                    "INSERT INTO bulletins (id, kind, district_id, school_id, class_id, version, \
                     effective_from, classification, content, published_by, published_by_person, \
                     published_at, announcement_id) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
                )
                .bind(id(&published.bulletin_id)?)
                .bind(kind.as_str_name())
                .bind(fact.district_id)
                .bind(id(&published.school_id)?)
                .bind(optional(&published.class_id)?)
                .bind(published.version)
                .bind(
                    kernel::dates::parse(&published.effective_from)
                        .ok_or_else(|| anyhow::anyhow!("BulletinPublished: effective_from"))?,
                )
                .bind(classification_name(published.classification))
                .bind(content)
                .bind(id(&published.published_by)?)
                .bind(person)
                .bind(fact.recorded_at)
                .bind(id(&published.announcement_id)?)
                .execute(conn)
                .await?;
            }
            "AnnouncementShown" => {
                let shown: pb::AnnouncementShown = fact.decode()?;
                sqlx::query("UPDATE announcements SET shown_at = $2 WHERE id = $1")
                    .bind(id(&shown.announcement_id)?)
                    .bind(fact.recorded_at)
                    .execute(conn)
                    .await?;
            }
            "ReceiptsUpdated" => {
                let updated: pb::ReceiptsUpdated = fact.decode()?;
                sqlx::query(
                    "UPDATE announcements SET reported_delivered = $2, reported_read = $3, \
                     reported_acknowledged = $4 WHERE id = $1",
                )
                .bind(id(&updated.announcement_id)?)
                .bind(updated.delivered)
                .bind(updated.read)
                .bind(updated.acknowledged)
                .execute(conn)
                .await?;
            }
            "SurveyCreated" => {
                let created: pb::SurveyCreated = fact.decode()?;
                let title: String = fact.required(kept::TITLE)?;
                let description: String = fact.required(kept::DESCRIPTION)?;
                let questions: serde_json::Value = fact.required(kept::QUESTIONS)?;
                let deadline = if created.deadline.is_empty() {
                    None
                } else {
                    Some(time::OffsetDateTime::parse(
                        &created.deadline,
                        &time::format_description::well_known::Rfc3339,
                    )?)
                };
                sqlx::query(
                    "INSERT INTO surveys (id, district_id, school_id, audience, title, description, \
                     questions, deadline, per_child, author_account_id, created_at, guardians) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
                )
                .bind(id(&created.survey_id)?)
                .bind(fact.district_id)
                .bind(id(&created.school_id)?)
                .bind(sqlx::types::Json(&created.audience.unwrap_or_default()))
                .bind(title)
                .bind(description)
                .bind(questions)
                .bind(deadline)
                .bind(created.per_child)
                .bind(id(&created.author_account_id)?)
                .bind(fact.recorded_at)
                .bind(created.guardians)
                .execute(conn)
                .await?;
            }
            _ => {}
        }
        Ok(())
    }
}

/// A moderation decision, as `post_decisions` keeps it.
struct Decision {
    post: Uuid,
    revision: i32,
    approved: bool,
    reason: String,
    decided_by: Uuid,
    automatic: bool,
}

impl Decision {
    async fn record(self, conn: &mut PgConnection, at: time::OffsetDateTime) -> anyhow::Result<()> {
        sqlx::query(
            "INSERT INTO post_decisions (post_id, revision, approved, reason, decided_by, decided_at, automatic) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(self.post)
        .bind(self.revision)
        .bind(self.approved)
        .bind(self.reason)
        .bind(self.decided_by)
        .bind(at)
        .bind(self.automatic)
        .execute(conn)
        .await?;
        Ok(())
    }
}

/// Appends `event` after the last event of `stream_id` and projects it: for the
/// facts a background task or a consumer records (receipts, scheduled
/// announcements, notices), whose stream no command writes at the same time.
pub(crate) async fn append_next<E: prost::Message + prost::Name + serde::Serialize>(
    conn: &mut PgConnection,
    stream_id: &str,
    event: &E,
    meta: &EventMeta,
) -> anyhow::Result<()> {
    let version = stream_version(&mut *conn, stream_id).await?;
    append_and_project(
        conn,
        &MessagingTables,
        stream_id,
        ExpectedVersion::from_loaded(version),
        &[NewEvent::from_message(event)?],
        meta,
    )
    .await?;
    Ok(())
}

/// A classification as the tables store it: its protobuf name.
pub(crate) fn classification_name(value: i32) -> &'static str {
    pb::Classification::try_from(value)
        .unwrap_or_default()
        .as_str_name()
}

/// Operators: the tables projected again from the event store.
pub(crate) async fn rebuild(
    pool: &sqlx::PgPool,
    caller: &Caller,
) -> AppResult<pb::WriteModelRebuilt> {
    caller.require(&[Role::Operator], &Target::platform())?;
    let events = write_model::rebuild(pool, &MessagingTables).await?;
    tracing::info!(events, "messaging write model rebuilt");
    Ok(pb::WriteModelRebuilt {
        events,
        tables: MessagingTables::TABLES
            .iter()
            .map(|table| table.to_string())
            .collect(),
    })
}

fn id(text: &str) -> anyhow::Result<Uuid> {
    Ok(text.parse()?)
}

fn ids(texts: &[String]) -> anyhow::Result<Vec<Uuid>> {
    texts.iter().map(|text| id(text)).collect()
}

fn optional(text: &str) -> anyhow::Result<Option<Uuid>> {
    school::enrolments::optional_uuid("id", text)
}
