//! gRPC statuses as a person at a terminal reads them.

/// One line saying what went wrong and, where there is one, what to do.
pub(crate) fn describe(status: &tonic::Status) -> String {
    use tonic::Code;
    let message = status.message();
    match status.code() {
        Code::Unauthenticated => {
            format!("not signed in or the session has ended ({message}): run `lienlac login`")
        }
        Code::PermissionDenied => format!("not allowed: {message}"),
        // The services' own answer already says so (kernel/src/grpc/check.rs).
        Code::InvalidArgument => format!(
            "invalid request: {}",
            message.strip_prefix("invalid request: ").unwrap_or(message)
        ),
        Code::NotFound => format!("not found: {message}"),
        Code::AlreadyExists => format!("already exists: {message}"),
        Code::FailedPrecondition => format!("not possible now: {message}"),
        Code::Aborted => format!("changed at the same time by someone else, try again: {message}"),
        Code::Unavailable => format!("the service is not reachable ({message}): is it running?"),
        Code::DeadlineExceeded => format!("the service did not answer in time: {message}"),
        code => format!("{code:?}: {message}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_invalid_request_is_said_once_whoever_said_it_first() {
        for message in [
            "invalid request: school_id must be a UUID",
            "school_id must be a UUID",
        ] {
            assert_eq!(
                describe(&tonic::Status::invalid_argument(message)),
                "invalid request: school_id must be a UUID"
            );
        }
    }
}
