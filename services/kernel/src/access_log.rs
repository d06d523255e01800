//! The access log: every read of a student's personal data appends who read it,
//! in which roles, through which RPC and when, to the reading service's own
//! `data_access` table; never the data itself. It answers the data subject's
//! right to know who processed their data (docs/privacy.md).

use sqlx::{PgConnection, PgPool};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::auth::{Caller, Target};

/// One read of one student's data.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct DataAccess {
    pub student_id: Uuid,
    pub account_id: Uuid,
    pub person_id: Option<Uuid>,
    pub roles: Vec<String>,
    pub what: String,
    pub read_at: OffsetDateTime,
}

/// Records that `caller` read, through `what`, the data of each student in
/// `students` (each with where the student is, for the roles that cover them).
/// The read fails if its record does: a read that is not logged is not served.
pub async fn record(
    conn: &mut PgConnection,
    caller: &Caller,
    what: &str,
    students: &[(Uuid, Target)],
) -> Result<(), sqlx::Error> {
    if students.is_empty() {
        return Ok(());
    }
    let ids: Vec<Uuid> = students.iter().map(|(id, _)| *id).collect();
    // Role names are fixed words (`Role::as_str`): a comma joins them per student.
    let roles: Vec<String> = students
        .iter()
        .map(|(_, target)| caller.roles_over(target).join(","))
        .collect();
    sqlx::query(
        "INSERT INTO data_access (student_id, account_id, person_id, roles, what) \
         SELECT student, $2, $3, string_to_array(nullif(roles, ''), ','), $4 \
         FROM unnest($1::uuid[], $5::text[]) AS r(student, roles)",
    )
    .bind(&ids)
    .bind(caller.account_id)
    .bind(caller.person_id)
    .bind(what)
    .bind(&roles)
    .execute(conn)
    .await?;
    Ok(())
}

/// [`record`] on a connection of `pool`.
pub async fn record_in(
    pool: &PgPool,
    caller: &Caller,
    what: &str,
    students: &[(Uuid, Target)],
) -> Result<(), sqlx::Error> {
    record(&mut *pool.acquire().await?, caller, what, students).await
}

/// The most reads [`reads_of`] answers with.
pub const MAX_READS: i64 = 10_000;

/// The reads of `student`'s data from `from` to `to` (inclusive), oldest first; the
/// latest [`MAX_READS`] when there are more.
pub async fn reads_of(
    pool: &PgPool,
    student: Uuid,
    from: OffsetDateTime,
    to: OffsetDateTime,
) -> Result<Vec<DataAccess>, sqlx::Error> {
    let mut reads: Vec<DataAccess> = sqlx::query_as(
        "SELECT student_id, account_id, person_id, coalesce(roles, '{}') AS roles, what, read_at \
         FROM data_access WHERE student_id = $1 AND read_at BETWEEN $2 AND $3 \
         ORDER BY read_at DESC, id DESC LIMIT $4",
    )
    .bind(student)
    .bind(from)
    .bind(to)
    .bind(MAX_READS)
    .fetch_all(pool)
    .await?;
    reads.reverse();
    Ok(reads)
}
