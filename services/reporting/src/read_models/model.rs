//! The read models reporting keeps: their names, tables, indexes and publishers.

use kernel::config::ServiceId;

/// A read model, by the events it is projected from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Model {
    Directory,
    Attendance,
    /// The months' totals transferred to the city database.
    Transfers,
}

impl Model {
    pub(crate) const ALL: [Model; 3] = [Model::Directory, Model::Attendance, Model::Transfers];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Model::Directory => "directory",
            Model::Attendance => "attendance",
            Model::Transfers => "transfers",
        }
    }

    pub(crate) fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|model| model.name() == name)
    }

    /// The tables, with their primary keys.
    pub(super) fn tables(self) -> &'static str {
        match self {
            Model::Directory => include_str!("../../read_models/directory.sql"),
            Model::Attendance => include_str!("../../read_models/attendance.sql"),
            Model::Transfers => include_str!("../../read_models/transfers.sql"),
        }
    }

    /// The indexes, keys included: a rebuild builds them after its replay.
    pub(super) fn indexes(self) -> &'static str {
        match self {
            Model::Directory => include_str!("../../read_models/directory_indexes.sql"),
            Model::Attendance => include_str!("../../read_models/attendance_indexes.sql"),
            Model::Transfers => include_str!("../../read_models/transfers_indexes.sql"),
        }
    }

    pub(super) fn publisher(self) -> ServiceId {
        match self {
            Model::Directory => ServiceId::IDENTITY,
            Model::Attendance => ServiceId::ATTENDANCE,
            Model::Transfers => ServiceId::SYNC,
        }
    }
}
