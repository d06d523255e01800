//! Absence notices: a guardian hears, in Vietnamese, that their child did not
//! arrive, once per absence, and hears it corrected (rules.rs). Kept from
//! attendance's public events by the consumer `messaging-attendance`: one notice
//! per event and guardian, however often the event comes; an approved leave
//! raises none. Read in the app (`ListNotices`), with the child's name asked of
//! identity with the guardian's own token: messaging keeps no names.

pub(crate) mod rules;

use std::collections::HashMap;

use kernel::auth::Caller;
use kernel::consumer::{Projection, ReceivedEvent};
use kernel::error::{AppError, AppResult};
use kernel::event_store::{EventMeta, FirstEvent, NewEvent, append_first_events};
use lienlac_proto::attendance::v1::{AttendanceStatus, Session};
use lienlac_proto::attendance::v2 as attendance;
use lienlac_proto::messaging::v1 as pb;
use school::enrolments::uuid;
use school::peers::Reader;
use sqlx::PgConnection;
use time::{Date, OffsetDateTime};
use uuid::Uuid;

use crate::write_model::append_next;
use crate::{Ctx, cursor};
use rules::{About, Correction, Given};

pub(crate) struct AttendanceProjection;

pub(crate) const CONSUMER: &str = "messaging-attendance";

fn date(text: &str) -> anyhow::Result<Date> {
    kernel::dates::parse(text).ok_or_else(|| anyhow::anyhow!("not a date: {text:?}"))
}

/// What decides, beside each mark, whether it tells the guardians: an approved
/// leave covering the session, and the school's choice on late marks.
async fn contexts_of(
    conn: &mut PgConnection,
    marked: &[&Marked],
) -> anyhow::Result<Vec<rules::Context>> {
    let column = |pick: fn(&Marked) -> Uuid| marked.iter().map(|m| pick(m)).collect::<Vec<_>>();
    let days: Vec<Date> = marked.iter().map(|m| m.day).collect();
    let sessions: Vec<i16> = marked.iter().map(|m| m.session as i16).collect();
    let contexts: Vec<(bool, bool)> = sqlx::query_as(
        "SELECT EXISTS (SELECT 1 FROM leaves l WHERE l.student_id = m.student AND l.approved \
             AND m.day BETWEEN l.from_date AND l.to_date AND m.session = ANY(l.sessions)), \
         coalesce((SELECT notify_late FROM school_policies WHERE school_id = m.school), false) \
         FROM unnest($1::uuid[], $2::date[], $3::smallint[], $4::uuid[]) WITH ORDINALITY \
             AS m(student, day, session, school, i) ORDER BY m.i",
    )
    .bind(column(|m| m.student))
    .bind(&days)
    .bind(&sessions)
    .bind(column(|m| m.school))
    .fetch_all(conn)
    .await?;
    Ok(contexts
        .into_iter()
        .map(|(covered_by_leave, notify_late)| rules::Context {
            covered_by_leave,
            notify_late,
        })
        .collect())
}

/// One session of one student, as the events name it.
#[derive(Clone, Copy)]
struct Marked {
    student: Uuid,
    class: Uuid,
    school: Uuid,
    day: Date,
    session: i32,
}

/// The metadata of what `source` led to in `school`.
fn meta_of(source: &ReceivedEvent, school: Uuid) -> EventMeta {
    let mut meta = EventMeta::for_command(None);
    meta.causation_id = Some(source.event_id);
    match source.district_id {
        Some(district) => meta.in_tenant(district, Some(school)),
        None => meta,
    }
}

/// Notices to raise of one marked session: to every guardian of the student, or
/// (a correction's) to one guardian, following up the notice they had.
struct ToRaise<'a> {
    event: &'a ReceivedEvent,
    marked: Marked,
    status: AttendanceStatus,
    only: Option<Uuid>,
    follows: Option<Uuid>,
}

/// Raises the notices of `items` with one statement for them all, queues their
/// deliveries and records `AbsenceNoticeRaised` for each, each on a new stream.
async fn raise_all(conn: &mut PgConnection, items: &[ToRaise<'_>]) -> anyhow::Result<()> {
    if items.is_empty() {
        return Ok(());
    }
    let column = |pick: fn(&ToRaise<'_>) -> Uuid| items.iter().map(|i| pick(i)).collect::<Vec<_>>();
    let optional =
        |pick: fn(&ToRaise<'_>) -> Option<Uuid>| items.iter().map(|i| pick(i)).collect::<Vec<_>>();
    let days: Vec<Date> = items.iter().map(|i| i.marked.day).collect();
    let sessions: Vec<i16> = items.iter().map(|i| i.marked.session as i16).collect();
    let statuses: Vec<i16> = items.iter().map(|i| i.status as i16).collect();
    let raised: Vec<(Uuid, Uuid, Uuid)> = sqlx::query_as(
        "INSERT INTO absence_notices (id, source_event, guardian_id, student_id, class_id, date, \
             session, status, follows, created_at) \
         SELECT gen_random_uuid(), m.event, g.guardian_id, m.student, m.class, m.day, m.session, \
             m.status, m.follows, now() \
         FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::date[], $5::smallint[], \
             $6::smallint[], $7::uuid[], $8::uuid[]) \
             AS m(event, student, class, day, session, status, follows, only_guardian) \
         JOIN guardianships g ON g.student_id = m.student \
             AND (m.only_guardian IS NULL OR g.guardian_id = m.only_guardian) \
         ON CONFLICT (source_event, guardian_id) DO NOTHING \
         RETURNING id, guardian_id, source_event",
    )
    .bind(column(|i| i.event.event_id))
    .bind(column(|i| i.marked.student))
    .bind(column(|i| i.marked.class))
    .bind(&days)
    .bind(&sessions)
    .bind(&statuses)
    .bind(optional(|i| i.follows))
    .bind(optional(|i| i.only))
    .fetch_all(&mut *conn)
    .await?;
    let mut by_event: HashMap<Uuid, Vec<&ToRaise<'_>>> = HashMap::new();
    for item in items {
        by_event.entry(item.event.event_id).or_default().push(item);
    }
    let mut queued = Vec::with_capacity(raised.len());
    let mut facts = Vec::with_capacity(raised.len());
    for (notice, guardian, source) in raised {
        let Some(item) = by_event.get(&source).and_then(|items| {
            items
                .iter()
                .find(|i| i.only.is_none_or(|only| only == guardian))
        }) else {
            continue;
        };
        let marked = &item.marked;
        queued.push(crate::delivery::Raised {
            notice,
            guardian,
            school: marked.school,
        });
        let fact = pb::AbsenceNoticeRaised {
            notice_id: notice.to_string(),
            guardian_id: guardian.to_string(),
            student_id: marked.student.to_string(),
            class_id: marked.class.to_string(),
            school_id: marked.school.to_string(),
            date: kernel::dates::format(marked.day),
            session: marked.session,
            status: item.status as i32,
            follows: item.follows.map(|f| f.to_string()).unwrap_or_default(),
            source_event_id: source.to_string(),
        };
        facts.push(FirstEvent {
            stream_id: format!("notice:{notice}"),
            event: NewEvent::from_message(&fact)?,
            meta: meta_of(item.event, marked.school),
        });
    }
    crate::delivery::queue(conn, &queued).await?;
    append_first_events(conn, &facts).await?;
    Ok(())
}

/// The session `recorded` marks.
fn marked_of(recorded: &attendance::StudentAbsenceRecorded) -> anyhow::Result<Marked> {
    Ok(Marked {
        student: uuid("student_id", &recorded.student_id)?,
        class: uuid("class_id", &recorded.class_id)?,
        school: uuid("school_id", &recorded.school_id)?,
        day: date(&recorded.date)?,
        session: recorded.session,
    })
}

/// The notices of a run of `StudentAbsenceRecorded` events (a morning's roll
/// calls), raised together: those no leave covers, late marks where the school
/// wants them.
async fn absences(conn: &mut PgConnection, events: &[&ReceivedEvent]) -> anyhow::Result<()> {
    if events.is_empty() {
        return Ok(());
    }
    let mut items = Vec::with_capacity(events.len());
    for event in events {
        let recorded: attendance::StudentAbsenceRecorded = event.decode()?;
        items.push(ToRaise {
            event,
            marked: marked_of(&recorded)?,
            status: recorded.status(),
            only: None,
            follows: None,
        });
    }
    let marked: Vec<&Marked> = items.iter().map(|i| &i.marked).collect();
    let contexts = contexts_of(conn, &marked).await?;
    let alarming: Vec<ToRaise<'_>> = items
        .into_iter()
        .zip(contexts)
        .filter(|(item, context)| rules::alarms(item.status, *context))
        .map(|(item, _)| item)
        .collect();
    raise_all(conn, &alarming).await
}

impl Projection for AttendanceProjection {
    fn name(&self) -> &str {
        CONSUMER
    }

    async fn handle(&self, conn: &mut PgConnection, event: &ReceivedEvent) -> anyhow::Result<()> {
        match event.name() {
            "StudentAbsenceRecorded" => absences(conn, &[event]).await?,
            "MarkCorrected" => {
                let corrected: attendance::MarkCorrected = event.decode()?;
                let marked = Marked {
                    student: uuid("student_id", &corrected.student_id)?,
                    class: uuid("class_id", &corrected.class_id)?,
                    school: uuid("school_id", &corrected.school_id)?,
                    day: date(&corrected.date)?,
                    session: corrected.session,
                };
                correct(conn, event, &marked, corrected.to()).await?;
            }
            "LeaveRequested" => {
                let requested: attendance::LeaveRequested = event.decode()?;
                let sessions: Vec<i16> = requested.sessions.iter().map(|s| *s as i16).collect();
                sqlx::query(
                    "INSERT INTO leaves (id, student_id, from_date, to_date, sessions) \
                     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO NOTHING",
                )
                .bind(uuid("leave_id", &requested.leave_id)?)
                .bind(uuid("student_id", &requested.student_id)?)
                .bind(date(&requested.from_date)?)
                .bind(date(&requested.to_date)?)
                .bind(sessions)
                .execute(conn)
                .await?;
            }
            "LeaveDecided" => {
                let decided: attendance::LeaveDecided = event.decode()?;
                sqlx::query("UPDATE leaves SET approved = $2 WHERE id = $1")
                    .bind(uuid("leave_id", &decided.leave_id)?)
                    .bind(decided.approved)
                    .execute(conn)
                    .await?;
            }
            _ => {}
        }
        Ok(())
    }

    /// A morning's absences come in runs: each run is raised with a few
    /// statements for all of it; any other event in between is handled in its
    /// place, so a leave recorded before an absence still covers it.
    async fn handle_batch(
        &self,
        conn: &mut PgConnection,
        events: &[&ReceivedEvent],
    ) -> anyhow::Result<()> {
        let mut run: Vec<&ReceivedEvent> = Vec::new();
        for &event in events {
            if event.name() == "StudentAbsenceRecorded" {
                run.push(event);
                continue;
            }
            absences(conn, &run).await?;
            run.clear();
            self.handle(conn, event).await?;
        }
        absences(conn, &run).await
    }

    /// The leaves are projected again; the notices are what guardians were told
    /// and stay: a replay adds none twice, each keyed by its event and guardian.
    async fn reset(&self, conn: &mut PgConnection) -> anyhow::Result<()> {
        sqlx::query("TRUNCATE leaves").execute(conn).await?;
        Ok(())
    }
}

/// Each guardian's notices of the session after its mark was corrected.
async fn correct(
    conn: &mut PgConnection,
    event: &ReceivedEvent,
    marked: &Marked,
    to: AttendanceStatus,
) -> anyhow::Result<()> {
    let context = contexts_of(conn, &[marked])
        .await?
        .pop()
        .ok_or_else(|| anyhow::anyhow!("no context for the corrected mark"))?;
    // A notice is delivered once the guardian listed it in the app or a channel
    // beyond it sent it: a correction then follows it up rather than replacing it.
    let guardians: Vec<(Uuid, Option<Uuid>, Option<i16>, bool)> = sqlx::query_as(
        "SELECT g.guardian_id, n.id, n.status, n.delivered_at IS NOT NULL OR EXISTS ( \
             SELECT 1 FROM deliveries d WHERE d.notice_id = n.id \
             AND d.state IN ('sent', 'delivered', 'read')) FROM guardianships g \
         LEFT JOIN LATERAL (SELECT id, status, delivered_at FROM absence_notices \
             WHERE guardian_id = g.guardian_id AND student_id = $1 AND date = $2 AND session = $3 \
             AND withdrawn_at IS NULL ORDER BY created_at DESC, id DESC LIMIT 1) n ON true \
         WHERE g.student_id = $1",
    )
    .bind(marked.student)
    .bind(marked.day)
    .bind(marked.session as i16)
    .fetch_all(&mut *conn)
    .await?;
    let mut to_raise = Vec::new();
    for (guardian, notice, status, delivered) in guardians {
        let given = status.map(|status| Given {
            status: AttendanceStatus::try_from(i32::from(status)).unwrap_or_default(),
            delivered,
        });
        let raise = |follows: Option<Uuid>| ToRaise {
            event,
            marked: *marked,
            status: to,
            only: Some(guardian),
            follows,
        };
        match (rules::on_correction(to, context, given), notice) {
            (Correction::Raise, _) => to_raise.push(raise(None)),
            (Correction::FollowUp, Some(notice)) => to_raise.push(raise(Some(notice))),
            (correction @ (Correction::Replace | Correction::Withdraw), Some(notice)) => {
                let withdrawn = correction == Correction::Withdraw;
                sqlx::query(
                    "UPDATE absence_notices SET status = CASE WHEN $3 THEN status ELSE $2 END, \
                     withdrawn_at = CASE WHEN $3 THEN now() END WHERE id = $1",
                )
                .bind(notice)
                .bind(to as i16)
                .bind(withdrawn)
                .execute(&mut *conn)
                .await?;
                let fact = pb::AbsenceNoticeCorrected {
                    notice_id: notice.to_string(),
                    guardian_id: guardian.to_string(),
                    school_id: marked.school.to_string(),
                    status: if withdrawn { 0 } else { to as i32 },
                    withdrawn,
                    source_event_id: event.event_id.to_string(),
                };
                let meta = meta_of(event, marked.school);
                append_next(conn, &format!("notice:{notice}"), &fact, &meta).await?;
            }
            _ => {}
        }
    }
    raise_all(conn, &to_raise).await
}

#[derive(sqlx::FromRow)]
struct NoticeRow {
    id: Uuid,
    student_id: Uuid,
    class_id: Uuid,
    class_name: String,
    date: Date,
    session: i16,
    status: i16,
    follows: Option<Uuid>,
    created_at: OffsetDateTime,
    read_at: Option<OffsetDateTime>,
    withdrawn: bool,
}

/// The guardian's notices after `cursor`, newest first, in words; listing them
/// delivers them (a later correction then follows up instead of replacing).
pub(crate) async fn list(
    ctx: &Ctx,
    caller: &Caller,
    reader: &Reader,
    page_cursor: &str,
    limit: i64,
) -> AppResult<pb::ListNoticesResponse> {
    let Some(guardian) = caller.person_id else {
        return Ok(pb::ListNoticesResponse::default());
    };
    let (before_at, before_id) = cursor::before(page_cursor)?;
    let mut conn = ctx.pool.acquire().await?;
    let rows: Vec<NoticeRow> = sqlx::query_as(
        "WITH shown AS (UPDATE absence_notices SET delivered_at = coalesce(delivered_at, now()) \
             WHERE id IN (SELECT id FROM absence_notices WHERE guardian_id = $1 \
                 AND withdrawn_at IS NULL AND (created_at, id) < ($2, $3) \
                 ORDER BY created_at DESC, id DESC LIMIT $4) \
             RETURNING *) \
         SELECT n.id, n.student_id, n.class_id, coalesce(c.name, '') AS class_name, n.date, \
             n.session, n.status, n.follows, n.created_at, n.read_at, false AS withdrawn \
         FROM shown n LEFT JOIN classes c ON c.id = n.class_id \
         ORDER BY n.created_at DESC, n.id DESC",
    )
    .bind(guardian)
    .bind(before_at)
    .bind(before_id)
    .bind(limit + 1)
    .fetch_all(&mut *conn)
    .await?;
    drop(conn);
    let more = rows.len() as i64 > limit;
    let rows: Vec<NoticeRow> = rows.into_iter().take(limit as usize).collect();
    let next_cursor = match (more, rows.last()) {
        (true, Some(last)) => cursor::after_entry(last.created_at, last.id),
        _ => String::new(),
    };
    Ok(pb::ListNoticesResponse {
        notices: in_words(ctx, reader, rows).await?,
        next_cursor,
    })
}

const NOTICE_COLUMNS: &str = "n.id, n.student_id, n.class_id, coalesce(c.name, '') AS class_name, \
    n.date, n.session, n.status, n.follows, n.created_at, n.read_at, \
    n.withdrawn_at IS NOT NULL AS withdrawn";

/// The notice `id` of `guardian` as it is now, for live delivery; a withdrawn one
/// without words.
pub(crate) async fn one(
    ctx: &Ctx,
    reader: &Reader,
    guardian: Uuid,
    id: Uuid,
) -> AppResult<Option<pb::Notice>> {
    let row: Option<NoticeRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {NOTICE_COLUMNS} FROM absence_notices n LEFT JOIN classes c ON c.id = n.class_id \
         WHERE n.id = $1 AND n.guardian_id = $2"
    )))
    .bind(id)
    .bind(guardian)
    .fetch_optional(&ctx.pool)
    .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    Ok(in_words(ctx, reader, vec![row]).await?.pop())
}

/// The notices as the guardian reads them, the children named by identity.
async fn in_words(ctx: &Ctx, reader: &Reader, rows: Vec<NoticeRow>) -> AppResult<Vec<pb::Notice>> {
    let mut children: Vec<Uuid> = rows.iter().map(|row| row.student_id).collect();
    children.sort_unstable();
    children.dedup();
    let names =
        school::names::names_of(school::peers::directory(&ctx.identity), reader, &children).await?;
    Ok(rows
        .into_iter()
        .map(|row| {
            let status = AttendanceStatus::try_from(i32::from(row.status)).unwrap_or_default();
            let session = Session::try_from(i32::from(row.session)).unwrap_or_default();
            let child = names
                .get(&row.student_id)
                .map(|name| name.full_name.as_str())
                .unwrap_or_default();
            let text = if row.withdrawn {
                String::new()
            } else {
                words(
                    child,
                    &row.class_name,
                    row.date,
                    row.session,
                    row.status,
                    row.follows.is_some(),
                )
            };
            pb::Notice {
                id: row.id.to_string(),
                student_id: row.student_id.to_string(),
                class_id: row.class_id.to_string(),
                date: kernel::dates::format(row.date),
                session: session as i32,
                status: status as i32,
                text,
                follows: row.follows.map(|f| f.to_string()).unwrap_or_default(),
                created_at: kernel::dates::rfc3339(row.created_at),
                read_at: row.read_at.map(kernel::dates::rfc3339).unwrap_or_default(),
                withdrawn: row.withdrawn,
            }
        })
        .collect())
}

/// A notice's words, the child named: the notice, or the follow-up of one.
pub(crate) fn words(
    child: &str,
    class: &str,
    date: Date,
    session: i16,
    status: i16,
    follow_up: bool,
) -> String {
    let status = AttendanceStatus::try_from(i32::from(status)).unwrap_or_default();
    let about = About {
        child,
        class,
        date,
        session: Session::try_from(i32::from(session)).unwrap_or_default(),
    };
    if follow_up {
        rules::follow_up_text(&about, status)
    } else {
        rules::notice_text(&about, status)
    }
}

/// The guardian read a notice of theirs; when.
pub(crate) async fn mark_read(ctx: &Ctx, caller: &Caller, id: Uuid) -> AppResult<pb::NoticeState> {
    let read_at: Option<OffsetDateTime> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "WITH read AS (UPDATE absence_notices SET delivered_at = coalesce(delivered_at, now()), \
             read_at = coalesce(read_at, now()) WHERE id = $1 AND guardian_id = $2 \
             RETURNING read_at), {} \
         SELECT read_at FROM read",
        crate::delivery::MARK_READ
    )))
    .bind(id)
    .bind(caller.person_id)
    .fetch_optional(&ctx.pool)
    .await?;
    let read_at = read_at.ok_or(AppError::NotFound("notice"))?;
    Ok(pb::NoticeState {
        notice_id: id.to_string(),
        read_at: kernel::dates::rfc3339(read_at),
    })
}
