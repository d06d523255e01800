//! Bulletins: a class's weekly timetable, a school's weekly meal menu, a class's
//! curriculum plan. Each publication is a new version in force from its effective
//! date, an event `BulletinPublished` on `bulletin:<kind>:<class or school>` with
//! its content kept in the stored event, and an announcement to the guardians it
//! concerns (announcements/mod.rs). Reads answer the version in force on a day for
//! a guardian's child, a class or a school, within its classification.

pub(crate) mod content;
pub(crate) mod rules;

use kernel::auth::Caller;
use kernel::command::idempotent;
use kernel::error::{AppError, AppResult};
use kernel::event_store::{EventMeta, ExpectedVersion, NewEvent, RequestKey, stream_version};
use kernel::write_model::append_and_project;
use lienlac_proto::messaging::v1 as pb;
use lienlac_proto::messaging::v1::audience::Scope;
use lienlac_proto::messaging::v1::{BulletinKind, Classification, bulletin};
use sqlx::PgConnection;
use time::{Date, OffsetDateTime};
use uuid::Uuid;

use crate::announcements::{self, NewAnnouncement};
use crate::posts::{SchoolOf, policy, standing};
use crate::visibility::{self, Columns};
use crate::write_model::{MessagingTables, kept};
use crate::{Ctx, posts};

impl From<rules::Refusal> for AppError {
    fn from(refusal: rules::Refusal) -> Self {
        tonic::Status::permission_denied(refusal.to_string()).into()
    }
}

/// A bulletin's content, one of the three kinds.
pub(crate) enum Content {
    Timetable(pb::Timetable),
    Menu(pb::Menu),
    Plan(pb::CurriculumPlan),
}

impl Content {
    fn kind(&self) -> BulletinKind {
        match self {
            Content::Timetable(_) => BulletinKind::Timetable,
            Content::Menu(_) => BulletinKind::Menu,
            Content::Plan(_) => BulletinKind::CurriculumPlan,
        }
    }

    fn json(&self) -> serde_json::Result<serde_json::Value> {
        match self {
            Content::Timetable(timetable) => serde_json::to_value(timetable),
            Content::Menu(menu) => serde_json::to_value(menu),
            Content::Plan(plan) => serde_json::to_value(plan),
        }
    }
}

pub(crate) struct NewBulletin {
    /// The class of a timetable or plan, the school of a menu.
    pub(crate) scope: Uuid,
    pub(crate) effective_from: Date,
    pub(crate) classification: Classification,
    pub(crate) content: Content,
}

/// What the guardians are told: in Vietnamese, as the school would write it.
fn notice(kind: BulletinKind, class_name: Option<&str>, from: Date) -> (String, String) {
    let from = format!(
        "{:02}/{:02}/{}",
        from.day(),
        u8::from(from.month()),
        from.year()
    );
    let class = class_name.unwrap_or_default();
    match kind {
        BulletinKind::Menu => (
            format!("Thực đơn mới từ ngày {from}"),
            format!("Nhà trường cập nhật thực đơn bán trú áp dụng từ ngày {from}."),
        ),
        BulletinKind::CurriculumPlan => (
            format!("Kế hoạch dạy học lớp {class} từ ngày {from}"),
            format!("Kế hoạch dạy học của lớp {class} được cập nhật, áp dụng từ ngày {from}."),
        ),
        _ => (
            format!("Thời khóa biểu lớp {class} từ ngày {from}"),
            format!("Thời khóa biểu của lớp {class} được cập nhật, áp dụng từ ngày {from}."),
        ),
    }
}

pub(crate) async fn publish(
    ctx: &Ctx,
    caller: &Caller,
    request: RequestKey,
    new: NewBulletin,
) -> AppResult<pb::Bulletin> {
    let by = caller.clone();
    idempotent(&ctx.pool, &request, move |tx| {
        Box::pin(async move {
            let kind = new.content.kind();
            let place = if kind == BulletinKind::Menu {
                SchoolOf::school(tx, new.scope).await?
            } else {
                SchoolOf::class(tx, new.scope).await?
            };
            let target = match place.class {
                Some(class) => kernel::auth::Target::class(place.district, place.school, class),
                None => kernel::auth::Target::school(place.district, place.school),
            };
            rules::may_publish(&by, kind, &target)?;
            let policy = policy::rules_of(&policy::load(tx, place.school).await?);
            // A bulletin names no recipients: where the school's default is
            // confidential, an unclassified bulletin is the school's.
            let requested = match (new.classification, policy.default) {
                (Classification::Unspecified, Classification::Confidential) => {
                    Classification::School
                }
                (requested, _) => requested,
            };
            let classification =
                posts::rules::classify(&policy, requested, place.class.is_some(), 0)?;

            let stream = format!("bulletin:{}:{}", kind.as_str_name(), new.scope);
            kernel::db::lock_until_commit(tx, &stream).await?;
            let version = stream_version(tx, &stream)
                .await
                .map_err(kernel::event_store::AppendError::from)?;

            let class_name: Option<String> =
                sqlx::query_scalar("SELECT name FROM classes WHERE id = $1")
                    .bind(place.class)
                    .fetch_optional(&mut *tx)
                    .await?;
            let (title, body) = notice(kind, class_name.as_deref(), new.effective_from);
            let audience = pb::Audience {
                scope: Some(match place.class {
                    Some(class) => Scope::ClassId(class.to_string()),
                    None => Scope::SchoolId(place.school.to_string()),
                }),
            };
            let resolved = announcements::resolve(tx, &audience).await?;
            let told = NewAnnouncement {
                audience,
                title,
                body,
                requires_ack: false,
                visible_at: None,
                attachments: Vec::new(),
                classification,
                emergency: false,
            };
            let announcement = announcements::announce(tx, &by, &resolved, &told).await?;

            let id = Uuid::now_v7();
            let event = pb::BulletinPublished {
                bulletin_id: id.to_string(),
                kind: kind as i32,
                school_id: place.school.to_string(),
                class_id: place.class.map(|c| c.to_string()).unwrap_or_default(),
                version: version as i32 + 1,
                effective_from: kernel::dates::format(new.effective_from),
                classification: classification as i32,
                published_by: by.account_id.to_string(),
                announcement_id: announcement.to_string(),
            };
            let content = new.content.json().map_err(anyhow::Error::from)?;
            let event = NewEvent::from_message(&event)
                .and_then(|event| event.keeping(kept::CONTENT, content))
                .and_then(|event| event.keeping(kept::PERSON, by.person_id))
                .map_err(anyhow::Error::from)?;
            let meta = EventMeta::for_command(Some(by.account_id.to_string()))
                .in_tenant(place.district, Some(place.school));
            append_and_project(
                tx,
                &MessagingTables,
                &stream,
                ExpectedVersion::from_loaded(version),
                &[event],
                &meta,
            )
            .await?;
            let row: BulletinRow = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT {COLUMNS} FROM bulletins b WHERE b.id = $1"
            )))
            .bind(id)
            .fetch_one(&mut *tx)
            .await?;
            row.into_bulletin(None)
        })
    })
    .await
}

#[derive(sqlx::FromRow)]
struct BulletinRow {
    id: Uuid,
    kind: String,
    school_id: Uuid,
    class_id: Option<Uuid>,
    version: i32,
    effective_from: Date,
    classification: String,
    content: serde_json::Value,
    published_by: Uuid,
    published_at: OffsetDateTime,
    announcement_id: Uuid,
}

const COLUMNS: &str = "b.id, b.kind, b.school_id, b.class_id, b.version, b.effective_from, \
    b.classification, b.content, b.published_by, b.published_at, b.announcement_id";

/// The columns of a bulletin the classification filter reads; a bulletin names no
/// recipients.
const CLASSIFIED: Columns = Columns {
    classification: "b.classification",
    class: "b.class_id",
    recipients: "'{}'::uuid[]",
    author: "b.published_by_person",
};

impl BulletinRow {
    /// The bulletin, a plan cut to the week of `week` when given.
    fn into_bulletin(self, week: Option<Date>) -> AppResult<pb::Bulletin> {
        let kind = BulletinKind::from_str_name(&self.kind).unwrap_or_default();
        let unreadable = |error: serde_json::Error| AppError::Unexpected(error.into());
        let content = match kind {
            BulletinKind::Menu => {
                bulletin::Content::Menu(serde_json::from_value(self.content).map_err(unreadable)?)
            }
            BulletinKind::CurriculumPlan => {
                let mut plan: pb::CurriculumPlan =
                    serde_json::from_value(self.content).map_err(unreadable)?;
                if let Some(monday) = week {
                    let monday = kernel::dates::format(monday);
                    plan.weeks.retain(|w| w.week_of == monday);
                }
                bulletin::Content::CurriculumPlan(plan)
            }
            _ => bulletin::Content::Timetable(
                serde_json::from_value(self.content).map_err(unreadable)?,
            ),
        };
        Ok(pb::Bulletin {
            id: self.id.to_string(),
            kind: kind as i32,
            school_id: self.school_id.to_string(),
            class_id: self.class_id.map(|c| c.to_string()).unwrap_or_default(),
            version: self.version,
            effective_from: kernel::dates::format(self.effective_from),
            classification: Classification::from_str_name(&self.classification).unwrap_or_default()
                as i32,
            published_by: self.published_by.to_string(),
            published_at: kernel::dates::rfc3339(self.published_at),
            content: Some(content),
            announcement_id: self.announcement_id.to_string(),
        })
    }
}

/// Whose bulletin a reader asks for.
pub(crate) enum Subject {
    Student(Uuid),
    Class(Uuid),
    School(Uuid),
}

/// Where the bulletin of `kind` for `subject` on `date` lives: the class (or the
/// school, for a menu) and its school. A student is placed by their enrolment that
/// day, and only their guardians ask by student.
async fn locate(
    conn: &mut PgConnection,
    caller: &Caller,
    kind: BulletinKind,
    subject: Subject,
    date: Date,
) -> AppResult<(Uuid, SchoolOf)> {
    let place = match subject {
        Subject::Student(student) => {
            if !caller.guarded_students().any(|s| s == student) {
                return Err(tonic::Status::permission_denied(
                    "only a student's guardians ask by the student; staff ask by class or school",
                )
                .into());
            }
            let class: Option<Uuid> = sqlx::query_scalar(
                "SELECT class_id FROM enrolment_periods WHERE student_id = $1 \
                 AND from_date <= $2 AND (to_date IS NULL OR to_date > $2) \
                 ORDER BY from_date DESC LIMIT 1",
            )
            .bind(student)
            .bind(date)
            .fetch_optional(&mut *conn)
            .await?;
            let class = class.ok_or(AppError::NotFound("the student's class on that day"))?;
            SchoolOf::class(conn, class).await?
        }
        Subject::Class(class) => SchoolOf::class(conn, class).await?,
        Subject::School(school) => SchoolOf::school(conn, school).await?,
    };
    let scope = match (kind, place.class) {
        (BulletinKind::Menu, _) => place.school,
        (_, Some(class)) => class,
        (_, None) => {
            return Err(tonic::Status::invalid_argument(
                "timetables and curriculum plans are a class's: name a student or a class",
            )
            .into());
        }
    };
    Ok((scope, place))
}

pub(crate) async fn in_force(
    ctx: &Ctx,
    caller: &Caller,
    kind: BulletinKind,
    subject: Subject,
    date: Date,
) -> AppResult<pb::Bulletin> {
    let mut conn = ctx.pool.acquire().await?;
    let (scope, place) = locate(&mut conn, caller, kind, subject, date).await?;
    let policy = policy::rules_of(&policy::load(&mut conn, place.school).await?);
    let reader = posts::rules::visibility(&standing(&mut conn, caller, &place).await?, &policy);
    let sql = format!(
        "SELECT {COLUMNS} FROM bulletins b \
         WHERE b.kind = $1 AND coalesce(b.class_id, b.school_id) = $2 AND b.effective_from <= $3 \
         ORDER BY b.effective_from DESC, b.version DESC LIMIT 1"
    );
    let row: Option<BulletinRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(kind.as_str_name())
        .bind(scope)
        .bind(date)
        .fetch_optional(&mut *conn)
        .await?;
    let row = row.ok_or(AppError::NotFound("a version in force on that day"))?;
    let sql = format!(
        "SELECT {COLUMNS} FROM bulletins b WHERE b.id = $6 AND {}",
        visibility::visible(&CLASSIFIED)
    );
    let readable: Option<BulletinRow> =
        visibility::bind(sqlx::query_as(sqlx::AssertSqlSafe(sql)), &reader)
            .bind(row.id)
            .fetch_optional(&mut *conn)
            .await?;
    let readable = readable.ok_or_else(|| {
        tonic::Status::permission_denied("this bulletin's classification does not include you")
    })?;
    readable.into_bulletin(Some(rules::week_of(date)))
}
