//! Roll calls: their rules (`rules.rs`), the commands that follow them
//! (`commands.rs`), the one place their events and rows are written (`write.rs`),
//! and reading them.

pub(crate) mod commands;
pub(crate) mod missing;
pub(crate) mod read;
mod roster;
pub(crate) mod rules;
mod write;

use lienlac_proto::attendance::v1 as pb;
use lienlac_proto::attendance::v1::{AttendanceStatus, Session};
use time::Date;
use uuid::Uuid;

/// Which roll call: one class, one school date, one session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RollCallKey {
    pub(crate) class_id: Uuid,
    pub(crate) date: Date,
    pub(crate) session: Session,
}

impl RollCallKey {
    /// The event stream of this roll call.
    pub(crate) fn stream_id(&self) -> String {
        format!(
            "roll_call:{}:{}:{}",
            self.class_id,
            self.date,
            self.session.as_str_name()
        )
    }
}

/// A student's mark as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StudentMark {
    pub(crate) student_id: Uuid,
    pub(crate) status: AttendanceStatus,
    pub(crate) note: String,
    /// The approved leave the mark comes from, if it does.
    pub(crate) leave_id: Option<Uuid>,
}

impl StudentMark {
    pub(crate) fn present(student_id: Uuid) -> Self {
        Self {
            student_id,
            status: AttendanceStatus::Present,
            note: String::new(),
            leave_id: None,
        }
    }

    /// Absent with an approved leave.
    pub(crate) fn excused_by(student_id: Uuid, leave_id: Uuid) -> Self {
        Self {
            student_id,
            status: AttendanceStatus::AbsentExcused,
            note: String::new(),
            leave_id: Some(leave_id),
        }
    }

    pub(crate) fn to_proto(&self) -> pb::Mark {
        pb::Mark {
            student_id: self.student_id.to_string(),
            status: self.status as i32,
            note: self.note.clone(),
            leave_id: self.leave_id.map(|id| id.to_string()).unwrap_or_default(),
        }
    }

    /// A mark as an event carries it.
    pub(crate) fn from_proto(mark: &pb::Mark) -> anyhow::Result<Self> {
        Ok(Self {
            student_id: mark.student_id.parse()?,
            status: AttendanceStatus::try_from(mark.status)?,
            note: mark.note.clone(),
            leave_id: school::enrolments::optional_uuid("leave_id", &mark.leave_id)?,
        })
    }
}

pub(crate) fn is_absence(status: AttendanceStatus) -> bool {
    matches!(
        status,
        AttendanceStatus::AbsentExcused | AttendanceStatus::AbsentUnexcused
    )
}
