//! Roll calls: submitting (and resubmitting as corrections) and reading them.

pub(crate) mod correct;
pub(crate) mod missing;
pub(crate) mod read;
pub(crate) mod submit;

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

pub(crate) fn is_absence(status: AttendanceStatus) -> bool {
    matches!(
        status,
        AttendanceStatus::AbsentExcused | AttendanceStatus::AbsentUnexcused
    )
}
