//! What a source says, in two forms: rows as an adapter read them (`Raw*`, every
//! field as the source wrote it, with where it was), and the school they make
//! once normalised (`Source*`, normalise.rs). Each adapter knows one wire format
//! (citydb.rs, oneroster.rs); nothing after it does.

pub(crate) mod citydb;
pub(crate) mod oneroster;
pub(crate) mod reader;
pub(crate) mod xlsx;

use std::collections::BTreeMap;

use lienlac_proto::identity::v1::{Gender, Relation};
use time::Date;

/// Where a row was: the list or file, and its line (0 for an API list).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Place {
    pub source: String,
    pub line: u32,
}

impl Place {
    pub(crate) fn list(source: &str) -> Self {
        Self {
            source: source.to_owned(),
            line: 0,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RawUnit {
    pub code: String,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RawSchool {
    pub code: String,
    pub name: String,
    pub unit_code: String,
}

#[derive(Debug, Clone)]
pub(crate) struct RawClass {
    pub at: Place,
    pub code: String,
    pub name: String,
    pub grade: String,
    pub school_year: String,
    pub homeroom_teacher_code: String,
    pub version: u64,
}

/// A staff member or a guardian.
#[derive(Debug, Clone)]
pub(crate) struct RawPerson {
    pub at: Place,
    pub code: String,
    pub full_name: String,
    pub phone: String,
    pub position: String,
    pub version: u64,
}

#[derive(Debug, Clone)]
pub(crate) struct RawStudent {
    pub at: Place,
    pub code: String,
    pub full_name: String,
    pub birth_date: String,
    pub gender: String,
    pub class_code: String,
    pub class_since: String,
    /// `studying` or `left`.
    pub status: String,
    pub left_on: String,
    /// (guardian's code, relation as written).
    pub guardians: Vec<(String, String)>,
    pub version: u64,
}

/// Two rows are the same record when all but where they were agree: a guardian
/// named on two students' rows, a page served twice.
macro_rules! same_record {
    ($type:ty { $($field:ident),* }) => {
        impl PartialEq for $type {
            fn eq(&self, other: &Self) -> bool {
                $(self.$field == other.$field)&&*
            }
        }
        impl Eq for $type {}
    };
}

same_record!(RawClass {
    code,
    name,
    grade,
    school_year,
    homeroom_teacher_code,
    version
});
same_record!(RawPerson {
    code,
    full_name,
    phone,
    position,
    version
});
same_record!(RawStudent {
    code,
    full_name,
    birth_date,
    gender,
    class_code,
    class_since,
    status,
    left_on,
    guardians,
    version
});

/// Everything a source holds of one school, as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RawSchoolData {
    pub school: RawSchool,
    pub classes: Vec<RawClass>,
    pub staff: Vec<RawPerson>,
    pub students: Vec<RawStudent>,
    pub guardians: Vec<RawPerson>,
}

/// A row that could not be mirrored, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RowError {
    pub at: Place,
    pub column: String,
    pub external_ref: String,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SourceClass {
    pub code: String,
    pub name: String,
    pub grade: i32,
    pub school_year: String,
    pub homeroom_teacher_code: Option<String>,
    pub version: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SourcePerson {
    pub code: String,
    pub full_name: String,
    /// E.164.
    pub phone: String,
    pub position: String,
    pub version: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SourceStudent {
    pub code: String,
    pub full_name: String,
    /// Birth date and sex; `None` for a student who left, who is only withdrawn.
    pub details: Option<(Date, Gender)>,
    pub class_code: String,
    /// When the student joined `class_code`, if after the school year began.
    pub class_since: Option<Date>,
    /// The first date a student who left is no longer in the class; `None` while
    /// they study.
    pub left_on: Option<Date>,
    pub left: bool,
    pub guardians: Vec<(String, Relation)>,
    pub version: u64,
}

/// A school as the source holds it, normalised: each record once.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct SourceSchool {
    pub code: String,
    pub name: String,
    pub classes: Vec<SourceClass>,
    pub staff: Vec<SourcePerson>,
    pub students: Vec<SourceStudent>,
    /// By code: the guardians the students name.
    pub guardians: BTreeMap<String, SourcePerson>,
}
