//! Posts: a school's or a class's news by its staff, waiting in the school's
//! moderation queue unless its author is trusted, each with a classification that
//! decides who reads it (rules.rs decides; read.rs applies it to every read). Each
//! revision and decision is an event on the post's stream `post:<id>`, projected
//! into `posts` and `post_decisions` (write_model.rs); its title, text, recipients
//! and a moderator's reason are kept in the stored events, never published.

pub(crate) mod policy;
pub(crate) mod read;
pub(crate) mod rules;

use kernel::auth::{Caller, Role, Target};
use kernel::command::idempotent;
use kernel::error::{AppError, AppResult};
use kernel::event_store::{EventMeta, ExpectedVersion, NewEvent, RequestKey, stream_version};
use kernel::write_model::append_and_project;
use lienlac_proto::messaging::v1 as pb;
use lienlac_proto::messaging::v1::Classification;
use school::roles::{DISTRICT_OFFICE, SCHOOL_LEADERS};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::Ctx;
use crate::write_model::{MessagingTables, kept};
use rules::{Policy, Refusal, Standing};

impl From<Refusal> for AppError {
    fn from(refusal: Refusal) -> Self {
        let message = refusal.to_string();
        match refusal {
            Refusal::NotAllowed | Refusal::ClassWithoutClass | Refusal::Recipients => {
                tonic::Status::invalid_argument(message).into()
            }
            _ => tonic::Status::permission_denied(message).into(),
        }
    }
}

/// Where a post belongs: a school, or a class of it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SchoolOf {
    pub(crate) district: Uuid,
    pub(crate) school: Uuid,
    pub(crate) class: Option<Uuid>,
}

impl SchoolOf {
    pub(crate) async fn school(conn: &mut PgConnection, school: Uuid) -> AppResult<Self> {
        let district: Option<Uuid> =
            sqlx::query_scalar("SELECT district_id FROM schools WHERE id = $1")
                .bind(school)
                .fetch_optional(conn)
                .await?;
        Ok(Self {
            district: district.ok_or(AppError::NotFound("school"))?,
            school,
            class: None,
        })
    }

    pub(crate) async fn class(conn: &mut PgConnection, class: Uuid) -> AppResult<Self> {
        let row: Option<(Uuid, Uuid)> =
            sqlx::query_as("SELECT district_id, school_id FROM classes WHERE id = $1")
                .bind(class)
                .fetch_optional(conn)
                .await?;
        let (district, school) = row.ok_or(AppError::NotFound("class"))?;
        Ok(Self {
            district,
            school,
            class: Some(class),
        })
    }

    fn target(&self) -> Target {
        Target::school(self.district, self.school)
    }
}

/// What the caller is to the school of `place`: their roles over it, and what the
/// directory says of them there.
pub(crate) async fn standing(
    conn: &mut PgConnection,
    caller: &Caller,
    place: &SchoolOf,
) -> AppResult<Standing> {
    let target = place.target();
    let (staff, guardian_of, homeroom_of): (bool, Vec<Uuid>, Vec<Uuid>) = sqlx::query_as(
        "SELECT EXISTS (SELECT 1 FROM staff WHERE id = $2 AND school_id = $1), \
         ARRAY(SELECT DISTINCT c.id FROM classes c \
               JOIN enrolment_periods e ON e.class_id = c.id AND e.to_date IS NULL \
               JOIN guardianships g ON g.student_id = e.student_id \
               WHERE c.school_id = $1 AND g.guardian_id = $2), \
         ARRAY(SELECT id FROM classes WHERE school_id = $1 AND homeroom_teacher_id = $2)",
    )
    .bind(place.school)
    .bind(caller.person_id)
    .fetch_one(conn)
    .await?;
    Ok(Standing {
        person: caller.person_id,
        staff,
        heads: caller.holds(&[Role::Principal, Role::VicePrincipal], &target),
        leads: caller.holds(SCHOOL_LEADERS, &target),
        district_office: caller.holds(DISTRICT_OFFICE, &target),
        guardian_of,
        homeroom_of,
    })
}

/// A revision as its author writes it.
pub(crate) struct Draft {
    pub(crate) title: String,
    pub(crate) body: String,
    pub(crate) classification: Classification,
    pub(crate) recipients: Vec<Uuid>,
    /// The author's uploads added with this revision.
    pub(crate) attachments: Vec<Uuid>,
}

/// Where a new post goes.
pub(crate) enum Destination {
    School(Uuid),
    Class(Uuid),
}

fn stream(post: Uuid) -> String {
    format!("post:{post}")
}

/// The recipients of a confidential post must be guardians or staff of its school.
async fn check_recipients(conn: &mut PgConnection, school: Uuid, people: &[Uuid]) -> AppResult<()> {
    let known: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM unnest($2::uuid[]) AS p(id) \
         WHERE EXISTS (SELECT 1 FROM staff s WHERE s.id = p.id AND s.school_id = $1) \
            OR EXISTS (SELECT 1 FROM guardianships g \
                       JOIN enrolment_periods e ON e.student_id = g.student_id AND e.to_date IS NULL \
                       JOIN classes c ON c.id = e.class_id \
                       WHERE g.guardian_id = p.id AND c.school_id = $1)",
    )
    .bind(school)
    .bind(people)
    .fetch_one(conn)
    .await?;
    let strangers = people.len() as i64 - known;
    if strangers > 0 {
        return Err(tonic::Status::invalid_argument(format!(
            "recipient_ids: {strangers} of them are neither guardians nor staff of the school"
        ))
        .into());
    }
    Ok(())
}

/// The events of a revision: submitted, and approved at once when its author
/// skips the queue.
fn revision_events(
    caller: &Caller,
    post: Uuid,
    place: &SchoolOf,
    revision: i32,
    classification: Classification,
    draft: &Draft,
    direct: bool,
) -> AppResult<Vec<NewEvent>> {
    let class_id = place.class.map(|c| c.to_string()).unwrap_or_default();
    let submitted = pb::PostSubmitted {
        post_id: post.to_string(),
        school_id: place.school.to_string(),
        class_id: class_id.clone(),
        revision,
        classification: classification as i32,
        author_account_id: caller.account_id.to_string(),
        author_person_id: caller.person_id.map(|p| p.to_string()).unwrap_or_default(),
        attachment_ids: draft.attachments.iter().map(Uuid::to_string).collect(),
    };
    let mut events = vec![
        NewEvent::from_message(&submitted)
            .and_then(|event| event.keeping(kept::TITLE, &draft.title))
            .and_then(|event| event.keeping(kept::BODY, &draft.body))
            .and_then(|event| event.keeping(kept::RECIPIENTS, &draft.recipients))
            .map_err(anyhow::Error::from)?,
    ];
    if direct {
        let approved = pb::PostApproved {
            post_id: post.to_string(),
            school_id: place.school.to_string(),
            class_id,
            revision,
            classification: classification as i32,
            decided_by: caller.account_id.to_string(),
            automatic: true,
        };
        events.push(NewEvent::from_message(&approved).map_err(anyhow::Error::from)?);
    }
    Ok(events)
}

/// Appends `events` after the post's last one (holding its other writers off until
/// the transaction ends) and projects them.
async fn record(
    tx: &mut PgConnection,
    caller: &Caller,
    post: Uuid,
    place: &SchoolOf,
    events: &[NewEvent],
) -> AppResult<()> {
    let stream = stream(post);
    let version = stream_version(tx, &stream)
        .await
        .map_err(kernel::event_store::AppendError::from)?;
    let meta = EventMeta::for_command(Some(caller.account_id.to_string()))
        .in_tenant(place.district, Some(place.school));
    append_and_project(
        tx,
        &MessagingTables,
        &stream,
        ExpectedVersion::from_loaded(version),
        events,
        &meta,
    )
    .await?;
    Ok(())
}

/// The policy and the caller's standing at `place`, with the draft classified.
async fn admit(
    tx: &mut PgConnection,
    caller: &Caller,
    place: &SchoolOf,
    draft: &Draft,
) -> AppResult<(Policy, Standing, Classification)> {
    let policy = policy::rules_of(&policy::load(tx, place.school).await?);
    let standing = standing(tx, caller, place).await?;
    rules::may_submit(&standing)?;
    let classification = rules::classify(
        &policy,
        draft.classification,
        place.class.is_some(),
        draft.recipients.len(),
    )?;
    check_recipients(tx, place.school, &draft.recipients).await?;
    crate::attachments::claim(
        tx,
        caller,
        place.district,
        Some(place.school),
        &draft.attachments,
    )
    .await?;
    Ok((policy, standing, classification))
}

pub(crate) async fn submit(
    ctx: &Ctx,
    caller: &Caller,
    request: RequestKey,
    destination: Destination,
    draft: Draft,
) -> AppResult<pb::Post> {
    let by = caller.clone();
    idempotent(&ctx.pool, &request, move |tx| {
        Box::pin(async move {
            let place = match destination {
                Destination::School(school) => SchoolOf::school(tx, school).await?,
                Destination::Class(class) => SchoolOf::class(tx, class).await?,
            };
            let (policy, standing, classification) = admit(tx, &by, &place, &draft).await?;
            let direct = rules::publishes_directly(&standing, &policy);
            let post = Uuid::now_v7();
            let events = revision_events(&by, post, &place, 1, classification, &draft, direct)?;
            record(tx, &by, post, &place, &events).await?;
            read::as_author(tx, post).await
        })
    })
    .await
}

/// The post `id` locked for a change, with where it belongs.
async fn locked(tx: &mut PgConnection, id: Uuid) -> AppResult<(read::PostRow, SchoolOf)> {
    kernel::db::lock_until_commit(tx, &stream(id)).await?;
    let row = read::row(tx, id).await?;
    let place = SchoolOf {
        district: row.district_id,
        school: row.school_id,
        class: row.class_id,
    };
    Ok((row, place))
}

pub(crate) async fn edit(
    ctx: &Ctx,
    caller: &Caller,
    request: RequestKey,
    post: Uuid,
    draft: Draft,
) -> AppResult<pb::Post> {
    let by = caller.clone();
    idempotent(&ctx.pool, &request, move |tx| {
        Box::pin(async move {
            let (row, place) = locked(tx, post).await?;
            if row.author_account_id != by.account_id {
                return Err(Refusal::NotAuthor.into());
            }
            let (policy, standing, classification) = admit(tx, &by, &place, &draft).await?;
            let direct = rules::publishes_directly(&standing, &policy);
            let events = revision_events(
                &by,
                post,
                &place,
                row.revision + 1,
                classification,
                &draft,
                direct,
            )?;
            record(tx, &by, post, &place, &events).await?;
            read::as_author(tx, post).await
        })
    })
    .await
}

/// A moderator's decision on the revision they read.
pub(crate) struct Decision {
    pub(crate) revision: i32,
    pub(crate) approve: bool,
    pub(crate) reason: String,
}

pub(crate) async fn moderate(
    ctx: &Ctx,
    caller: &Caller,
    request: RequestKey,
    post: Uuid,
    decision: Decision,
) -> AppResult<pb::Post> {
    let by = caller.clone();
    idempotent(&ctx.pool, &request, move |tx| {
        Box::pin(async move {
            let (row, place) = locked(tx, post).await?;
            let policy = policy::rules_of(&policy::load(tx, place.school).await?);
            rules::may_moderate(&standing(tx, &by, &place).await?, &policy)?;
            if row.revision != decision.revision {
                return Err(tonic::Status::aborted(format!(
                    "the author has changed the post since revision {}: read revision {} and decide again",
                    decision.revision, row.revision
                ))
                .into());
            }
            if row.status != "pending" {
                return Err(AppError::Rejected(format!(
                    "revision {} was decided already",
                    row.revision
                )));
            }
            let event = if decision.approve {
                NewEvent::from_message(&pb::PostApproved {
                    post_id: post.to_string(),
                    school_id: place.school.to_string(),
                    class_id: place.class.map(|c| c.to_string()).unwrap_or_default(),
                    revision: row.revision,
                    classification: Classification::from_str_name(&row.classification)
                        .unwrap_or_default() as i32,
                    decided_by: by.account_id.to_string(),
                    automatic: false,
                })
            } else {
                NewEvent::from_message(&pb::PostRejected {
                    post_id: post.to_string(),
                    school_id: place.school.to_string(),
                    revision: row.revision,
                    decided_by: by.account_id.to_string(),
                })
            };
            let event = event
                .and_then(|event| event.keeping(kept::REASON, &decision.reason))
                .map_err(anyhow::Error::from)?;
            record(tx, &by, post, &place, &[event]).await?;
            read::as_author(tx, post).await
        })
    })
    .await
}
