//! Request validation that answers like every lienlac service: INVALID_ARGUMENT with
//! a `google.rpc.BadRequest` listing each bad field, and a `google.rpc.LocalizedMessage`
//! in Vietnamese (`vi-VN`) beside the English message.
//!
//! ```ignore
//! let mut check = Check::new();
//! let school_id = check.uuid("school_id", &request.school_id);
//! let name = check.text("name", &request.name, 100);
//! check.done()?; // every value above is valid past this line
//! ```

use tonic_types::{ErrorDetails, StatusExt as _};
use uuid::Uuid;

/// One bad field: what is wrong, in English and in Vietnamese.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub field: String,
    pub english: String,
    pub vietnamese: String,
}

impl Violation {
    pub fn new(field: &str, english: impl Into<String>, vietnamese: impl Into<String>) -> Self {
        Self {
            field: field.to_owned(),
            english: english.into(),
            vietnamese: vietnamese.into(),
        }
    }

    pub fn required(field: &str) -> Self {
        Self::new(field, "is required", "là bắt buộc")
    }
}

/// Collects violations; values of bad fields come back as placeholders, which
/// [`Check::done`] guarantees are never used.
#[derive(Debug, Default)]
pub struct Check {
    violations: Vec<Violation>,
}

impl Check {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn add(&mut self, violation: Violation) {
        self.violations.push(violation);
    }

    /// Records the error of `result`, if any, and returns its value or `T::default()`.
    pub fn take<T: Default>(&mut self, result: Result<T, Violation>) -> T {
        result.unwrap_or_else(|violation| {
            self.violations.push(violation);
            T::default()
        })
    }

    /// The idempotency key of a request message: its `request_id` (a required
    /// UUID), its caller and its content.
    pub fn request_key<R: prost::Message + prost::Name>(
        &mut self,
        caller: &crate::auth::Caller,
        request_id: &str,
        request: &R,
    ) -> crate::event_store::RequestKey {
        let id = self.uuid("request_id", request_id);
        crate::event_store::RequestKey::new(caller, id, request)
    }

    /// Whether a list of `count` entries is within `max`; a longer one is a
    /// violation and its entries should not be read at all.
    pub fn at_most(&mut self, field: &str, count: usize, max: usize) -> bool {
        if count > max {
            self.add(Violation::new(
                field,
                format!("must list at most {max}"),
                format!("không được quá {max} mục"),
            ));
        }
        count <= max
    }

    /// A required UUID.
    pub fn uuid(&mut self, field: &str, value: &str) -> Uuid {
        self.take(parse_uuid(field, value))
    }

    /// A UUID that may be empty.
    pub fn optional_uuid(&mut self, field: &str, value: &str) -> Option<Uuid> {
        if value.trim().is_empty() {
            None
        } else {
            Some(self.uuid(field, value))
        }
    }

    /// Required text, trimmed, at most `max_chars` characters, without control
    /// characters (Postgres cannot even store a NUL).
    pub fn text(&mut self, field: &str, value: &str, max_chars: usize) -> String {
        let value = value.trim();
        if value.is_empty() {
            self.add(Violation::required(field));
        } else if let Err(violation) = printable(field, value) {
            self.add(violation);
        } else if value.chars().count() > max_chars {
            self.add(Violation::new(
                field,
                format!("must be at most {max_chars} characters"),
                format!("không được dài quá {max_chars} ký tự"),
            ));
        }
        value.to_owned()
    }

    /// A required local date, `YYYY-MM-DD`.
    pub fn date(&mut self, field: &str, value: &str) -> time::Date {
        crate::dates::parse(value).unwrap_or_else(|| {
            self.add(Violation::new(
                field,
                "must be a date written YYYY-MM-DD, from 1900 to 2199",
                "phải là ngày theo dạng YYYY-MM-DD, từ năm 1900 đến 2199",
            ));
            time::Date::MIN
        })
    }

    /// A required month, `YYYY-MM`, as its first and last day.
    pub fn month(&mut self, field: &str, value: &str) -> (time::Date, time::Date) {
        crate::dates::parse_month(value).unwrap_or_else(|| {
            self.add(Violation::new(
                field,
                "must be a month written YYYY-MM, from 1900 to 2199",
                "phải là tháng theo dạng YYYY-MM, từ năm 1900 đến 2199",
            ));
            (time::Date::MIN, time::Date::MIN)
        })
    }

    pub fn is_ok(&self) -> bool {
        self.violations.is_empty()
    }

    /// INVALID_ARGUMENT listing every violation, if there were any.
    pub fn done(&self) -> Result<(), tonic::Status> {
        if self.violations.is_empty() {
            Ok(())
        } else {
            Err(invalid_argument(&self.violations))
        }
    }
}

/// Text a person could have typed: no control characters but line breaks and tabs.
pub fn printable(field: &str, value: &str) -> Result<(), Violation> {
    if value
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\t'))
    {
        Err(Violation::new(
            field,
            "must not contain control characters",
            "không được chứa ký tự điều khiển",
        ))
    } else {
        Ok(())
    }
}

pub fn parse_uuid(field: &str, value: &str) -> Result<Uuid, Violation> {
    let value = value.trim();
    if value.is_empty() {
        return Err(Violation::required(field));
    }
    Uuid::parse_str(value)
        .map_err(|_| Violation::new(field, "must be a UUID", "phải là một UUID hợp lệ"))
}

/// The INVALID_ARGUMENT status for `violations`, with its error details.
/// The most violations one answer lists: they travel in the response headers,
/// which a client refuses past a few kilobytes.
const MAX_REPORTED: usize = 10;

pub fn invalid_argument(all: &[Violation]) -> tonic::Status {
    let violations = &all[..all.len().min(MAX_REPORTED)];
    let more = all.len() - violations.len();
    let mut english: Vec<String> = violations
        .iter()
        .map(|v| format!("{} {}", v.field, v.english))
        .collect();
    let mut vietnamese: Vec<String> = violations
        .iter()
        .map(|v| format!("{} {}", v.field, v.vietnamese))
        .collect();
    if more > 0 {
        english.push(format!("and {more} more"));
        vietnamese.push(format!("và {more} lỗi khác"));
    }
    let mut details = ErrorDetails::new();
    for violation in violations {
        details.add_bad_request_violation(violation.field.clone(), violation.english.clone());
    }
    details.set_localized_message(
        "vi-VN",
        format!("Yêu cầu không hợp lệ: {}", vietnamese.join("; ")),
    );
    tonic::Status::with_error_details(
        tonic::Code::InvalidArgument,
        format!("invalid request: {}", english.join("; ")),
        details,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_bad_field_is_listed_with_a_vietnamese_message() {
        let mut check = Check::new();
        check.uuid("school_id", "nope");
        check.text("name", "   ", 10);
        check.text("code", "ok", 10);
        let status = check.done().unwrap_err();
        assert_eq!(status.code(), tonic::Code::InvalidArgument);
        assert_eq!(
            status.message(),
            "invalid request: school_id must be a UUID; name is required"
        );
        let details = status.get_error_details();
        let fields: Vec<String> = details
            .bad_request()
            .unwrap()
            .field_violations
            .iter()
            .map(|v| v.field.clone())
            .collect();
        assert_eq!(fields, vec!["school_id", "name"]);
        let localized = details.localized_message().unwrap();
        assert_eq!(localized.locale, "vi-VN");
        assert!(
            localized.message.contains("name là bắt buộc"),
            "{}",
            localized.message
        );
    }

    #[test]
    fn many_bad_entries_are_summed_up_so_the_answer_stays_small() {
        let mut check = Check::new();
        for _ in 0..300 {
            check.uuid("person_ids", "nope");
        }
        let status = check.done().unwrap_err();
        assert!(
            status.message().ends_with("and 290 more"),
            "{}",
            status.message()
        );
        let listed = status
            .get_error_details()
            .bad_request()
            .unwrap()
            .field_violations
            .len();
        assert_eq!(listed, MAX_REPORTED);
        assert!(status.details().len() < 4096, "{}", status.details().len());
    }

    #[test]
    fn control_characters_are_refused_in_text() {
        let mut check = Check::new();
        check.text("username", "admin\u{0}", 100);
        assert!(check.done().is_err());
        assert!(printable("note", "hai dòng\nvà tab\t").is_ok());
        assert!(printable("note", "bell\u{7}").is_err());
    }
}
