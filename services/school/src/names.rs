//! Students' names for reports and exports, asked of identity with the reader's
//! own token: the other services keep no names, and identity decides which
//! students and which birth dates the reader sees
//! (services/identity/src/personal_details.rs).

use std::collections::HashMap;

use kernel::error::AppResult;
use lienlac_proto::identity::v1::DescribeStudentsRequest;
use uuid::Uuid;

use lienlac_proto::identity::v1::directory_service_client::DirectoryServiceClient;

use crate::peers::{Reader, Traced, answer_of};

/// Identity's `DescribeStudents` takes this many ids at a time.
const BATCH: usize = 2_000;

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
