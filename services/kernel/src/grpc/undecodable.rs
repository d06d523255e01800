//! A request whose bytes do not decode as the method's message is the caller's
//! mistake, not the server's: tonic answers it INTERNAL (its codec's choice for
//! every protobuf decoding error), and the server's trace layer turns that answer
//! into INVALID_ARGUMENT before it leaves. Only server responses pass here, so a
//! client that fails to decode a response still sees INTERNAL.

use http::HeaderMap;
use tonic::{Code, Status};

/// How tonic's prost codec starts the message of a decoding error
/// (`prost::DecodeError`'s `Display`).
const DECODE_ERROR: &str = "failed to decode Protobuf message";

/// Rewrites a trailers-only INTERNAL answer to an undecodable request as
/// INVALID_ARGUMENT, and returns the code the response now carries (0 when it
/// carries none in its headers).
pub(super) fn answer_undecodable_as_invalid_argument(headers: &mut HeaderMap) -> i32 {
    let code = headers
        .get("grpc-status")
        .map_or(Code::Ok, |value| Code::from_bytes(value.as_bytes()));
    // Only an INTERNAL answer is decoded further (its message percent-decoded).
    if code != Code::Internal {
        return code as i32;
    }
    let Some(status) = Status::from_header_map(headers) else {
        return code as i32;
    };
    let detail = match status.message().strip_prefix(DECODE_ERROR) {
        Some(detail) if status.code() == Code::Internal => detail.trim_start_matches(':').trim(),
        _ => return status.code() as i32,
    };
    let answer = Status::invalid_argument(format!(
        "the request is not a valid protobuf message of this method: {detail}"
    ));
    if answer.add_header(headers).is_err() {
        return status.code() as i32;
    }
    answer.code() as i32
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(status: Status) -> HeaderMap {
        let mut headers = HeaderMap::new();
        status.add_header(&mut headers).unwrap();
        headers
    }

    #[test]
    fn only_a_decoding_failure_becomes_invalid_argument() {
        let mut undecodable = headers(Status::internal(
            "failed to decode Protobuf message: SubmitRollCallRequest.request_id: buffer underflow",
        ));
        assert_eq!(answer_undecodable_as_invalid_argument(&mut undecodable), 3);
        let answer = Status::from_header_map(&undecodable).unwrap();
        assert_eq!(answer.code(), Code::InvalidArgument);
        assert_eq!(
            answer.message(),
            "the request is not a valid protobuf message of this method: SubmitRollCallRequest.request_id: buffer underflow"
        );

        for status in [
            Status::internal("the database is unreachable"),
            Status::invalid_argument("failed to decode Protobuf message: already named"),
            Status::permission_denied("not your school"),
        ] {
            let mut other = headers(status.clone());
            assert_eq!(
                answer_undecodable_as_invalid_argument(&mut other),
                status.code() as i32
            );
            assert_eq!(other, headers(status));
        }
        assert_eq!(
            answer_undecodable_as_invalid_argument(&mut HeaderMap::new()),
            0
        );
    }
}
