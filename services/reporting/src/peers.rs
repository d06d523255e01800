//! The services reporting asks on behalf of its reader, with the reader's own
//! bearer token: identity for names and the directory's record, attendance for a
//! student's record, both for their logs of reads, messaging for a guardian's
//! conversations. Each decides by its own rules
//! what the reader sees; reporting adds nothing to the reader's rights.

use kernel::error::AppError;
use kernel::grpc::TracePropagation;
use lienlac_proto::attendance::v1::attendance_service_client::AttendanceServiceClient;
use lienlac_proto::identity::v1::directory_service_client::DirectoryServiceClient;
use lienlac_proto::messaging::v1::messaging_service_client::MessagingServiceClient;
use lienlac_proto::privacy::v1::read_log_client::ReadLogClient;
use tonic::codegen::InterceptedService;
use tonic::metadata::{AsciiMetadataValue, MetadataMap};
use tonic::transport::Channel;

type Traced = InterceptedService<Channel, TracePropagation>;

/// The reader's bearer token, forwarded as it came.
#[derive(Clone)]
pub(crate) struct Reader(AsciiMetadataValue);

impl Reader {
    pub(crate) fn of(metadata: &MetadataMap) -> Result<Self, AppError> {
        metadata
            .get("authorization")
            .cloned()
            .map(Self)
            .ok_or_else(|| tonic::Status::unauthenticated("sign in first").into())
    }

    /// `message` as a request of this reader.
    pub(crate) fn request<T>(&self, message: T) -> tonic::Request<T> {
        let mut request = tonic::Request::new(message);
        request
            .metadata_mut()
            .insert("authorization", self.0.clone());
        request
    }
}

#[derive(Clone)]
pub(crate) struct Peers {
    identity: Channel,
    attendance: Channel,
    messaging: Channel,
}

impl Peers {
    /// Connects lazily, as the token verifier does.
    pub(crate) fn new(
        [identity_url, attendance_url, messaging_url]: [&str; 3],
        tls: &kernel::config::TlsSettings,
    ) -> anyhow::Result<Self> {
        let channel = |url: &str| -> anyhow::Result<Channel> {
            Ok(tls
                .endpoint(url)?
                .connect_timeout(std::time::Duration::from_secs(5))
                .timeout(std::time::Duration::from_secs(10))
                .connect_lazy())
        };
        Ok(Self {
            identity: channel(identity_url)?,
            attendance: channel(attendance_url)?,
            messaging: channel(messaging_url)?,
        })
    }

    pub(crate) fn directory(&self) -> DirectoryServiceClient<Traced> {
        DirectoryServiceClient::with_interceptor(self.identity.clone(), TracePropagation)
    }

    pub(crate) fn attendance(&self) -> AttendanceServiceClient<Traced> {
        AttendanceServiceClient::with_interceptor(self.attendance.clone(), TracePropagation)
    }

    pub(crate) fn messaging(&self) -> MessagingServiceClient<Traced> {
        MessagingServiceClient::with_interceptor(self.messaging.clone(), TracePropagation)
    }

    /// The read logs of the other services that serve students' data.
    pub(crate) fn read_logs(&self) -> [(&'static str, ReadLogClient<Traced>); 2] {
        [
            (
                "identity",
                ReadLogClient::with_interceptor(self.identity.clone(), TracePropagation),
            ),
            (
                "attendance",
                ReadLogClient::with_interceptor(self.attendance.clone(), TracePropagation),
            ),
        ]
    }
}

/// A peer's answer as reporting's own: its refusal of the reader stands, anything
/// else is the peer being unavailable.
pub(crate) fn answer_of(peer: &str, status: tonic::Status) -> AppError {
    match status.code() {
        tonic::Code::Unauthenticated
        | tonic::Code::PermissionDenied
        | tonic::Code::NotFound
        | tonic::Code::InvalidArgument => AppError::from(status),
        code => {
            tracing::warn!(peer, ?code, "a peer did not answer");
            AppError::from(tonic::Status::unavailable(format!(
                "the {peer} service did not answer; try again"
            )))
        }
    }
}
