//! Attendance's events as stored and as published. The stored form is the JSON of
//! the `lienlac.attendance.v1` message with its notes and reasons; the public
//! form is its `lienlac.attendance.v2` namesake, without them
//! (proto/lienlac/attendance/v2/events.proto). Version 1, which carried the free
//! text, is published beside version 2 until it retires ([`V1`]).

use kernel::event_store::{NarrowError, NewEvent, PublishedForm, RecordedEvent};
use kernel::outbox::EarlierContract;
use lienlac_proto::attendance::{v1, v2};

/// An event attendance records, and its public form.
pub(crate) trait AttendanceEvent: prost::Message + prost::Name + serde::Serialize {
    type Public: prost::Message + prost::Name + Default;
}

macro_rules! events {
    ($($name:ident),* $(,)?) => {
        $(impl AttendanceEvent for v1::$name {
            type Public = v2::$name;
        })*

        /// A stored event in the form of contract version 1.
        fn v1_form(event: &RecordedEvent) -> Option<PublishedForm> {
            match event.event_type.as_str() {
                $(stringify!($name) => PublishedForm::from_stored::<v1::$name>(&event.data),)*
                _ => None,
            }
        }
    };
}

events!(
    RollCallSubmitted,
    StudentAbsenceRecorded,
    MarkCorrected,
    SchoolClosureDeclared,
    MonthClosed,
    MonthReopened,
    LeaveRequested,
    LeaveDecided,
);

/// `message`, stored with its free text and published without.
pub(crate) fn new_event<M: AttendanceEvent>(message: &M) -> Result<NewEvent, NarrowError> {
    NewEvent::narrowed::<M::Public, M>(message)
}

/// Contract version 1 (notes and reasons included), published on
/// `lienlac.attendance.v1.…` for events recorded before 1 July 2027, the end of
/// the 2026–2027 school year (docs/events.md).
pub(crate) const V1: EarlierContract = EarlierContract {
    retired_on: time::macros::date!(2027 - 07 - 01),
    form: v1_form,
};

#[cfg(test)]
mod tests {
    use lienlac_proto::attendance::v1::{AttendanceStatus, Session};

    use super::*;

    #[test]
    fn the_public_form_keeps_every_fact_and_drops_the_free_text() {
        let corrected = v1::MarkCorrected {
            student_id: "s".into(),
            class_id: "c".into(),
            school_id: "k".into(),
            date: "2026-11-30".into(),
            session: Session::Morning as i32,
            from: AttendanceStatus::AbsentUnexcused as i32,
            to: AttendanceStatus::AbsentExcused as i32,
            reason: "Phụ huynh gọi điện".into(),
            corrected_by: "a".into(),
            note: "em Phúc bị sốt".into(),
            leave_id: "l".into(),
        };
        let event = new_event(&corrected).unwrap();
        let public = event.published.unwrap();
        assert_eq!(public.type_name, "lienlac.attendance.v2.MarkCorrected");
        let decoded = <v2::MarkCorrected as prost::Message>::decode(&*public.payload).unwrap();
        assert_eq!(
            decoded,
            v2::MarkCorrected {
                student_id: "s".into(),
                class_id: "c".into(),
                school_id: "k".into(),
                date: "2026-11-30".into(),
                session: Session::Morning as i32,
                from: AttendanceStatus::AbsentUnexcused as i32,
                to: AttendanceStatus::AbsentExcused as i32,
                corrected_by: "a".into(),
                leave_id: "l".into(),
            }
        );
        assert!(!String::from_utf8_lossy(&public.payload).contains("Phúc"));
    }

    #[test]
    fn a_roll_calls_marks_lose_their_notes_in_public() {
        let submitted = v1::RollCallSubmitted {
            class_id: "c".into(),
            marks: vec![v1::Mark {
                student_id: "s".into(),
                status: AttendanceStatus::AbsentExcused as i32,
                note: "ốm".into(),
                leave_id: "l".into(),
            }],
            ..Default::default()
        };
        let public = new_event(&submitted).unwrap().published.unwrap();
        let decoded = <v2::RollCallSubmitted as prost::Message>::decode(&*public.payload).unwrap();
        assert_eq!(
            decoded.marks,
            vec![v2::Mark {
                student_id: "s".into(),
                status: AttendanceStatus::AbsentExcused as i32,
                leave_id: "l".into(),
            }]
        );
    }
}
