//! Asking another service on behalf of the caller, with the caller's own bearer
//! token: the peer decides by its own rules what the caller sees, and the asking
//! service adds nothing to the caller's rights (reporting's exports, messaging's
//! survey results name students this way).

use kernel::error::AppError;
use kernel::grpc::TracePropagation;
use lienlac_proto::identity::v1::directory_service_client::DirectoryServiceClient;
use tonic::codegen::InterceptedService;
use tonic::metadata::{AsciiMetadataValue, MetadataMap};
use tonic::transport::Channel;

/// A channel whose requests carry the current trace.
pub type Traced = InterceptedService<Channel, TracePropagation>;

/// Identity's directory over `channel`, traced.
pub fn directory(channel: &Channel) -> DirectoryServiceClient<Traced> {
    DirectoryServiceClient::with_interceptor(channel.clone(), TracePropagation)
}

/// The reader's bearer token, forwarded as it came.
#[derive(Clone)]
pub struct Reader(AsciiMetadataValue);

impl Reader {
    pub fn of(metadata: &MetadataMap) -> Result<Self, AppError> {
        metadata
            .get("authorization")
            .cloned()
            .map(Self)
            .ok_or_else(|| tonic::Status::unauthenticated("sign in first").into())
    }

    /// A reader with this `Bearer …` header value (a service's own token,
    /// service_identity.rs).
    pub fn bearer(value: AsciiMetadataValue) -> Self {
        Self(value)
    }

    /// `message` as a request of this reader.
    pub fn request<T>(&self, message: T) -> tonic::Request<T> {
        let mut request = tonic::Request::new(message);
        request
            .metadata_mut()
            .insert("authorization", self.0.clone());
        request
    }
}

/// A peer's answer as the asking service's own: its refusal of the reader stands,
/// anything else is the peer being unavailable.
pub fn answer_of(peer: &str, status: tonic::Status) -> AppError {
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
