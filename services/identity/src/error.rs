//! The identity service's errors: the kernel's, plus the one answer every failed
//! sign-in gets.

pub(crate) use kernel::error::{AppError, AppResult, projected_unique_or};

/// The same answer for an unknown username, an account not yet activated and a
/// wrong password.
pub(crate) fn bad_credentials() -> AppError {
    AppError::Status(tonic::Status::unauthenticated("wrong username or password"))
}

impl From<crate::passwords::HashingBusy> for AppError {
    fn from(busy: crate::passwords::HashingBusy) -> Self {
        AppError::Status(kernel::grpc::retry_later(
            busy.to_string(),
            busy.retry_after,
        ))
    }
}

impl From<crate::personal_data::SealError> for AppError {
    fn from(error: crate::personal_data::SealError) -> Self {
        match error {
            crate::personal_data::SealError::Erased(_) => AppError::Rejected(
                "this person's personal data was erased; register them again if they return"
                    .to_owned(),
            ),
            crate::personal_data::SealError::NoKey(_) => AppError::Rejected(
                "this person was registered before personal data was sealed; such a database is seeded again (docs/operations.md)"
                    .to_owned(),
            ),
            crate::personal_data::SealError::Other(error) => AppError::Unexpected(error),
        }
    }
}
