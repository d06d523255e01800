//! The published events by their CloudEvents type (`ce-type`), decoded for
//! display: what a subscriber sees of the contract.

use prost::{Message, Name};

/// The event's fields as JSON; `None` when `event_type` is not one of lienlac's
/// published events, `Some(Err)` when the payload does not decode as it.
pub fn to_json(event_type: &str, payload: &[u8]) -> Option<Result<serde_json::Value, String>> {
    fn decoded<M: Message + Name + Default + serde::Serialize>(
        payload: &[u8],
    ) -> Result<serde_json::Value, String> {
        let message = M::decode(payload).map_err(|error| format!("{}: {error}", M::full_name()))?;
        serde_json::to_value(message).map_err(|error| error.to_string())
    }
    macro_rules! one_of {
        ($($message:ty),* $(,)?) => {
            $(if event_type == <$message>::full_name() {
                return Some(decoded::<$message>(payload));
            })*
        };
    }
    use crate::{attendance, identity, messaging};
    one_of!(
        attendance::v2::RollCallSubmitted,
        attendance::v2::StudentAbsenceRecorded,
        attendance::v2::MarkCorrected,
        attendance::v2::LeaveRequested,
        attendance::v2::LeaveDecided,
        attendance::v2::SchoolClosureDeclared,
        attendance::v2::MonthClosed,
        attendance::v2::MonthReopened,
        identity::v2::DistrictCreated,
        identity::v2::SchoolCreated,
        identity::v2::ClassCreated,
        identity::v2::StudentRegistered,
        identity::v2::StaffRegistered,
        identity::v2::GuardianRegistered,
        identity::v2::StudentEnrolled,
        identity::v2::StudentTransferred,
        identity::v2::StudentWithdrawn,
        identity::v2::GuardianLinked,
        identity::v2::HomeroomTeacherAssigned,
        identity::v2::AccountIssued,
        identity::v2::AccountActivated,
        identity::v2::AccountSignedIn,
        identity::v2::AccountLocked,
        identity::v2::AccountUnlocked,
        identity::v2::RoleGranted,
        identity::v2::RoleRevoked,
        identity::v2::PersonalDataErased,
        identity::v2::DisplayNameChosen,
        messaging::v1::DirectThreadStarted,
        messaging::v1::MessagePosted,
        messaging::v1::MessageEdited,
        messaging::v1::MessageDeleted,
        messaging::v1::AnnouncementPublished,
        messaging::v1::AnnouncementShown,
        messaging::v1::ReceiptsUpdated,
        messaging::v1::SchoolPolicySet,
        messaging::v1::PostSubmitted,
        messaging::v1::PostApproved,
        messaging::v1::PostRejected,
        messaging::v1::BulletinPublished,
        messaging::v1::SurveyCreated,
        messaging::v1::AbsenceNoticeRaised,
        messaging::v1::AbsenceNoticeCorrected,
        // Attendance's version 1, published until it retires (docs/events.md).
        attendance::v1::RollCallSubmitted,
        attendance::v1::StudentAbsenceRecorded,
        attendance::v1::MarkCorrected,
        attendance::v1::LeaveRequested,
        attendance::v1::LeaveDecided,
        attendance::v1::SchoolClosureDeclared,
        attendance::v1::MonthClosed,
        attendance::v1::MonthReopened,
    );
    None
}
