//! Announcements: a school's leaders, a homeroom teacher or a district's
//! administrators write to the guardians of an audience's students (rules.rs); each
//! guardian's delivery, reading and confirmation is counted, so the sender sees
//! "1,012 of 1,698 read, 640 confirmed" and who has not.
//!
//! The audience is resolved once, when the announcement is published, into
//! `announcement_recipients`, which the command writes itself: the guardians
//! reached are a fact of that moment, and up to a district's worth of ids are no
//! event's payload. The announcement is an event (`AnnouncementPublished`) with its
//! title and text kept in the stored form, never published.

pub(crate) mod receipts;
pub(crate) mod rules;
pub(crate) mod schedule;

use kernel::auth::{Caller, Target};
use kernel::command::idempotent;
use kernel::error::{AppError, AppResult};
use kernel::event_store::{EventMeta, ExpectedVersion, NewEvent, RequestKey};
use kernel::write_model::append_and_project;
use lienlac_proto::messaging::v1 as pb;
use lienlac_proto::messaging::v1::Classification;
use lienlac_proto::messaging::v1::audience::Scope;
use school::roles::DISTRICT_OFFICE;
use sqlx::PgConnection;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::posts::{self, SchoolOf, policy};
use crate::visibility::{self, Columns};
use crate::write_model::{MessagingTables, kept};
use crate::{Ctx, cursor};
use rules::{Addressed, Reach};

impl From<rules::Refusal> for AppError {
    fn from(refusal: rules::Refusal) -> Self {
        let message = refusal.to_string();
        match refusal {
            rules::Refusal::NotTheirs => tonic::Status::permission_denied(message).into(),
            rules::Refusal::NotAllowed | rules::Refusal::ClassWithoutClass => {
                tonic::Status::invalid_argument(message).into()
            }
        }
    }
}

pub(crate) struct NewAnnouncement {
    pub(crate) audience: pb::Audience,
    pub(crate) title: String,
    pub(crate) body: String,
    pub(crate) requires_ack: bool,
    pub(crate) visible_at: Option<OffsetDateTime>,
    /// The sender's own uploads to send with it.
    pub(crate) attachments: Vec<Uuid>,
    /// Requested by the sender; what `publish` decides (rules.rs `classify`).
    pub(crate) classification: Classification,
    /// Sent as an emergency (rules.rs `may_send_emergency`).
    pub(crate) emergency: bool,
}

/// Where the audience is, and the filter that picks its guardians: the classes of
/// this school year in it, and (for chosen guardians) which of their guardians.
pub(crate) struct Resolved {
    pub(crate) reach: Reach,
    pub(crate) district_id: Uuid,
    pub(crate) school_id: Option<Uuid>,
    pub(crate) classes_sql: &'static str,
    pub(crate) scope_id: Uuid,
    pub(crate) grade: i32,
    pub(crate) guardians: Vec<Uuid>,
}

impl Resolved {
    fn addressed(&self) -> Addressed {
        match self.reach {
            Reach::Class(_) => Addressed::Class,
            Reach::District(_) => Addressed::District,
            Reach::School(_) if !self.guardians.is_empty() => Addressed::Guardians,
            Reach::School(_) => Addressed::School,
        }
    }
}

pub(crate) async fn resolve(
    conn: &mut PgConnection,
    audience: &pb::Audience,
) -> AppResult<Resolved> {
    let id = |text: &str, what: &'static str| -> AppResult<Uuid> {
        text.parse().map_err(|_| {
            AppError::from(tonic::Status::invalid_argument(format!(
                "{what} must be a UUID"
            )))
        })
    };
    let blank = |reach, district_id, school_id, classes_sql, scope_id| Resolved {
        reach,
        district_id,
        school_id,
        classes_sql,
        scope_id,
        grade: 0,
        guardians: Vec::new(),
    };
    Ok(match &audience.scope {
        Some(Scope::SchoolId(text)) => {
            let school_id = id(text, "audience.school_id")?;
            let district = district_of(conn, school_id).await?;
            let reach = Reach::School(Target::school(district, school_id));
            blank(
                reach,
                district,
                Some(school_id),
                "c.school_id = $2",
                school_id,
            )
        }
        Some(Scope::Grade(grade)) => {
            let school_id = id(&grade.school_id, "audience.grade.school_id")?;
            let district = district_of(conn, school_id).await?;
            let reach = Reach::School(Target::school(district, school_id));
            Resolved {
                grade: grade.grade,
                ..blank(
                    reach,
                    district,
                    Some(school_id),
                    "c.school_id = $2 AND c.grade = $3",
                    school_id,
                )
            }
        }
        Some(Scope::ClassId(text)) => {
            let class_id = id(text, "audience.class_id")?;
            let class: Option<(Uuid, Uuid)> =
                sqlx::query_as("SELECT school_id, district_id FROM classes WHERE id = $1")
                    .bind(class_id)
                    .fetch_optional(&mut *conn)
                    .await?;
            let (school_id, district) = class.ok_or(AppError::NotFound("class"))?;
            let reach = Reach::Class(Target::class(district, school_id, class_id));
            blank(reach, district, Some(school_id), "c.id = $2", class_id)
        }
        Some(Scope::Guardians(chosen)) => {
            let school_id = id(&chosen.school_id, "audience.guardians.school_id")?;
            let district = district_of(conn, school_id).await?;
            let reach = Reach::School(Target::school(district, school_id));
            if chosen.guardian_ids.is_empty() {
                return Err(tonic::Status::invalid_argument(
                    "audience.guardians.guardian_ids: choose at least one guardian",
                )
                .into());
            }
            let guardians = chosen
                .guardian_ids
                .iter()
                .map(|text| id(text, "audience.guardians.guardian_ids"))
                .collect::<AppResult<Vec<_>>>()?;
            Resolved {
                guardians,
                ..blank(
                    reach,
                    district,
                    Some(school_id),
                    "c.school_id = $2",
                    school_id,
                )
            }
        }
        Some(Scope::DistrictId(text)) => {
            let district = id(text, "audience.district_id")?;
            let known: bool =
                sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM schools WHERE district_id = $1)")
                    .bind(district)
                    .fetch_one(&mut *conn)
                    .await?;
            if !known {
                return Err(AppError::NotFound("district"));
            }
            let reach = Reach::District(Target::district(district));
            blank(reach, district, None, "c.district_id = $2", district)
        }
        None => {
            return Err(tonic::Status::invalid_argument(
                "audience: choose a school, a grade, a class, guardians or a district",
            )
            .into());
        }
    })
}

/// The district of school `school`; NOT_FOUND for a school messaging does not know.
async fn district_of(conn: &mut PgConnection, school: Uuid) -> AppResult<Uuid> {
    let district: Option<Uuid> =
        sqlx::query_scalar("SELECT district_id FROM schools WHERE id = $1")
            .bind(school)
            .fetch_optional(conn)
            .await?;
    district.ok_or(AppError::NotFound("school"))
}

pub(crate) async fn publish(
    ctx: &Ctx,
    caller: &Caller,
    request: RequestKey,
    new: NewAnnouncement,
) -> AppResult<pb::Announcement> {
    let resolved = resolve(&mut *ctx.pool.acquire().await?, &new.audience).await?;
    rules::may_publish(caller, resolved.reach)?;
    if new.emergency {
        rules::may_send_emergency(caller, resolved.reach)?;
    }
    let by = caller.clone();
    let mut new = new;
    idempotent(&ctx.pool, &request, move |tx| {
        Box::pin(async move {
            let policy = match resolved.school_id {
                Some(school) => policy::rules_of(&policy::load(tx, school).await?),
                None => posts::rules::Policy::default(),
            };
            new.classification =
                rules::classify(&policy, new.classification, resolved.addressed())?;
            let id = announce(tx, &by, &resolved, &new).await?;
            announcement(tx, id).await
        })
    })
    .await
}

/// Records the announcement `new` to the guardians `resolved` reaches now, by
/// `by`, in the caller's transaction; its id.
pub(crate) async fn announce(
    tx: &mut PgConnection,
    by: &Caller,
    resolved: &Resolved,
    new: &NewAnnouncement,
) -> AppResult<Uuid> {
    crate::attachments::claim(
        tx,
        by,
        resolved.district_id,
        resolved.school_id,
        &new.attachments,
    )
    .await?;
    let id = Uuid::now_v7();
    let now: OffsetDateTime = sqlx::query_scalar("SELECT now()")
        .fetch_one(&mut *tx)
        .await?;
    let visible_at = new.visible_at.unwrap_or(now).max(now);
    let sql = format!(
        "INSERT INTO announcement_recipients (announcement_id, guardian_id, visible_at) \
         SELECT DISTINCT $1::uuid, g.guardian_id, $6::timestamptz FROM classes c \
         JOIN enrolment_periods e ON e.class_id = c.id AND e.to_date IS NULL \
         JOIN guardianships g ON g.student_id = e.student_id \
         WHERE {} AND c.school_year = $4 AND (cardinality($5::uuid[]) = 0 OR g.guardian_id = ANY($5))",
        resolved.classes_sql
    );
    let recipients = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .bind(resolved.scope_id)
        .bind(resolved.grade)
        .bind(school::dates::school_year_of(school::dates::local_date(
            now,
        )))
        .bind(&resolved.guardians)
        .bind(visible_at)
        .execute(&mut *tx)
        .await?
        .rows_affected() as i64;
    let event = pb::AnnouncementPublished {
        announcement_id: id.to_string(),
        audience: Some(new.audience.clone()),
        requires_ack: new.requires_ack,
        author_account_id: by.account_id.to_string(),
        visible_at: kernel::dates::rfc3339(visible_at),
        recipients,
        school_id: resolved
            .school_id
            .map(|s| s.to_string())
            .unwrap_or_default(),
        attachment_ids: new.attachments.iter().map(Uuid::to_string).collect(),
        classification: new.classification as i32,
        emergency: new.emergency,
    };
    let event = NewEvent::from_message(&event)
        .and_then(|event| event.keeping(kept::TITLE, &new.title))
        .and_then(|event| event.keeping(kept::BODY, &new.body))
        .map_err(anyhow::Error::from)?;
    let meta = EventMeta::for_command(Some(by.account_id.to_string()))
        .in_tenant(resolved.district_id, resolved.school_id);
    append_and_project(
        tx,
        &MessagingTables,
        &format!("announcement:{id}"),
        ExpectedVersion::from_loaded(0),
        &[event],
        &meta,
    )
    .await?;
    crate::delivery::queue_announcement(tx, id, resolved.school_id, visible_at, new.emergency)
        .await?;
    Ok(id)
}

#[derive(sqlx::FromRow)]
struct AnnouncementRow {
    id: Uuid,
    district_id: Uuid,
    school_id: Option<Uuid>,
    audience: sqlx::types::Json<pb::Audience>,
    title: String,
    body: String,
    requires_ack: bool,
    author_account_id: Uuid,
    published_at: OffsetDateTime,
    visible_at: OffsetDateTime,
    recipients: i64,
    classification: String,
    class_id: Option<Uuid>,
    emergency: bool,
}

const ANNOUNCEMENT_COLUMNS: &str = "a.id, a.district_id, a.school_id, a.audience, a.title, a.body, a.requires_ack, a.author_account_id, a.published_at, a.visible_at, a.recipients, a.classification, a.class_id, a.emergency";

/// An announcement's columns for the classification filter (visibility.rs): its
/// confidential readers are its recipients, whom `may_read` asks first.
const CLASSIFIED: Columns = Columns {
    classification: "a.classification",
    class: "a.class_id",
    recipients: "ARRAY[]::uuid[]",
    author: "NULL::uuid",
};

impl From<AnnouncementRow> for pb::Announcement {
    fn from(row: AnnouncementRow) -> Self {
        pb::Announcement {
            id: row.id.to_string(),
            author_account_id: row.author_account_id.to_string(),
            audience: Some(row.audience.0),
            title: row.title,
            body: row.body,
            requires_ack: row.requires_ack,
            published_at: kernel::dates::rfc3339(row.published_at),
            visible_at: kernel::dates::rfc3339(row.visible_at),
            recipients: row.recipients,
            attachments: Vec::new(),
            classification: Classification::from_str_name(&row.classification)
                .unwrap_or(Classification::Confidential) as i32,
            emergency: row.emergency,
        }
    }
}

async fn announcement_row(conn: &mut PgConnection, id: Uuid) -> AppResult<AnnouncementRow> {
    let sql = format!("SELECT {ANNOUNCEMENT_COLUMNS} FROM announcements a WHERE a.id = $1");
    sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(conn)
        .await?
        .ok_or(AppError::NotFound("announcement"))
}

async fn announcement(conn: &mut PgConnection, id: Uuid) -> AppResult<pb::Announcement> {
    let mut announcement: pb::Announcement = announcement_row(conn, id).await?.into();
    with_attachments(conn, std::slice::from_mut(&mut announcement)).await?;
    Ok(announcement)
}

/// Fills in the announcements' attachments.
async fn with_attachments(
    conn: &mut PgConnection,
    announcements: &mut [pb::Announcement],
) -> AppResult<()> {
    let ids: Vec<Uuid> = announcements
        .iter()
        .filter_map(|a| a.id.parse().ok())
        .collect();
    for (owner, row) in crate::attachments::of_announcements(conn, &ids).await? {
        let owner = owner.to_string();
        if let Some(announcement) = announcements.iter_mut().find(|a| a.id == owner) {
            announcement.attachments.push(row.into());
        }
    }
    Ok(())
}

/// The announcement `id`, for those who may read it (`may_read`); which
/// guardians were chosen only for those who see its receipts.
pub(crate) async fn get(ctx: &Ctx, caller: &Caller, id: Uuid) -> AppResult<pb::Announcement> {
    let mut conn = ctx.pool.acquire().await?;
    let oversees = may_read(&mut conn, caller, id).await?;
    let found = announcement(&mut conn, id).await?;
    Ok(if oversees { found } else { unnamed(found) })
}

/// The announcement without the guardians it was sent to by name: a reader learns
/// what it says, not whom the school wrote to.
fn unnamed(mut announcement: pb::Announcement) -> pb::Announcement {
    if let Some(pb::Audience {
        scope: Some(Scope::Guardians(chosen)),
    }) = &mut announcement.audience
    {
        chosen.guardian_ids.clear();
    }
    announcement
}

/// Whether the caller may read the announcement `id` (and download what it
/// carries): a guardian it was addressed to, once shown; those who see its
/// receipts (then `true`: they oversee it); once shown, whoever its
/// classification includes.
pub(crate) async fn may_read(
    conn: &mut PgConnection,
    caller: &Caller,
    id: Uuid,
) -> AppResult<bool> {
    let row = announcement_row(conn, id).await?;
    let scope = match row.school_id {
        Some(school) => Target::school(row.district_id, school),
        None => Target::district(row.district_id),
    };
    if rules::may_see_receipts(caller, row.author_account_id == caller.account_id, &scope) {
        return Ok(true);
    }
    let addressed: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM announcement_recipients \
         WHERE announcement_id = $1 AND guardian_id = $2 AND visible_at <= now())",
    )
    .bind(id)
    .bind(caller.person_id)
    .fetch_one(&mut *conn)
    .await?;
    if addressed || classification_includes(conn, caller, &row).await? {
        Ok(false)
    } else {
        Err(tonic::Status::permission_denied(
            "this announcement was not sent to you, and its classification does not include you",
        )
        .into())
    }
}

/// Whether the announcement `row`, once shown, is one the caller reads by its
/// classification: in its school, by the filter posts and bulletins read with; a
/// district's `public` or `school` one, by the district office and the staff of
/// the district's schools.
async fn classification_includes(
    conn: &mut PgConnection,
    caller: &Caller,
    row: &AnnouncementRow,
) -> AppResult<bool> {
    if row.visible_at > OffsetDateTime::now_utc()
        || row.classification == Classification::Confidential.as_str_name()
    {
        return Ok(false);
    }
    let Some(school) = row.school_id else {
        if caller.holds(DISTRICT_OFFICE, &Target::district(row.district_id)) {
            return Ok(true);
        }
        let district_staff: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM staff s JOIN schools sc ON sc.id = s.school_id \
             WHERE s.id = $1 AND sc.district_id = $2)",
        )
        .bind(caller.person_id)
        .bind(row.district_id)
        .fetch_one(conn)
        .await?;
        return Ok(district_staff);
    };
    let place = SchoolOf {
        district: row.district_id,
        school,
        class: row.class_id,
    };
    let policy = policy::rules_of(&policy::load(conn, school).await?);
    let standing = posts::standing(conn, caller, &place).await?;
    let visibility = posts::rules::visibility(&standing, &policy);
    let sql = format!(
        "SELECT EXISTS (SELECT 1 FROM announcements a WHERE a.id = $6 AND {})",
        visibility::visible(&CLASSIFIED)
    );
    let (visible,): (bool,) =
        visibility::bind(sqlx::query_as(sqlx::AssertSqlSafe(sql)), &visibility)
            .bind(row.id)
            .fetch_one(conn)
            .await?;
    Ok(visible)
}

#[derive(sqlx::FromRow)]
struct Received {
    #[sqlx(flatten)]
    announcement: AnnouncementRow,
    delivered_at: Option<OffsetDateTime>,
    read_at: Option<OffsetDateTime>,
    acknowledged_at: Option<OffsetDateTime>,
}

fn state(
    id: Uuid,
    delivered: Option<OffsetDateTime>,
    read: Option<OffsetDateTime>,
    acknowledged: Option<OffsetDateTime>,
) -> pb::AnnouncementState {
    let at = |at: Option<OffsetDateTime>| at.map(kernel::dates::rfc3339).unwrap_or_default();
    pb::AnnouncementState {
        announcement_id: id.to_string(),
        delivered_at: at(delivered),
        read_at: at(read),
        acknowledged_at: at(acknowledged),
    }
}

/// The guardian's visible announcements after `cursor`, newest first; listing
/// them delivers them.
pub(crate) async fn list(
    ctx: &Ctx,
    caller: &Caller,
    cursor: &str,
    limit: i64,
) -> AppResult<pb::ListAnnouncementsResponse> {
    let Some(guardian) = caller.person_id else {
        return Ok(pb::ListAnnouncementsResponse::default());
    };
    let (before_at, before_id) = cursor::before(cursor)?;
    let mut conn = ctx.pool.acquire().await?;
    let sql = format!(
        "SELECT {ANNOUNCEMENT_COLUMNS}, r.delivered_at, r.read_at, r.acknowledged_at \
         FROM announcement_recipients r JOIN announcements a ON a.id = r.announcement_id \
         WHERE r.guardian_id = $1 AND r.visible_at <= now() AND (r.visible_at, r.announcement_id) < ($2, $3) \
         ORDER BY r.visible_at DESC, r.announcement_id DESC LIMIT $4"
    );
    let rows: Vec<Received> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(guardian)
        .bind(before_at)
        .bind(before_id)
        .bind(limit + 1)
        .fetch_all(&mut *conn)
        .await?;
    let more = rows.len() as i64 > limit;
    let rows: Vec<Received> = rows.into_iter().take(limit as usize).collect();
    let ids: Vec<Uuid> = rows.iter().map(|row| row.announcement.id).collect();
    let sql = format!(
        "WITH changed AS (UPDATE announcement_recipients SET delivered_at = now() \
         WHERE guardian_id = $1 AND announcement_id = ANY($2) AND delivered_at IS NULL \
         RETURNING announcement_id, delivered_at), {} \
         SELECT announcement_id, delivered_at FROM changed",
        receipts::MARK_CHANGED
    );
    let delivered: Vec<(Uuid, OffsetDateTime)> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(guardian)
        .bind(&ids)
        .fetch_all(&mut *conn)
        .await?;
    let next_cursor = match (more, rows.last()) {
        (true, Some(last)) => {
            cursor::after_entry(last.announcement.visible_at, last.announcement.id)
        }
        _ => String::new(),
    };
    let mut entries: Vec<pb::AnnouncementForGuardian> = rows
        .into_iter()
        .map(|row| {
            let id = row.announcement.id;
            let delivered_at = row
                .delivered_at
                .or_else(|| delivered.iter().find(|(d, _)| *d == id).map(|(_, at)| *at));
            pb::AnnouncementForGuardian {
                state: Some(state(id, delivered_at, row.read_at, row.acknowledged_at)),
                announcement: Some(unnamed(row.announcement.into())),
            }
        })
        .collect();
    let mut shown: Vec<pb::Announcement> = entries
        .iter_mut()
        .filter_map(|entry| entry.announcement.take())
        .collect();
    with_attachments(&mut conn, &mut shown).await?;
    for (entry, announcement) in entries.iter_mut().zip(shown) {
        entry.announcement = Some(announcement);
    }
    Ok(pb::ListAnnouncementsResponse {
        entries,
        next_cursor,
    })
}

/// The announcement `id` as `guardian` has it, if it is addressed to them and
/// shown by now.
pub(crate) async fn received(
    conn: &mut PgConnection,
    id: Uuid,
    guardian: Uuid,
) -> AppResult<Option<pb::AnnouncementForGuardian>> {
    let sql = format!(
        "SELECT {ANNOUNCEMENT_COLUMNS}, r.delivered_at, r.read_at, r.acknowledged_at \
         FROM announcement_recipients r JOIN announcements a ON a.id = r.announcement_id \
         WHERE r.announcement_id = $1 AND r.guardian_id = $2 AND r.visible_at <= now()"
    );
    let row: Option<Received> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .bind(guardian)
        .fetch_optional(&mut *conn)
        .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let mut announcement = unnamed(row.announcement.into());
    with_attachments(conn, std::slice::from_mut(&mut announcement)).await?;
    Ok(Some(pb::AnnouncementForGuardian {
        state: Some(state(
            id,
            row.delivered_at,
            row.read_at,
            row.acknowledged_at,
        )),
        announcement: Some(announcement),
    }))
}

/// A guardian read, or confirmed, an announcement addressed to them.
pub(crate) async fn mark(
    ctx: &Ctx,
    caller: &Caller,
    announcement_id: Uuid,
    acknowledge: bool,
) -> AppResult<pb::AnnouncementState> {
    let guardian = caller.person_id.unwrap_or_default();
    let mut conn = ctx.pool.acquire().await?;
    if acknowledge {
        let asks: Option<bool> =
            sqlx::query_scalar("SELECT requires_ack FROM announcements WHERE id = $1")
                .bind(announcement_id)
                .fetch_optional(&mut *conn)
                .await?;
        if asks == Some(false) {
            return Err(AppError::Rejected(
                "this announcement asks for no confirmation".to_owned(),
            ));
        }
    }
    let sql = format!(
        "WITH changed AS (UPDATE announcement_recipients SET delivered_at = coalesce(delivered_at, now()), \
         read_at = coalesce(read_at, now()), \
         acknowledged_at = CASE WHEN $3 THEN coalesce(acknowledged_at, now()) ELSE acknowledged_at END \
         WHERE announcement_id = $1 AND guardian_id = $2 AND visible_at <= now() \
         RETURNING announcement_id, delivered_at, read_at, acknowledged_at), {}, {} \
         SELECT delivered_at, read_at, acknowledged_at FROM changed",
        receipts::MARK_CHANGED,
        crate::delivery::MARK_READ
    );
    let row: Option<(
        Option<OffsetDateTime>,
        Option<OffsetDateTime>,
        Option<OffsetDateTime>,
    )> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(announcement_id)
        .bind(guardian)
        .bind(acknowledge)
        .fetch_optional(&mut *conn)
        .await?;
    let (delivered, read, acknowledged) = row.ok_or(AppError::NotFound("announcement"))?;
    Ok(state(announcement_id, delivered, read, acknowledged))
}

/// Who of the guardians `missing` leaves out, after `cursor`.
pub(crate) struct Missing {
    pub(crate) filter: pb::RecipientFilter,
    pub(crate) limit: i64,
    pub(crate) after: Option<Uuid>,
}

pub(crate) async fn receipts(
    ctx: &Ctx,
    caller: &Caller,
    announcement_id: Uuid,
    missing: Missing,
) -> AppResult<pb::AnnouncementReceipts> {
    let mut conn = ctx.pool.acquire().await?;
    let row = announcement_row(&mut conn, announcement_id).await?;
    let scope = match row.school_id {
        Some(school) => Target::school(row.district_id, school),
        None => Target::district(row.district_id),
    };
    if !rules::may_see_receipts(caller, row.author_account_id == caller.account_id, &scope) {
        return Err(tonic::Status::permission_denied(
            "its sender, the school's leaders and the district's administrators see the receipts",
        )
        .into());
    }
    let (recipients, delivered, read, acknowledged): (i64, i64, i64, i64) = sqlx::query_as(
        "SELECT count(*), count(delivered_at), count(read_at), count(acknowledged_at) \
         FROM announcement_recipients WHERE announcement_id = $1",
    )
    .bind(announcement_id)
    .fetch_one(&mut *conn)
    .await?;
    let column = match missing.filter {
        pb::RecipientFilter::NotRead => Some("read_at"),
        pb::RecipientFilter::NotAcknowledged => Some("acknowledged_at"),
        pb::RecipientFilter::Unspecified => None,
    };
    let mut guardian_ids = Vec::new();
    let mut next_cursor = String::new();
    if let Some(column) = column {
        let sql = format!(
            "SELECT guardian_id FROM announcement_recipients \
             WHERE announcement_id = $1 AND {column} IS NULL AND guardian_id > $2 \
             ORDER BY guardian_id LIMIT $3"
        );
        let ids: Vec<Uuid> = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .bind(announcement_id)
            .bind(missing.after.unwrap_or(Uuid::nil()))
            .bind(missing.limit + 1)
            .fetch_all(&mut *conn)
            .await?;
        if ids.len() as i64 > missing.limit {
            next_cursor = ids[missing.limit as usize - 1].to_string();
        }
        guardian_ids = ids
            .into_iter()
            .take(missing.limit as usize)
            .map(|id| id.to_string())
            .collect();
    }
    Ok(pb::AnnouncementReceipts {
        announcement_id: announcement_id.to_string(),
        recipients,
        delivered,
        read,
        acknowledged,
        guardian_ids,
        next_cursor,
    })
}
