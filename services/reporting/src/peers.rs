//! The services reporting asks on behalf of its reader, with the reader's own
//! bearer token: identity for names and the directory's record, attendance for a
//! student's record, both for their logs of reads, messaging for a guardian's
//! conversations. Each decides by its own rules
//! what the reader sees; reporting adds nothing to the reader's rights.

use kernel::grpc::TracePropagation;
use lienlac_proto::attendance::v1::attendance_service_client::AttendanceServiceClient;
use lienlac_proto::identity::v1::directory_service_client::DirectoryServiceClient;
use lienlac_proto::messaging::v1::messaging_service_client::MessagingServiceClient;
use lienlac_proto::privacy::v1::read_log_client::ReadLogClient;
use school::peers::Traced;
use tonic::transport::Channel;

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
        school::peers::directory(&self.identity)
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
