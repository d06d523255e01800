//! Students' names for reports and exports, asked of identity with the reader's
//! own token: reporting keeps no names, and identity decides which students and
//! which birth dates the reader sees (services/identity/src/personal_details.rs).

use std::collections::HashMap;

use kernel::error::{AppError, AppResult};
use kernel::grpc::TracePropagation;
use lienlac_proto::identity::v1::DescribeStudentsRequest;
use lienlac_proto::identity::v1::directory_service_client::DirectoryServiceClient;
use tonic::codegen::InterceptedService;
use tonic::metadata::{AsciiMetadataValue, MetadataMap};
use tonic::transport::Channel;
use uuid::Uuid;

/// Identity's `DescribeStudents` takes this many ids at a time.
const BATCH: usize = 2_000;

/// A student as the reader may see them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct StudentName {
    pub(crate) full_name: String,
    /// Empty unless the reader may see it.
    pub(crate) birth_date: String,
}

#[derive(Clone)]
pub(crate) struct Names {
    client: DirectoryServiceClient<InterceptedService<Channel, TracePropagation>>,
}

/// The reader's bearer token, forwarded as it came.
#[derive(Clone)]
pub(crate) struct Reader(AsciiMetadataValue);

impl Reader {
    pub(crate) fn of(metadata: &MetadataMap) -> AppResult<Self> {
        metadata
            .get("authorization")
            .cloned()
            .map(Self)
            .ok_or_else(|| tonic::Status::unauthenticated("sign in first").into())
    }
}

impl Names {
    /// Connects lazily, as the token verifier does.
    pub(crate) fn new(
        identity_url: &str,
        tls: &kernel::config::TlsSettings,
    ) -> anyhow::Result<Self> {
        let channel = tls
            .endpoint(identity_url)?
            .connect_timeout(std::time::Duration::from_secs(5))
            .timeout(std::time::Duration::from_secs(10))
            .connect_lazy();
        Ok(Self {
            client: DirectoryServiceClient::with_interceptor(channel, TracePropagation),
        })
    }

    /// The students of `ids` the reader may see; the others, and erased students,
    /// are missing.
    pub(crate) async fn of(
        &self,
        reader: &Reader,
        ids: &[Uuid],
    ) -> AppResult<HashMap<Uuid, StudentName>> {
        let mut names = HashMap::with_capacity(ids.len());
        for batch in ids.chunks(BATCH) {
            let mut request = tonic::Request::new(DescribeStudentsRequest {
                student_ids: batch.iter().map(Uuid::to_string).collect(),
            });
            request
                .metadata_mut()
                .insert("authorization", reader.0.clone());
            let students = self
                .client
                .clone()
                .describe_students(request)
                .await
                .map_err(|status| match status.code() {
                    // The reader's token, refused by identity too.
                    tonic::Code::Unauthenticated | tonic::Code::PermissionDenied => {
                        AppError::from(status)
                    }
                    code => {
                        tracing::warn!(?code, "identity did not describe the students");
                        AppError::from(tonic::Status::unavailable(
                            "the directory did not answer with the students' names; try again",
                        ))
                    }
                })?
                .into_inner()
                .students;
            for student in students {
                if let Ok(id) = Uuid::parse_str(&student.id) {
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
}
