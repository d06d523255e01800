//! Attendance's events as counts per roll call and the marks other than present.
//!
//! A batch of roll calls is written with two statements (the roll calls with their
//! counts, then their absent and late marks); a correction or a closure first
//! writes the roll calls pending before it, so the batch applies in event order.
//!
//! A rebuild's replay loads the roll calls and marks into bare tables with two
//! binary COPYs per batch and sets the corrections aside; once the keys are indexed,
//! [`Projection::finish_replay`] applies each mark's last correction at once,
//! which leaves the same counts as applying them one by one (each correction takes
//! away the status the one before it added). Batches are thus free to commit in
//! any order, several at once.

use kernel::consumer::{Projection, ReceivedEvent};
use kernel::copy::BinaryRows;
use lienlac_proto::attendance::v1::AttendanceStatus;
use lienlac_proto::attendance::v2 as attendance;
use school::enrolments::uuid;
use sqlx::PgConnection;
use time::{Date, OffsetDateTime};
use uuid::Uuid;

pub(crate) struct AttendanceProjection {
    name: String,
}

impl AttendanceProjection {
    pub(crate) fn new(name: String) -> Self {
        Self { name }
    }
}

impl Projection for AttendanceProjection {
    fn name(&self) -> &str {
        &self.name
    }

    async fn handle(&self, conn: &mut PgConnection, event: &ReceivedEvent) -> anyhow::Result<()> {
        self.handle_batch(conn, &[event]).await
    }

    async fn handle_batch(
        &self,
        conn: &mut PgConnection,
        events: &[&ReceivedEvent],
    ) -> anyhow::Result<()> {
        let mut pending = RollCallRows::default();
        for event in events {
            match event.name() {
                "RollCallSubmitted" => pending.add(event)?,
                "MarkCorrected" => {
                    pending.write(conn).await?;
                    Correction::of(event)?.apply(conn).await?;
                }
                "SchoolClosureDeclared" => {
                    pending.write(conn).await?;
                    close(conn, event.decode()?).await?;
                }
                _ => {}
            }
        }
        pending.write(conn).await
    }

    async fn replay_batch(
        &self,
        conn: &mut PgConnection,
        events: &[&ReceivedEvent],
    ) -> anyhow::Result<()> {
        let mut roll_calls = RollCallRows::default();
        let mut corrections = BinaryRows::new(6);
        for event in events {
            match event.name() {
                "RollCallSubmitted" => roll_calls.add(event)?,
                "MarkCorrected" => {
                    Correction::of(event)?.set_aside(&mut corrections, event.sequence)
                }
                "SchoolClosureDeclared" => close(conn, event.decode()?).await?,
                _ => {}
            }
        }
        roll_calls.copy(conn).await?;
        corrections
            .send(
                conn,
                "COPY replayed_corrections (class_id, date, session, student_id, status, sequence) \
                 FROM STDIN (FORMAT binary)",
            )
            .await?;
        Ok(())
    }

    async fn finish_replay(&self, conn: &mut PgConnection) -> anyhow::Result<()> {
        apply_set_aside_corrections(conn).await
    }

    /// Roll calls and marks load into keyless tables, corrections are set aside
    /// with their sequence and closures are idempotent: no batch depends on another
    /// (only a closure declared twice makes one batch wait for the other).
    fn replays_in_any_order(&self) -> bool {
        true
    }

    async fn reset(&self, conn: &mut PgConnection) -> anyhow::Result<()> {
        sqlx::query("TRUNCATE roll_calls, marks, closures, replayed_corrections")
            .execute(conn)
            .await?;
        Ok(())
    }
}

fn date(field: &str, value: &str) -> anyhow::Result<Date> {
    kernel::dates::parse(value).ok_or_else(|| anyhow::anyhow!("{field} {value:?} is not a date"))
}

/// Roll calls waiting to be written, as columns.
#[derive(Default)]
struct RollCallRows {
    class_ids: Vec<Uuid>,
    dates: Vec<Date>,
    sessions: Vec<i16>,
    school_ids: Vec<Uuid>,
    district_ids: Vec<Uuid>,
    submitted_at: Vec<OffsetDateTime>,
    /// Per roll call: present, absent excused, absent unexcused, late.
    counts: [Vec<i32>; 4],
    marks: MarkRows,
}

#[derive(Default)]
struct MarkRows {
    class_ids: Vec<Uuid>,
    dates: Vec<Date>,
    sessions: Vec<i16>,
    student_ids: Vec<Uuid>,
    statuses: Vec<i16>,
}

/// The column of `counts` a status adds to.
fn count_index(status: i32) -> Option<usize> {
    match AttendanceStatus::try_from(status).ok()? {
        AttendanceStatus::Present => Some(0),
        AttendanceStatus::AbsentExcused => Some(1),
        AttendanceStatus::AbsentUnexcused => Some(2),
        AttendanceStatus::Late => Some(3),
        AttendanceStatus::Unspecified => None,
    }
}

impl RollCallRows {
    fn add(&mut self, event: &ReceivedEvent) -> anyhow::Result<()> {
        let submitted: attendance::RollCallSubmitted = event.decode()?;
        let class_id = uuid("class_id", &submitted.class_id)?;
        let on = date("date", &submitted.date)?;
        let district_id = event
            .district_id
            .ok_or_else(|| anyhow::anyhow!("the subject {:?} names no district", event.subject))?;
        let submitted_at = OffsetDateTime::parse(
            &submitted.submitted_at,
            &time::format_description::well_known::Rfc3339,
        )
        .map_err(|e| anyhow::anyhow!("submitted_at {:?}: {e}", submitted.submitted_at))?;
        let mut counts = [0; 4];
        for mark in &submitted.marks {
            let index = count_index(mark.status)
                .ok_or_else(|| anyhow::anyhow!("mark with status {}", mark.status))?;
            counts[index] += 1;
            if index != 0 {
                self.marks.class_ids.push(class_id);
                self.marks.dates.push(on);
                self.marks.sessions.push(submitted.session as i16);
                self.marks
                    .student_ids
                    .push(uuid("student_id", &mark.student_id)?);
                self.marks.statuses.push(mark.status as i16);
            }
        }
        self.class_ids.push(class_id);
        self.dates.push(on);
        self.sessions.push(submitted.session as i16);
        self.school_ids
            .push(uuid("school_id", &submitted.school_id)?);
        self.district_ids.push(district_id);
        self.submitted_at.push(submitted_at);
        for (column, count) in self.counts.iter_mut().zip(counts) {
            column.push(count);
        }
        Ok(())
    }

    async fn write(&mut self, conn: &mut PgConnection) -> anyhow::Result<()> {
        if self.class_ids.is_empty() {
            return Ok(());
        }
        let rows = std::mem::take(self);
        sqlx::query(
            "INSERT INTO roll_calls (class_id, date, session, school_id, district_id, submitted_at, \
                                     present, absent_excused, absent_unexcused, late) \
             SELECT * FROM unnest($1::uuid[], $2::date[], $3::int2[], $4::uuid[], $5::uuid[], \
                                  $6::timestamptz[], $7::int4[], $8::int4[], $9::int4[], $10::int4[]) \
             ON CONFLICT (class_id, date, session) DO NOTHING",
        )
        .bind(&rows.class_ids)
        .bind(&rows.dates)
        .bind(&rows.sessions)
        .bind(&rows.school_ids)
        .bind(&rows.district_ids)
        .bind(&rows.submitted_at)
        .bind(&rows.counts[0])
        .bind(&rows.counts[1])
        .bind(&rows.counts[2])
        .bind(&rows.counts[3])
        .execute(&mut *conn)
        .await?;
        if !rows.marks.class_ids.is_empty() {
            sqlx::query(
                "INSERT INTO marks (class_id, date, session, student_id, status) \
                 SELECT * FROM unnest($1::uuid[], $2::date[], $3::int2[], $4::uuid[], $5::int2[]) \
                 ON CONFLICT DO NOTHING",
            )
            .bind(&rows.marks.class_ids)
            .bind(&rows.marks.dates)
            .bind(&rows.marks.sessions)
            .bind(&rows.marks.student_ids)
            .bind(&rows.marks.statuses)
            .execute(conn)
            .await?;
        }
        Ok(())
    }

    /// Loads the rows with two binary COPYs, into tables without their keys.
    async fn copy(&mut self, conn: &mut PgConnection) -> anyhow::Result<()> {
        let rows = std::mem::take(self);
        let mut roll_calls = BinaryRows::new(10);
        for index in 0..rows.class_ids.len() {
            roll_calls
                .row()
                .uuid(rows.class_ids[index])
                .date(rows.dates[index])
                .int2(rows.sessions[index])
                .uuid(rows.school_ids[index])
                .uuid(rows.district_ids[index])
                .timestamptz(rows.submitted_at[index]);
            for column in &rows.counts {
                roll_calls.int4(column[index]);
            }
        }
        roll_calls
            .send(
                conn,
                "COPY roll_calls (class_id, date, session, school_id, district_id, submitted_at, \
                                  present, absent_excused, absent_unexcused, late) \
                 FROM STDIN (FORMAT binary)",
            )
            .await?;
        let marks = &rows.marks;
        let mut copied = BinaryRows::new(5);
        for index in 0..marks.class_ids.len() {
            copied
                .row()
                .uuid(marks.class_ids[index])
                .date(marks.dates[index])
                .int2(marks.sessions[index])
                .uuid(marks.student_ids[index])
                .int2(marks.statuses[index]);
        }
        copied
            .send(
                conn,
                "COPY marks (class_id, date, session, student_id, status) FROM STDIN (FORMAT binary)",
            )
            .await?;
        Ok(())
    }
}

/// The statement that moves marks to their corrected statuses, in `marks` and in
/// their roll calls' counts (each count moves by what its marks were and are now),
/// for the marks `$corrected` selects: `class_id, date, session, student_id,
/// status`, one row per mark. A live correction and a replay's set-aside ones
/// share it.
macro_rules! move_marks {
    ($corrected:literal) => {
        concat!(
            "WITH corrected AS (",
            $corrected,
            "), \
             changed AS ( \
               SELECT c.*, coalesce(m.status, 1::int2) AS was \
               FROM corrected c LEFT JOIN marks m USING (class_id, date, session, student_id)), \
             moved AS ( \
               SELECT class_id, date, session, \
                      sum((status = 1)::int - (was = 1)::int) AS present, \
                      sum((status = 2)::int - (was = 2)::int) AS absent_excused, \
                      sum((status = 3)::int - (was = 3)::int) AS absent_unexcused, \
                      sum((status = 4)::int - (was = 4)::int) AS late \
               FROM changed GROUP BY class_id, date, session), \
             counts AS ( \
               UPDATE roll_calls r SET \
                 present = r.present + moved.present, \
                 absent_excused = r.absent_excused + moved.absent_excused, \
                 absent_unexcused = r.absent_unexcused + moved.absent_unexcused, \
                 late = r.late + moved.late \
               FROM moved WHERE (r.class_id, r.date, r.session) = (moved.class_id, moved.date, moved.session)), \
             gone AS ( \
               DELETE FROM marks m USING changed c \
               WHERE c.status = 1 AND (m.class_id, m.date, m.session, m.student_id) = (c.class_id, c.date, c.session, c.student_id)) \
             INSERT INTO marks (class_id, date, session, student_id, status) \
             SELECT class_id, date, session, student_id, status FROM changed WHERE status <> 1 \
             ON CONFLICT (class_id, date, session, student_id) DO UPDATE SET status = EXCLUDED.status"
        )
    };
}

/// One student's mark changed to `to`.
struct Correction {
    class_id: Uuid,
    date: Date,
    session: i16,
    student_id: Uuid,
    to: i16,
}

impl Correction {
    fn of(event: &ReceivedEvent) -> anyhow::Result<Self> {
        let corrected: attendance::MarkCorrected = event.decode()?;
        let to = corrected.to;
        count_index(to).ok_or_else(|| anyhow::anyhow!("correction to status {to}"))?;
        Ok(Self {
            class_id: uuid("class_id", &corrected.class_id)?,
            date: date("date", &corrected.date)?,
            session: corrected.session as i16,
            student_id: uuid("student_id", &corrected.student_id)?,
            to: to as i16,
        })
    }

    fn set_aside(&self, rows: &mut BinaryRows, sequence: i64) {
        rows.row()
            .uuid(self.class_id)
            .date(self.date)
            .int2(self.session)
            .uuid(self.student_id)
            .int2(self.to)
            .int8(sequence);
    }

    /// Moves the mark from its current status to the corrected one, in the roll
    /// call's counts and in `marks`.
    async fn apply(&self, conn: &mut PgConnection) -> anyhow::Result<()> {
        sqlx::query(move_marks!(
            "SELECT $1::uuid AS class_id, $2::date AS date, $3::int2 AS session, \
                    $4::uuid AS student_id, $5::int2 AS status"
        ))
        .bind(self.class_id)
        .bind(self.date)
        .bind(self.session)
        .bind(self.student_id)
        .bind(self.to)
        .execute(conn)
        .await?;
        Ok(())
    }
}

/// Applies the corrections a replay set aside: each mark's last one decides its
/// status.
async fn apply_set_aside_corrections(conn: &mut PgConnection) -> anyhow::Result<()> {
    sqlx::query(move_marks!(
        "SELECT DISTINCT ON (class_id, date, session, student_id) \
                class_id, date, session, student_id, status \
         FROM replayed_corrections ORDER BY class_id, date, session, student_id, sequence DESC"
    ))
    .execute(&mut *conn)
    .await?;
    sqlx::query("TRUNCATE replayed_corrections")
        .execute(conn)
        .await?;
    Ok(())
}

async fn close(
    conn: &mut PgConnection,
    closure: attendance::SchoolClosureDeclared,
) -> anyhow::Result<()> {
    sqlx::query(
        "INSERT INTO closures (school_id, from_date, to_date) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
    )
    .bind(uuid("school_id", &closure.school_id)?)
    .bind(date("from_date", &closure.from_date)?)
    .bind(date("to_date", &closure.to_date)?)
    .execute(conn)
    .await?;
    Ok(())
}
