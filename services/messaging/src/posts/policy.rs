//! A school's publishing policy (rules.rs `Policy`): read by its staff and the
//! district office, set by its principal or the district's administrators as the
//! event `SchoolPolicySet` on the stream `school-policy:<school>`.

use kernel::auth::{Caller, Role, Target};
use kernel::command::idempotent;
use kernel::error::AppResult;
use kernel::event_store::{EventMeta, ExpectedVersion, NewEvent, RequestKey, stream_version};
use kernel::write_model::append_and_project;
use lienlac_proto::messaging::v1 as pb;
use lienlac_proto::messaging::v1::Classification;
use sqlx::PgConnection;
use time::OffsetDateTime;
use uuid::Uuid;

use super::rules::{self, Policy};
use super::{SchoolOf, standing};
use crate::Ctx;
use crate::write_model::MessagingTables;

#[derive(sqlx::FromRow)]
struct PolicyRow {
    allowed: Vec<String>,
    default_classification: String,
    trusted_staff_ids: Vec<Uuid>,
    moderator_ids: Vec<Uuid>,
    public_feed: bool,
    notify_late: bool,
    paid_channels: Vec<i16>,
    fallback_minutes: i32,
    updated_at: OffsetDateTime,
    updated_by: Uuid,
}

/// The school's policy as set, or the default one.
pub(crate) async fn load(conn: &mut PgConnection, school: Uuid) -> AppResult<pb::SchoolPolicy> {
    let row: Option<PolicyRow> = sqlx::query_as(
        "SELECT allowed, default_classification, trusted_staff_ids, moderator_ids, public_feed, \
         notify_late, paid_channels, fallback_minutes, updated_at, updated_by \
         FROM school_policies WHERE school_id = $1",
    )
    .bind(school)
    .fetch_optional(conn)
    .await?;
    let strings = |ids: Vec<Uuid>| ids.iter().map(Uuid::to_string).collect();
    let value = |name: &str| Classification::from_str_name(name).unwrap_or_default() as i32;
    Ok(match row {
        Some(row) => pb::SchoolPolicy {
            school_id: school.to_string(),
            allowed: row.allowed.iter().map(|name| value(name)).collect(),
            default_classification: value(&row.default_classification),
            trusted_staff_ids: strings(row.trusted_staff_ids),
            moderator_ids: strings(row.moderator_ids),
            public_feed: row.public_feed,
            notify_late: row.notify_late,
            paid_channels: row.paid_channels.into_iter().map(i32::from).collect(),
            fallback_minutes: row.fallback_minutes,
            updated_at: kernel::dates::rfc3339(row.updated_at),
            updated_by: row.updated_by.to_string(),
        },
        None => {
            let policy = Policy::default();
            pb::SchoolPolicy {
                school_id: school.to_string(),
                allowed: policy.allowed.iter().map(|c| *c as i32).collect(),
                default_classification: policy.default as i32,
                public_feed: policy.public_feed,
                fallback_minutes: policy.fallback_minutes,
                ..pb::SchoolPolicy::default()
            }
        }
    })
}

/// The rules' view of a policy as stored.
pub(crate) fn rules_of(policy: &pb::SchoolPolicy) -> Policy {
    let ids = |texts: &[String]| texts.iter().filter_map(|t| t.parse().ok()).collect();
    Policy {
        allowed: policy
            .allowed
            .iter()
            .filter_map(|c| Classification::try_from(*c).ok())
            .collect(),
        default: Classification::try_from(policy.default_classification).unwrap_or_default(),
        trusted: ids(&policy.trusted_staff_ids),
        moderators: ids(&policy.moderator_ids),
        public_feed: policy.public_feed,
        notify_late: policy.notify_late,
        paid_channels: policy
            .paid_channels
            .iter()
            .filter_map(|c| i16::try_from(*c).ok())
            .collect(),
        fallback_minutes: policy.fallback_minutes,
    }
}

pub(crate) async fn get(ctx: &Ctx, caller: &Caller, school: Uuid) -> AppResult<pb::SchoolPolicy> {
    let mut conn = ctx.pool.acquire().await?;
    let place = SchoolOf::school(&mut conn, school).await?;
    let standing = standing(&mut conn, caller, &place).await?;
    if !(standing.staff || standing.leads || standing.district_office) {
        return Err(tonic::Status::permission_denied(
            "the school's staff and the district office read its policy",
        )
        .into());
    }
    load(&mut conn, school).await
}

pub(crate) async fn set(
    ctx: &Ctx,
    caller: &Caller,
    request: RequestKey,
    school: Uuid,
    policy: Policy,
) -> AppResult<pb::SchoolPolicy> {
    let by = caller.clone();
    idempotent(&ctx.pool, &request, move |tx| {
        Box::pin(async move {
            let place = SchoolOf::school(tx, school).await?;
            let target = Target::school(place.district, school);
            rules::may_set_policy(
                by.holds(&[Role::Principal], &target),
                by.holds(&[Role::DistrictAdmin], &target),
            )
            .map_err(|refusal| tonic::Status::permission_denied(refusal.to_string()))?;
            for (field, people) in [
                ("policy.trusted_staff_ids", &policy.trusted),
                ("policy.moderator_ids", &policy.moderators),
            ] {
                let staff: i64 = sqlx::query_scalar(
                    "SELECT count(*) FROM staff WHERE school_id = $1 AND id = ANY($2)",
                )
                .bind(school)
                .bind(people)
                .fetch_one(&mut *tx)
                .await?;
                if staff != people.len() as i64 {
                    return Err(tonic::Status::invalid_argument(format!(
                        "{field}: {} of them are not staff of the school",
                        people.len() as i64 - staff
                    ))
                    .into());
                }
            }
            let stream = format!("school-policy:{school}");
            kernel::db::lock_until_commit(tx, &stream).await?;
            let version = stream_version(tx, &stream)
                .await
                .map_err(kernel::event_store::AppendError::from)?;
            let strings = |ids: &[Uuid]| ids.iter().map(Uuid::to_string).collect();
            let event = pb::SchoolPolicySet {
                policy: Some(pb::SchoolPolicy {
                    school_id: school.to_string(),
                    allowed: policy.allowed.iter().map(|c| *c as i32).collect(),
                    default_classification: policy.default as i32,
                    trusted_staff_ids: strings(&policy.trusted),
                    moderator_ids: strings(&policy.moderators),
                    public_feed: policy.public_feed,
                    notify_late: policy.notify_late,
                    paid_channels: policy.paid_channels.iter().map(|c| i32::from(*c)).collect(),
                    fallback_minutes: policy.fallback_minutes,
                    updated_at: String::new(),
                    updated_by: by.account_id.to_string(),
                }),
            };
            let event = NewEvent::from_message(&event).map_err(anyhow::Error::from)?;
            let meta = EventMeta::for_command(Some(by.account_id.to_string()))
                .in_tenant(place.district, Some(school));
            append_and_project(
                tx,
                &MessagingTables,
                &stream,
                ExpectedVersion::from_loaded(version),
                &[event],
                &meta,
            )
            .await?;
            load(tx, school).await
        })
    })
    .await
}
