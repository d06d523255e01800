//! Correcting one student's mark, with a reason: the homeroom teacher (or a vice
//! principal or IT officer) within the correction window, the principal at any
//! time while the month is open.

use kernel::auth::{Caller, Role, Target};
use kernel::command::idempotent;
use kernel::error::{AppError, AppResult};
use kernel::event_store::RequestKey;
use kernel::event_store::{EventMeta, append_message};
use lienlac_proto::attendance::v1 as pb;

use super::{RollCallKey, StudentMark, read};
use crate::Ctx;
use crate::roll_calls::submit::{known_class, may_correct};

pub(crate) struct Correction {
    pub(crate) key: RollCallKey,
    pub(crate) mark: StudentMark,
    pub(crate) reason: String,
}

pub(crate) async fn correct(
    ctx: &Ctx,
    caller: &Caller,
    request: RequestKey,
    correction: Correction,
) -> AppResult<pb::RollCall> {
    let class = known_class(ctx, correction.key.class_id).await?;
    if !may_correct(
        caller,
        &class,
        correction.key.date,
        ctx.settings.correction_window,
    ) {
        let target = Target::class(class.district_id, class.school_id, class.id);
        let message = if caller.holds(
            &[Role::HomeroomTeacher, Role::VicePrincipal, Role::ItOfficer],
            &target,
        ) {
            "this mark is older than the correction window; ask the principal to correct it"
        } else {
            "only the class's homeroom teacher or the school's leaders correct its marks"
        };
        return Err(tonic::Status::permission_denied(message).into());
    }
    let by = caller.clone();
    idempotent(&ctx.pool, &request, move |tx| {
        Box::pin(async move {
            let key = correction.key;
            crate::calendar::ensure_open(tx, &class, key.date).await?;
            let marks = read::marks_for_update(tx, &key).await?.ok_or(AppError::NotFound("roll call"))?;
            let current = marks
                .iter()
                .find(|m| m.student_id == correction.mark.student_id)
                .ok_or_else(|| AppError::Rejected("the student has no mark in this roll call".to_owned()))?;
            if current.status != correction.mark.status || current.note != correction.mark.note {
                sqlx::query(
                    "UPDATE marks SET status = $5, note = $6, leave_id = $7 \
                     WHERE class_id = $1 AND date = $2 AND session = $3 AND student_id = $4",
                )
                .bind(key.class_id)
                .bind(key.date)
                .bind(key.session as i16)
                .bind(correction.mark.student_id)
                .bind(correction.mark.status as i16)
                .bind(&correction.mark.note)
                .bind(correction.mark.leave_id)
                .execute(&mut *tx)
                .await?;
                sqlx::query("UPDATE roll_calls SET version = version + 1 WHERE class_id = $1 AND date = $2 AND session = $3")
                    .bind(key.class_id)
                    .bind(key.date)
                    .bind(key.session as i16)
                    .execute(&mut *tx)
                    .await?;
                let event = pb::MarkCorrected {
                    student_id: correction.mark.student_id.to_string(),
                    class_id: key.class_id.to_string(),
                    school_id: class.school_id.to_string(),
                    date: key.date.to_string(),
                    session: key.session as i32,
                    from: current.status as i32,
                    to: correction.mark.status as i32,
                    reason: correction.reason.clone(),
                    corrected_by: by.account_id.to_string(),
                    note: correction.mark.note.clone(),
                };
                let meta = EventMeta::for_command(Some(by.account_id.to_string())).in_tenant(class.district_id, Some(class.school_id));
                append_message(tx, &key.stream_id(), &meta, &event).await?;
            }
            read::roll_call(tx, &key).await?.ok_or(AppError::NotFound("roll call"))
        })
    })
    .await
}
