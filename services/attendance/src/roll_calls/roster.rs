//! Who a roll call is taken for: the students enrolled in the class on its date.

use sqlx::PgConnection;
use uuid::Uuid;

use super::RollCallKey;

/// The students enrolled in the class on the roll call's date, by id, each with the
/// approved leave that covers the roll call, if any.
pub(crate) async fn roster(
    conn: &mut PgConnection,
    key: &RollCallKey,
) -> sqlx::Result<Vec<(Uuid, Option<Uuid>)>> {
    sqlx::query_as(
        "SELECT e.student_id, l.id FROM ( \
             SELECT DISTINCT student_id FROM enrolment_periods \
             WHERE class_id = $1 AND from_date <= $2 AND (to_date IS NULL OR to_date > $2)) e \
         LEFT JOIN LATERAL ( \
             SELECT id FROM leaves WHERE student_id = e.student_id AND class_id = $1 AND status = 'approved' \
               AND from_date <= $2 AND to_date >= $2 AND $3 = ANY(sessions) LIMIT 1) l ON true \
         ORDER BY e.student_id",
    )
    .bind(key.class_id)
    .bind(key.date)
    .bind(key.session as i16)
    .fetch_all(conn)
    .await
}
