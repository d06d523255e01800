//! Kernel errors as gRPC statuses, so every service answers them alike.

use tonic_types::{ErrorDetails, StatusExt as _};

use crate::event_store::{AppendError, RequestError};

/// RESOURCE_EXHAUSTED with `message` and a `google.rpc.RetryInfo` saying when to
/// try again: a limit was reached, not a rule broken.
pub fn retry_later(message: impl Into<String>, after: std::time::Duration) -> tonic::Status {
    tonic::Status::with_error_details(
        tonic::Code::ResourceExhausted,
        message,
        ErrorDetails::with_retry_info(Some(after)),
    )
}

/// `code` with `english` as the message and `vietnamese` as a
/// `google.rpc.LocalizedMessage` (vi-VN): a rule of the domain said no.
pub fn rule_broken(
    code: tonic::Code,
    english: impl Into<String>,
    vietnamese: impl Into<String>,
) -> tonic::Status {
    tonic::Status::with_error_details(
        code,
        english,
        ErrorDetails::with_localized_message("vi-VN", vietnamese),
    )
}

/// A version conflict is ABORTED (the client retries); anything else is an
/// internal error, logged here and never shown.
pub fn append_error_status(error: AppendError) -> tonic::Status {
    match error {
        AppendError::Conflict { .. } => {
            tonic::Status::aborted("the record was changed by another request; retry")
        }
        AppendError::Database(_) | AppendError::Encode(_) => {
            tracing::error!(error = ?error, "rpc failed");
            tonic::Status::internal("internal error")
        }
    }
}

pub fn request_error_status(error: RequestError) -> tonic::Status {
    match error {
        RequestError::ReusedForAnotherCommand { .. } | RequestError::ReusedForAnotherRequest(_) => {
            tonic::Status::invalid_argument(error.to_string())
        }
        RequestError::RecordedConcurrently(_) => {
            tonic::Status::aborted("the same request_id is being handled concurrently; retry")
        }
        RequestError::Decode(_) | RequestError::Database(_) => {
            tracing::error!(error = ?error, "rpc failed");
            tonic::Status::internal("internal error")
        }
    }
}
