//! Submitting a roll call, correcting one mark, excusing a student for an approved
//! leave. Each handler loads the roll call from its events and what its rules need
//! to know, lets the rules decide (`rules.rs`), then appends the facts and writes
//! them into the tables (`write.rs`).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use kernel::auth::{Caller, Role, Target};
use kernel::command::idempotent;
use kernel::error::{AppError, AppResult};
use kernel::event_store::{Aggregate as _, RequestKey, load};
use lienlac_proto::attendance::v1 as pb;
use school::roles::SCHOOL_LEADERS;
use sqlx::PgConnection;
use time::OffsetDateTime;
use uuid::Uuid;

use super::rules::{Command, Context, Corrector, RollCall};
use super::write::{self, Recorded};
use super::{RollCallKey, StudentMark, read};
use crate::Ctx;
use crate::directory::{ClassRow, known_class};

pub(crate) struct Submission {
    pub(crate) key: RollCallKey,
    pub(crate) marks: Vec<StudentMark>,
    pub(crate) taken_at: Option<OffsetDateTime>,
}

pub(crate) struct Correction {
    pub(crate) key: RollCallKey,
    pub(crate) mark: StudentMark,
    pub(crate) reason: String,
}

/// May take a class's roll call: its homeroom teacher, or the school's leaders and
/// IT officer.
pub(crate) fn require_roll_call_taker(caller: &Caller, class: &ClassRow) -> AppResult<()> {
    let target = Target::class(class.district_id, class.school_id, class.id);
    if caller.holds(&[Role::HomeroomTeacher], &target) || caller.holds(SCHOOL_LEADERS, &target) {
        Ok(())
    } else {
        Err(tonic::Status::permission_denied(
            "only the class's homeroom teacher or the school's principal, vice principal or IT officer takes its roll call",
        )
        .into())
    }
}

/// Who the caller is to the class's marks once taken.
pub(crate) fn corrector(caller: &Caller, class: &ClassRow) -> Corrector {
    let target = Target::class(class.district_id, class.school_id, class.id);
    if caller.holds(&[Role::Principal], &target) {
        Corrector::Principal
    } else if caller.holds(
        &[Role::HomeroomTeacher, Role::VicePrincipal, Role::ItOfficer],
        &target,
    ) {
        Corrector::Staff
    } else {
        Corrector::Nobody
    }
}

/// Who asks, as the rules and the writing need to know them.
struct Asker {
    corrector: Corrector,
    correction_window_days: i64,
    recorded: Recorded,
}

impl Asker {
    fn new(ctx: &Ctx, caller: &Caller, class: &ClassRow, taken_at: Option<OffsetDateTime>) -> Self {
        Self {
            corrector: corrector(caller, class),
            correction_window_days: (ctx.settings.correction_window.as_secs() / 86_400) as i64,
            recorded: Recorded {
                by: caller.account_id,
                taken_at,
            },
        }
    }
}

pub(crate) async fn submit(
    ctx: &Ctx,
    caller: &Caller,
    request: RequestKey,
    submission: Submission,
) -> AppResult<pb::RollCall> {
    let class = known_class(ctx, submission.key.class_id).await?;
    require_roll_call_taker(caller, &class)?;
    let asker = Asker::new(ctx, caller, &class, submission.taken_at);
    let command = Command::Submit {
        listed: submission.marks,
    };
    let school_id = class.school_id;
    let first_taken = Arc::new(AtomicBool::new(false));
    let taken_now = first_taken.clone();
    let answer = idempotent(&ctx.pool, &request, move |tx| {
        Box::pin(async move {
            if let Some(taken) =
                decide_and_record(tx, &class, submission.key, &command, &asker).await?
            {
                taken_now.store(true, Ordering::Relaxed);
                return Ok(taken);
            }
            read::roll_call(tx, &submission.key)
                .await?
                .ok_or(AppError::NotFound("roll call"))
        })
    })
    .await?;
    // Counted once committed: a retried request gets its first answer back and
    // is not counted again.
    if first_taken.load(Ordering::Relaxed) {
        metrics::counter!("lienlac_attendance_roll_calls_total", "school" => school_id.to_string())
            .increment(1);
    }
    Ok(answer)
}

pub(crate) async fn correct(
    ctx: &Ctx,
    caller: &Caller,
    request: RequestKey,
    correction: Correction,
) -> AppResult<pb::RollCall> {
    let class = known_class(ctx, correction.key.class_id).await?;
    let asker = Asker::new(ctx, caller, &class, None);
    let command = Command::Correct {
        mark: correction.mark,
        reason: correction.reason,
    };
    idempotent(&ctx.pool, &request, move |tx| {
        Box::pin(async move {
            decide_and_record(tx, &class, correction.key, &command, &asker).await?;
            read::roll_call(tx, &correction.key)
                .await?
                .ok_or(AppError::NotFound("roll call"))
        })
    })
    .await
}

/// Marks `student` absent with `leave` in the roll call, if taken and not so
/// already: a leave approved after the roll call was taken.
pub(crate) async fn excuse(
    tx: &mut PgConnection,
    class: &ClassRow,
    key: RollCallKey,
    student: Uuid,
    leave: Uuid,
    by: Uuid,
) -> AppResult<()> {
    let asker = Asker {
        corrector: Corrector::Nobody,
        correction_window_days: 0,
        recorded: Recorded { by, taken_at: None },
    };
    decide_and_record(tx, class, key, &Command::Excuse { student, leave }, &asker).await?;
    Ok(())
}

/// Load, decide, write; the roll call as first taken, if it was just taken.
async fn decide_and_record(
    tx: &mut PgConnection,
    class: &ClassRow,
    key: RollCallKey,
    command: &Command,
    asker: &Asker,
) -> AppResult<Option<pb::RollCall>> {
    // The class's month row is locked first, so that commands on the class's month
    // (and its closing) run one after the other.
    let calendar = crate::calendar::lock_month(tx, class, key.date).await?;
    // Only a submission marks the class's roster; the other commands change marks
    // already taken.
    let roster = match command {
        Command::Submit { .. } => super::roster::roster(tx, &key).await?,
        Command::Correct { .. } | Command::Excuse { .. } => Vec::new(),
    };
    let (roll_call, version) = load::<RollCall>(tx, &key.stream_id())
        .await
        .map_err(anyhow::Error::from)?;
    let context = Context {
        date: key.date,
        today: school::dates::local_today(),
        correction_window_days: asker.correction_window_days,
        calendar,
        roster,
        corrector: asker.corrector,
    };
    let events = roll_call.decide(command, &context)?;
    write::record(tx, class, &key, &events, version, &asker.recorded).await
}
