//! `GetPushStatus`: every class of a school in the month's school year, and how
//! its month went to the city database.

use kernel::error::AppResult;
use lienlac_proto::sync::v1 as pb;
use sqlx::PgConnection;
use uuid::Uuid;

/// A class and its month's push, if the month was closed.
#[derive(sqlx::FromRow)]
struct ClassRow {
    id: Uuid,
    name: String,
    external_ref: String,
    state: Option<String>,
    reason: Option<String>,
    attempts: Option<i32>,
    sent_at: Option<time::OffsetDateTime>,
    amended: Option<bool>,
}

pub(crate) async fn of_school(
    conn: &mut PgConnection,
    school: Uuid,
    month: &str,
    school_year: &str,
) -> AppResult<pb::PushStatus> {
    let rows: Vec<ClassRow> = sqlx::query_as(
        "SELECT c.id, c.name, c.external_ref, p.state, p.reason, p.attempts, p.sent_at, p.amended \
             FROM classes c LEFT JOIN month_pushes p ON p.class_id = c.id AND p.month = $2 \
             WHERE c.school_id = $1 AND c.school_year = $3 ORDER BY c.grade, c.name",
    )
    .bind(school)
    .bind(month)
    .bind(school_year)
    .fetch_all(conn)
    .await?;
    let classes: Vec<pb::ClassPush> = rows
        .into_iter()
        .map(|row| pb::ClassPush {
            class_id: row.id.to_string(),
            class_name: row.name,
            class_ref: row.external_ref,
            state: row.state.unwrap_or_else(|| "not_closed".to_owned()),
            reason: row.reason.unwrap_or_default(),
            attempts: row.attempts.unwrap_or_default(),
            sent_at: row
                .sent_at
                .and_then(|at| {
                    at.format(&time::format_description::well_known::Rfc3339)
                        .ok()
                })
                .unwrap_or_default(),
            amended: row.amended.unwrap_or_default(),
        })
        .collect();
    Ok(pb::PushStatus {
        school_id: school.to_string(),
        month: month.to_owned(),
        sent: classes.iter().filter(|c| c.state == "sent").count() as i32,
        classes_total: classes.len() as i32,
        classes,
    })
}
