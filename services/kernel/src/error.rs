//! The errors a service's use cases return, and their one mapping to gRPC statuses:
//! rejections carry a message safe to show; unexpected failures are logged with
//! their chain and answered "internal error".

use crate::event_store::{AppendError, RequestError};
use crate::grpc::{append_error_status, request_error_status};
use crate::write_model::{RebuildError, WriteError};

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// Already a gRPC answer (validation, authentication, authorisation).
    #[error("{}", .0.message())]
    Status(tonic::Status),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{0}")]
    AlreadyExists(String),
    /// A rule said no (FAILED_PRECONDITION); the message is safe to show.
    #[error("{0}")]
    Rejected(String),
    #[error(transparent)]
    Append(#[from] AppendError),
    #[error(transparent)]
    Request(#[from] RequestError),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

pub type AppResult<T> = Result<T, AppError>;

impl From<tonic::Status> for AppError {
    fn from(status: tonic::Status) -> Self {
        Self::Status(status)
    }
}

impl From<sqlx::Error> for AppError {
    fn from(error: sqlx::Error) -> Self {
        Self::Unexpected(error.into())
    }
}

impl From<WriteError> for AppError {
    fn from(error: WriteError) -> Self {
        match error {
            WriteError::Append(error) => Self::Append(error),
            WriteError::Project { .. } => Self::Unexpected(error.into()),
        }
    }
}

impl From<RebuildError> for AppError {
    fn from(error: RebuildError) -> Self {
        match error {
            RebuildError::Busy => Self::Status(tonic::Status::unavailable(error.to_string())),
            // Names the event and the field or constraint, never row data.
            RebuildError::Project { .. } => {
                Self::Status(tonic::Status::failed_precondition(error.to_string()))
            }
            error => Self::Unexpected(error.into()),
        }
    }
}

impl From<AppError> for tonic::Status {
    fn from(error: AppError) -> Self {
        match error {
            AppError::Status(status) => status,
            AppError::NotFound(what) => tonic::Status::not_found(format!("{what} not found")),
            AppError::AlreadyExists(message) => tonic::Status::already_exists(message),
            AppError::Rejected(message) => tonic::Status::failed_precondition(message),
            AppError::Append(error) => append_error_status(error),
            AppError::Request(error) => request_error_status(error),
            AppError::Unexpected(error) => {
                tracing::error!(error = ?error, "rpc failed");
                tonic::Status::internal("internal error")
            }
        }
    }
}

/// ALREADY_EXISTS with `message` when projecting the events broke a unique
/// constraint (the row is there already); otherwise the error as it is.
pub fn projected_unique_or(error: WriteError, message: impl FnOnce() -> String) -> AppError {
    if error.is_unique_violation() {
        AppError::AlreadyExists(message())
    } else {
        error.into()
    }
}
