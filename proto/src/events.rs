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
    use crate::{attendance::v1 as attendance, identity::v1 as identity};
    one_of!(
        attendance::RollCallSubmitted,
        attendance::StudentAbsenceRecorded,
        attendance::MarkCorrected,
        attendance::LeaveRequested,
        attendance::LeaveDecided,
        attendance::SchoolClosureDeclared,
        attendance::MonthClosed,
        attendance::MonthReopened,
        identity::DistrictCreated,
        identity::SchoolCreated,
        identity::ClassCreated,
        identity::StudentRegistered,
        identity::StaffRegistered,
        identity::GuardianRegistered,
        identity::StudentEnrolled,
        identity::StudentTransferred,
        identity::StudentWithdrawn,
        identity::GuardianLinked,
        identity::HomeroomTeacherAssigned,
        identity::AccountIssued,
        identity::AccountActivated,
        identity::AccountSignedIn,
        identity::AccountLocked,
        identity::AccountUnlocked,
        identity::RoleGranted,
        identity::RoleRevoked,
    );
    None
}
