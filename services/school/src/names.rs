//! Names asked of identity with the reader's own token: students' names for
//! reports and exports, and how the people of a conversation appear. The other
//! services keep no names, and identity decides whom and what the reader sees
//! (services/identity/src/personal_details.rs, directory/members.rs).

use std::collections::HashMap;

use kernel::error::AppResult;
use lienlac_proto::identity::v1::{
    DescribeContactsRequest, DescribeMembersRequest, DescribeStudentsRequest, PersonKind,
};
use uuid::Uuid;

use lienlac_proto::identity::v1::directory_service_client::DirectoryServiceClient;

use crate::peers::{Reader, Traced, answer_of};

/// Identity's `DescribeStudents` takes this many ids at a time.
const BATCH: usize = 2_000;

/// Identity's `DescribeMembers` takes this many ids at a time.
const MEMBERS_BATCH: usize = 500;

/// A student as the reader may see them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StudentName {
    pub full_name: String,
    /// Empty unless the reader may see it.
    pub birth_date: String,
}

/// The students of `ids` the reader may see; the others, and erased students,
/// are missing.
pub async fn names_of(
    mut directory: DirectoryServiceClient<Traced>,
    reader: &Reader,
    ids: &[Uuid],
) -> AppResult<HashMap<Uuid, StudentName>> {
    let mut names = HashMap::with_capacity(ids.len());
    for batch in ids.chunks(BATCH) {
        let request = reader.request(DescribeStudentsRequest {
            student_ids: batch.iter().map(Uuid::to_string).collect(),
        });
        let students = directory
            .describe_students(request)
            .await
            .map_err(|status| answer_of("identity", status))?
            .into_inner()
            .students;
        for student in students {
            if let (Ok(id), false) = (Uuid::parse_str(&student.id), student.erased) {
                names.insert(
                    id,
                    StudentName {
                        full_name: student.full_name,
                        birth_date: student.birth_date,
                    },
                );
            }
        }
    }
    Ok(names)
}

/// How a person appears in a conversation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemberName {
    /// "Lê Thị Dung", "Phụ huynh em Ánh", or the name a guardian chose.
    pub display_name: String,
    /// A staff member: what a guardian's chosen name cannot pass for.
    pub staff: bool,
}

/// How the people of `ids` appear to the reader; those the reader shares no
/// school with, and erased people, are missing.
pub async fn display_names_of(
    mut directory: DirectoryServiceClient<Traced>,
    reader: &Reader,
    ids: &[Uuid],
) -> AppResult<HashMap<Uuid, MemberName>> {
    let mut names = HashMap::with_capacity(ids.len());
    for batch in ids.chunks(MEMBERS_BATCH) {
        let request = reader.request(DescribeMembersRequest {
            person_ids: batch.iter().map(Uuid::to_string).collect(),
        });
        let members = directory
            .describe_members(request)
            .await
            .map_err(|status| answer_of("identity", status))?
            .into_inner()
            .members;
        for member in members {
            if let (Ok(id), false) = (Uuid::parse_str(&member.person_id), member.erased) {
                let staff = member.kind == PersonKind::Staff as i32;
                names.insert(
                    id,
                    MemberName {
                        display_name: member.display_name,
                        staff,
                    },
                );
            }
        }
    }
    Ok(names)
}

/// The phone numbers (E.164 without the plus: "84901234567") of `ids`, for a
/// service's own reader (identity refuses anyone else); people without a phone
/// number, and erased people, are missing.
pub async fn phones_of(
    mut directory: DirectoryServiceClient<Traced>,
    service: &Reader,
    ids: &[Uuid],
) -> AppResult<HashMap<Uuid, String>> {
    let mut phones = HashMap::with_capacity(ids.len());
    for batch in ids.chunks(BATCH) {
        let request = service.request(DescribeContactsRequest {
            person_ids: batch.iter().map(Uuid::to_string).collect(),
        });
        let contacts = directory
            .describe_contacts(request)
            .await
            .map_err(|status| answer_of("identity", status))?
            .into_inner()
            .contacts;
        for contact in contacts {
            if let Ok(id) = Uuid::parse_str(&contact.person_id) {
                phones.insert(id, contact.phone);
            }
        }
    }
    Ok(phones)
}
