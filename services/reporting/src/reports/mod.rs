//! The reports, each a read of the live read models.

pub(crate) mod adoption;
pub(crate) mod class;
pub(crate) mod daily;
pub(crate) mod export;
pub(crate) mod student;

use lienlac_proto::attendance::v1::AttendanceStatus;
use lienlac_proto::reporting::v1 as pb;
use uuid::Uuid;

/// What a report covers: one school, or every school of a district.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scope {
    School(Uuid),
    District(Uuid),
}

impl Scope {
    /// The column of the read models' tables that holds the scope's id.
    pub(crate) fn column(self) -> &'static str {
        match self {
            Scope::School(_) => "school_id",
            Scope::District(_) => "district_id",
        }
    }

    pub(crate) fn id(self) -> Uuid {
        match self {
            Scope::School(id) | Scope::District(id) => id,
        }
    }
}

/// Counts by status, added up.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Counts {
    pub(crate) present: i64,
    pub(crate) absent_excused: i64,
    pub(crate) absent_unexcused: i64,
    pub(crate) late: i64,
}

impl Counts {
    pub(crate) fn add(&mut self, other: Counts) {
        self.present += other.present;
        self.absent_excused += other.absent_excused;
        self.absent_unexcused += other.absent_unexcused;
        self.late += other.late;
    }

    pub(crate) fn count(&mut self, status: AttendanceStatus) {
        match status {
            AttendanceStatus::Present => self.present += 1,
            AttendanceStatus::AbsentExcused => self.absent_excused += 1,
            AttendanceStatus::AbsentUnexcused => self.absent_unexcused += 1,
            AttendanceStatus::Late => self.late += 1,
            AttendanceStatus::Unspecified => {}
        }
    }

    /// Every student marked, present or not.
    pub(crate) fn marked(&self) -> i64 {
        self.present + self.absent_excused + self.absent_unexcused + self.late
    }

    pub(crate) fn absence_rate(&self) -> f64 {
        match self.marked() {
            0 => 0.0,
            marked => (self.absent_excused + self.absent_unexcused) as f64 / marked as f64,
        }
    }

    pub(crate) fn to_proto(self) -> pb::StatusCounts {
        pb::StatusCounts {
            present: self.present as i32,
            absent_excused: self.absent_excused as i32,
            absent_unexcused: self.absent_unexcused as i32,
            late: self.late as i32,
        }
    }
}

/// A status stored as `smallint`.
pub(crate) fn status(stored: i16) -> AttendanceStatus {
    AttendanceStatus::try_from(i32::from(stored)).unwrap_or(AttendanceStatus::Unspecified)
}
