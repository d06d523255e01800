//! The published events by their CloudEvents type (`ce-type`), decoded for
//! display: what a subscriber sees of the contract.

use prost::{Message, Name};

/// The event's fields as JSON, enumerations by their names
/// (`"ATTENDANCE_STATUS_ABSENT_UNEXCUSED"`, not `4`); `None` when `event_type` is
/// not one of lienlac's published events, `Some(Err)` when the payload does not
/// decode as it.
pub fn to_json(event_type: &str, payload: &[u8]) -> Option<Result<serde_json::Value, String>> {
    fn decoded<M: Message + Name + Default + serde::Serialize>(
        payload: &[u8],
    ) -> Result<serde_json::Value, String> {
        let message = M::decode(payload).map_err(|error| format!("{}: {error}", M::full_name()))?;
        let mut value = serde_json::to_value(message).map_err(|error| error.to_string())?;
        enum_names::name_enums(&mut value, &format!(".{}", M::full_name()));
        Ok(value)
    }
    macro_rules! one_of {
        ($($message:ty),* $(,)?) => {
            $(if event_type == <$message>::full_name() {
                return Some(decoded::<$message>(payload));
            })*
        };
    }
    use crate::{attendance, identity, messaging, sync};
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
        identity::v2::ClassRosterImported,
        identity::v2::GuardianLinked,
        identity::v2::GuardianUnlinked,
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
        identity::v2::PersonUpdated,
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
        sync::v1::SyncRunStarted,
        sync::v1::SyncRunCompleted,
        sync::v1::MonthTotalsPushed,
        sync::v1::TermResultsImported,
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

/// Enumerations named from the contract's own descriptors
/// (`crate::FILE_DESCRIPTOR_SET`): the generated types hold their numbers.
mod enum_names {
    use std::collections::HashMap;
    use std::sync::OnceLock;

    use prost::Message as _;
    use prost_types::field_descriptor_proto::Type;
    use prost_types::{DescriptorProto, EnumDescriptorProto, FileDescriptorSet};

    struct Contract {
        messages: HashMap<String, DescriptorProto>,
        enums: HashMap<String, EnumDescriptorProto>,
    }

    fn contract() -> &'static Contract {
        static CONTRACT: OnceLock<Contract> = OnceLock::new();
        CONTRACT.get_or_init(|| {
            let set = FileDescriptorSet::decode(crate::FILE_DESCRIPTOR_SET).unwrap_or_default();
            let mut contract = Contract {
                messages: HashMap::new(),
                enums: HashMap::new(),
            };
            for file in set.file {
                let scope = format!(".{}", file.package());
                for message in file.message_type {
                    add_message(&mut contract, &scope, message);
                }
                for enumeration in file.enum_type {
                    contract
                        .enums
                        .insert(format!("{scope}.{}", enumeration.name()), enumeration);
                }
            }
            contract
        })
    }

    fn add_message(contract: &mut Contract, scope: &str, message: DescriptorProto) {
        let name = format!("{scope}.{}", message.name());
        for nested in &message.nested_type {
            add_message(contract, &name, nested.clone());
        }
        for enumeration in &message.enum_type {
            contract.enums.insert(
                format!("{name}.{}", enumeration.name()),
                enumeration.clone(),
            );
        }
        contract.messages.insert(name, message);
    }

    /// Replaces, in `value` (the JSON of the message `type_name`), each
    /// enumeration's number by its name, in nested messages too.
    pub(super) fn name_enums(value: &mut serde_json::Value, type_name: &str) {
        let contract = contract();
        let (Some(message), Some(fields)) =
            (contract.messages.get(type_name), value.as_object_mut())
        else {
            return;
        };
        for field in &message.field {
            let Some(found) = fields.get_mut(field.name()) else {
                continue;
            };
            let items: Vec<&mut serde_json::Value> = match found {
                serde_json::Value::Array(items) => items.iter_mut().collect(),
                one => vec![one],
            };
            for item in items {
                match field.r#type() {
                    Type::Enum => {
                        let named = contract.enums.get(field.type_name()).and_then(|e| {
                            let number = item.as_i64()?;
                            e.value.iter().find(|v| i64::from(v.number()) == number)
                        });
                        if let Some(named) = named {
                            *item = serde_json::Value::String(named.name().to_owned());
                        }
                    }
                    Type::Message => name_enums(item, field.type_name()),
                    _ => {}
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enumerations_are_named_in_the_json_nested_and_repeated_ones_too() {
        let event = crate::attendance::v2::RollCallSubmitted {
            session: crate::attendance::v1::Session::Morning as i32,
            marks: vec![crate::attendance::v2::Mark {
                status: crate::attendance::v1::AttendanceStatus::AbsentUnexcused as i32,
                ..Default::default()
            }],
            ..Default::default()
        };
        let json = to_json(
            &crate::attendance::v2::RollCallSubmitted::full_name(),
            &event.encode_to_vec(),
        )
        .unwrap()
        .unwrap();
        assert_eq!(json["session"], "SESSION_MORNING");
        assert_eq!(
            json["marks"][0]["status"],
            "ATTENDANCE_STATUS_ABSENT_UNEXCUSED"
        );
    }
}
