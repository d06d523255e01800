//! What became of deliveries beyond the app: a notice's (`ListNoticeDeliveries`,
//! for its guardian and the school's leaders), a school's with its dead letters
//! (`ListDeliveries`), and the month's costs per school and channel with what
//! free delivery saved (`GetDeliveryCosts`).

use std::collections::BTreeMap;

use kernel::auth::{Caller, Target};
use kernel::error::{AppError, AppResult};
use lienlac_proto::messaging::v1 as pb;
use school::roles::{DISTRICT_OFFICE, SCHOOL_LEADERS};
use time::{Date, OffsetDateTime};
use uuid::Uuid;

use super::Channel;
use crate::posts::SchoolOf;
use crate::{Ctx, cursor};

/// The SMS parts a notice takes (a Vietnamese notice is 71 to 134 characters):
/// what a notice delivered free would have cost by SMS.
const SMS_PARTS_OF_A_NOTICE: i64 = 2;

#[derive(sqlx::FromRow)]
struct DeliveryRow {
    id: Uuid,
    notice_id: Uuid,
    recipient_id: Uuid,
    channel: i16,
    state: String,
    attempts: i32,
    due_at: OffsetDateTime,
    sent_at: Option<OffsetDateTime>,
    last_error: Option<String>,
    cost_vnd: i32,
    fallback: bool,
    digest: bool,
    kind: i16,
    created_at: OffsetDateTime,
}

const DELIVERY_COLUMNS: &str = "id, notice_id, recipient_id, channel, state, attempts, due_at, \
    sent_at, last_error, cost_vnd, fallback, digest, kind, created_at";

fn delivery_of(row: DeliveryRow) -> pb::Delivery {
    pb::Delivery {
        id: row.id.to_string(),
        notice_id: row.notice_id.to_string(),
        recipient_id: row.recipient_id.to_string(),
        channel: i32::from(row.channel),
        state: row.state,
        attempts: row.attempts,
        due_at: kernel::dates::rfc3339(row.due_at),
        sent_at: row.sent_at.map(kernel::dates::rfc3339).unwrap_or_default(),
        last_error: row.last_error.unwrap_or_default(),
        cost_vnd: row.cost_vnd,
        fallback: row.fallback,
        digest: row.digest,
        announcement: row.kind == super::Kind::Announcement as i16,
    }
}

/// The deliveries of notice `id`, for its guardian or the school's leaders.
pub(crate) async fn of_notice(
    ctx: &Ctx,
    caller: &Caller,
    id: Uuid,
) -> AppResult<pb::ListNoticeDeliveriesResponse> {
    let notice: Option<(Uuid, Uuid, Uuid)> = sqlx::query_as(
        "SELECT n.guardian_id, s.id, s.district_id FROM absence_notices n \
         JOIN classes c ON c.id = n.class_id JOIN schools s ON s.id = c.school_id \
         WHERE n.id = $1",
    )
    .bind(id)
    .fetch_optional(&ctx.pool)
    .await?;
    let (guardian, school, district) = notice.ok_or(AppError::NotFound("notice"))?;
    if caller.person_id != Some(guardian)
        && !caller.holds(SCHOOL_LEADERS, &Target::school(district, school))
    {
        return Err(AppError::NotFound("notice"));
    }
    let rows: Vec<DeliveryRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE notice_id = $1 ORDER BY due_at, channel"
    )))
    .bind(id)
    .fetch_all(&ctx.pool)
    .await?;
    Ok(pb::ListNoticeDeliveriesResponse {
        deliveries: rows.into_iter().map(delivery_of).collect(),
    })
}

/// The school's deliveries, newest first, of `state` if given.
pub(crate) async fn of_school(
    ctx: &Ctx,
    caller: &Caller,
    school: Uuid,
    state: Option<String>,
    page_cursor: &str,
    limit: i64,
) -> AppResult<pb::ListDeliveriesResponse> {
    let mut conn = ctx.pool.acquire().await?;
    let place = SchoolOf::school(&mut conn, school).await?;
    caller.require(SCHOOL_LEADERS, &Target::school(place.district, school))?;
    let (before_at, before_id) = cursor::before(page_cursor)?;
    let rows: Vec<DeliveryRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE school_id = $1 \
         AND ($2::text IS NULL OR state = $2) AND (created_at, id) < ($3, $4) \
         ORDER BY created_at DESC, id DESC LIMIT $5"
    )))
    .bind(school)
    .bind(state)
    .bind(before_at)
    .bind(before_id)
    .bind(limit + 1)
    .fetch_all(&mut *conn)
    .await?;
    let more = rows.len() as i64 > limit;
    let rows: Vec<DeliveryRow> = rows.into_iter().take(limit as usize).collect();
    let next_cursor = match (more, rows.last()) {
        (true, Some(last)) => cursor::after_entry(last.created_at, last.id),
        _ => String::new(),
    };
    Ok(pb::ListDeliveriesResponse {
        deliveries: rows.into_iter().map(delivery_of).collect(),
        next_cursor,
    })
}

/// Whose costs: one school, or every school of a district.
pub(crate) enum Scope {
    School(Uuid),
    District(Uuid),
}

#[derive(sqlx::FromRow)]
struct ChannelRow {
    school_id: Uuid,
    channel: i16,
    sent: i64,
    delivered: i64,
    failed: i64,
    cost_vnd: i64,
}

#[derive(sqlx::FromRow)]
struct NoticeRow {
    school_id: Uuid,
    notices: i64,
    free_notices: i64,
}

/// The messages and costs in `scope` from `first` to `last` (a month);
/// `sms_price` is one SMS part's, for what free delivery saved.
pub(crate) async fn costs(
    ctx: &Ctx,
    caller: &Caller,
    scope: Scope,
    (first, last): (Date, Date),
    sms_price: i64,
) -> AppResult<pb::DeliveryCosts> {
    let mut conn = ctx.pool.acquire().await?;
    let schools: Vec<Uuid> = match scope {
        Scope::School(school) => {
            let place = SchoolOf::school(&mut conn, school).await?;
            let target = Target::school(place.district, school);
            if !caller.holds(SCHOOL_LEADERS, &target) && !caller.holds(DISTRICT_OFFICE, &target) {
                return Err(tonic::Status::permission_denied(
                    "a school's leaders and its district office read its costs",
                )
                .into());
            }
            vec![school]
        }
        Scope::District(district) => {
            caller.require(DISTRICT_OFFICE, &Target::district(district))?;
            sqlx::query_scalar("SELECT id FROM schools WHERE district_id = $1 ORDER BY id")
                .bind(district)
                .fetch_all(&mut *conn)
                .await?
        }
    };
    // The month in Việt Nam's time.
    let local_month = "(created_at AT TIME ZONE 'Asia/Ho_Chi_Minh')::date BETWEEN $2 AND $3";
    let channels: Vec<ChannelRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT school_id, channel, \
             count(*) FILTER (WHERE state IN ('sent', 'delivered', 'read')) AS sent, \
             count(*) FILTER (WHERE state IN ('delivered', 'read')) AS delivered, \
             count(*) FILTER (WHERE state = 'failed') AS failed, \
             coalesce(sum(cost_vnd), 0)::bigint AS cost_vnd \
         FROM deliveries WHERE school_id = ANY($1) AND {local_month} \
         GROUP BY school_id, channel ORDER BY school_id, channel"
    )))
    .bind(&schools)
    .bind(first)
    .bind(last)
    .fetch_all(&mut *conn)
    .await?;
    let notices: Vec<NoticeRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT c.school_id, count(*) AS notices, \
             count(*) FILTER (WHERE NOT EXISTS (SELECT 1 FROM deliveries d \
                 WHERE d.notice_id = n.id AND d.channel IN (3, 4) \
                 AND d.state IN ('sent', 'delivered', 'read'))) AS free_notices \
         FROM absence_notices n JOIN classes c ON c.id = n.class_id \
         WHERE c.school_id = ANY($1) AND {} GROUP BY c.school_id",
        local_month.replace("created_at", "n.created_at")
    )))
    .bind(&schools)
    .bind(first)
    .bind(last)
    .fetch_all(&mut *conn)
    .await?;
    let mut per_school: BTreeMap<Uuid, pb::SchoolDeliveryCosts> = schools
        .iter()
        .map(|school| {
            (
                *school,
                pb::SchoolDeliveryCosts {
                    school_id: school.to_string(),
                    ..Default::default()
                },
            )
        })
        .collect();
    for row in channels {
        if let Some(school) = per_school.get_mut(&row.school_id) {
            school.cost_vnd += row.cost_vnd;
            school.channels.push(pb::ChannelCosts {
                channel: Channel::of(row.channel).map_or(0, |c| c as i32),
                sent: row.sent as i32,
                delivered: row.delivered as i32,
                failed: row.failed as i32,
                cost_vnd: row.cost_vnd,
            });
        }
    }
    for row in notices {
        if let Some(school) = per_school.get_mut(&row.school_id) {
            school.notices = row.notices as i32;
            school.free_notices = row.free_notices as i32;
            school.saved_vnd = row.free_notices * SMS_PARTS_OF_A_NOTICE * sms_price;
        }
    }
    let schools: Vec<pb::SchoolDeliveryCosts> = per_school.into_values().collect();
    Ok(pb::DeliveryCosts {
        month: kernel::dates::month_of(first),
        cost_vnd: schools.iter().map(|s| s.cost_vnd).sum(),
        saved_vnd: schools.iter().map(|s| s.saved_vnd).sum(),
        schools,
    })
}
