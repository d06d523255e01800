//! A sync run's plan: the changes that make the directory hold what the source
//! holds (rules.rs decides them), each with the request id identity sees when it
//! is applied: derived from the source's code, version and what changes, so a
//! run killed halfway and started again asks for the same changes again and
//! identity answers the ones it already made without making them twice.

pub(crate) mod drift;
pub(crate) mod rules;

use lienlac_proto::identity::v1::{Gender, Relation};
use sha2::{Digest, Sha256};
use time::Date;
use uuid::Uuid;

/// What one change does in the directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Action {
    /// A district for the source's unit (`external_ref`).
    CreateDistrict {
        name: String,
    },
    CreateSchool {
        name: String,
    },
    CreateClass {
        name: String,
        grade: i32,
        school_year: String,
    },
    RegisterStaff {
        full_name: String,
        phone: String,
        position: String,
    },
    /// A staff member, student or guardian whose details differ; `None` keeps a field.
    UpdatePerson {
        person_id: String,
        full_name: Option<String>,
        phone: Option<String>,
        birth_date: Option<Date>,
        position: Option<String>,
    },
    /// The class (`external_ref`) gets the staff member `staff_code` as its
    /// homeroom teacher.
    AssignHomeroomTeacher {
        staff_code: String,
    },
    /// Registered and enrolled in `class_ref` in one step.
    RegisterStudent {
        full_name: String,
        birth_date: Date,
        gender: Gender,
    },
    EnrolStudent {
        student_id: String,
    },
    TransferStudent {
        student_id: String,
        effective: Option<Date>,
    },
    WithdrawStudent {
        student_id: String,
        effective: Option<Date>,
        reason: String,
    },
    RegisterGuardian {
        full_name: String,
        phone: String,
    },
    /// The guardian (`external_ref`) of the student `student_code`.
    LinkGuardian {
        student_code: String,
        relation: Relation,
    },
    /// The source no longer names the guardian (`external_ref`) the student's.
    UnlinkGuardian {
        guardian_id: String,
        student_id: String,
    },
}

/// One change of the plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Change {
    pub action: Action,
    /// The source's code of what changes: a class, a person.
    pub external_ref: String,
    /// The class it concerns, by the source's code; empty for none.
    pub class_ref: String,
    /// The source record's version the change comes from.
    pub version: u64,
    /// What changes, for a person reading the plan.
    pub detail: String,
}

impl Change {
    pub(crate) fn kind(&self) -> &'static str {
        match self.action {
            Action::CreateDistrict { .. } => "create_district",
            Action::CreateSchool { .. } => "create_school",
            Action::CreateClass { .. } => "create_class",
            Action::RegisterStaff { .. } => "register_staff",
            Action::UpdatePerson { .. } => "update_person",
            Action::AssignHomeroomTeacher { .. } => "assign_homeroom_teacher",
            Action::RegisterStudent { .. } => "register_student",
            Action::EnrolStudent { .. } => "enrol_student",
            Action::TransferStudent { .. } => "transfer_student",
            Action::WithdrawStudent { .. } => "withdraw_student",
            Action::RegisterGuardian { .. } => "register_guardian",
            Action::LinkGuardian { .. } => "link_guardian",
            Action::UnlinkGuardian { .. } => "unlink_guardian",
        }
    }

    /// The request id of this change: the same change of the same source record
    /// version has the same id in every run.
    pub(crate) fn request_id(&self, school_ref: &str) -> Uuid {
        let target = match &self.action {
            Action::UpdatePerson { person_id, .. } => person_id.as_str(),
            Action::TransferStudent { student_id, .. }
            | Action::WithdrawStudent { student_id, .. }
            | Action::EnrolStudent { student_id } => student_id.as_str(),
            Action::AssignHomeroomTeacher { staff_code } => staff_code.as_str(),
            Action::LinkGuardian { student_code, .. } => student_code.as_str(),
            Action::UnlinkGuardian { student_id, .. } => student_id.as_str(),
            _ => "",
        };
        let key = format!(
            "lienlac-sync:{school_ref}:{}:{}:{}:{target}:v{}:{}",
            self.kind(),
            self.external_ref,
            self.class_ref,
            self.version,
            self.detail
        );
        let hash = Sha256::digest(key.as_bytes());
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(&hash[..16]);
        uuid::Builder::from_custom_bytes(bytes).into_uuid()
    }
}
