//! When a mark tells a guardian, and in what words: decisions on the mark, an
//! approved leave and the notice already given, without I/O; each case a line of
//! the table tests below.

use lienlac_proto::attendance::v1::{AttendanceStatus, Session};
use time::Date;

/// What, besides the mark, decides whether it tells the guardian.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Context {
    /// An approved leave covers the session: the school knows; the guardian asked.
    pub(crate) covered_by_leave: bool,
    /// The school tells guardians of late marks too.
    pub(crate) notify_late: bool,
}

/// Whether a recorded mark raises a notice: an absence does, unless an approved
/// leave covers it; a late mark if the school says so; presence never.
pub(crate) fn alarms(status: AttendanceStatus, context: Context) -> bool {
    match status {
        AttendanceStatus::AbsentUnexcused => true,
        AttendanceStatus::AbsentExcused => !context.covered_by_leave,
        AttendanceStatus::Late => context.notify_late,
        AttendanceStatus::Present | AttendanceStatus::Unspecified => false,
    }
}

/// The notice a guardian already has of a session, as a correction finds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Given {
    pub(crate) status: AttendanceStatus,
    /// Listed in the guardian's app: seen, or as good as.
    pub(crate) delivered: bool,
}

/// What a corrected mark does to the guardian's notices.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Correction {
    /// A first notice: the session is now an absence no leave covers.
    Raise,
    /// The undelivered notice says the new mark instead.
    Replace,
    /// The undelivered notice is withdrawn: there is nothing to tell.
    Withdraw,
    /// A delivered notice stands; a second one says what changed.
    FollowUp,
    Nothing,
}

pub(crate) fn on_correction(
    to: AttendanceStatus,
    context: Context,
    given: Option<Given>,
) -> Correction {
    let alarm = alarms(to, context);
    match given {
        None if alarm => Correction::Raise,
        None => Correction::Nothing,
        Some(given) if given.status == to => Correction::Nothing,
        Some(Given {
            delivered: false, ..
        }) if alarm => Correction::Replace,
        Some(Given {
            delivered: false, ..
        }) => Correction::Withdraw,
        Some(Given {
            delivered: true, ..
        }) => Correction::FollowUp,
    }
}

/// A notice's subject: the child and the session.
pub(crate) struct About<'a> {
    pub(crate) child: &'a str,
    pub(crate) class: &'a str,
    pub(crate) date: Date,
    pub(crate) session: Session,
}

fn session_words(session: Session) -> &'static str {
    match session {
        Session::Afternoon => "buổi chiều",
        Session::Morning | Session::Unspecified => "buổi sáng",
    }
}

fn date_words(date: Date) -> String {
    format!(
        "{:02}/{:02}/{:04}",
        date.day(),
        date.month() as u8,
        date.year()
    )
}

/// The first notice, in Vietnamese: "Thông báo: em Nguyễn Gia Phúc (lớp 1A1)
/// vắng buổi sáng ngày 30/11/2026, không phép."
pub(crate) fn notice_text(about: &About<'_>, status: AttendanceStatus) -> String {
    if status == AttendanceStatus::Late {
        return format!(
            "Thông báo: em {} (lớp {}) đi học muộn {} ngày {}.",
            about.child,
            about.class,
            session_words(about.session),
            date_words(about.date)
        );
    }
    let excused = if status == AttendanceStatus::AbsentExcused {
        "có phép"
    } else {
        "không phép"
    };
    format!(
        "Thông báo: em {} (lớp {}) vắng {} ngày {}, {excused}.",
        about.child,
        about.class,
        session_words(about.session),
        date_words(about.date)
    )
}

/// A follow-up of a delivered notice: what the session's mark became.
pub(crate) fn follow_up_text(about: &About<'_>, to: AttendanceStatus) -> String {
    let became = match to {
        AttendanceStatus::Present => "đã có mặt".to_owned(),
        AttendanceStatus::Late => "đã có mặt (đi muộn)".to_owned(),
        AttendanceStatus::AbsentExcused => "chuyển thành vắng có phép".to_owned(),
        AttendanceStatus::AbsentUnexcused | AttendanceStatus::Unspecified => {
            "chuyển thành vắng không phép".to_owned()
        }
    };
    format!(
        "Cập nhật: em {} (lớp {}) {} ngày {}: {became}.",
        about.child,
        about.class,
        session_words(about.session),
        date_words(about.date)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use AttendanceStatus::*;

    #[test]
    fn given_a_mark_and_a_leave_then_an_absence_alarms_or_not() {
        let plain = Context::default();
        let leave = Context {
            covered_by_leave: true,
            ..plain
        };
        let late_told = Context {
            notify_late: true,
            ..plain
        };
        let cases = [
            (AbsentUnexcused, plain, true),
            (AbsentUnexcused, leave, true),
            (AbsentExcused, plain, true),
            (AbsentExcused, leave, false),
            (Late, plain, false),
            (Late, late_told, true),
            (Present, late_told, false),
        ];
        for (status, context, expected) in cases {
            assert_eq!(alarms(status, context), expected, "{status:?}, {context:?}");
        }
    }

    #[test]
    fn given_a_correction_and_the_notice_given_then_it_is_replaced_followed_up_or_withdrawn() {
        let unread = |status| {
            Some(Given {
                status,
                delivered: false,
            })
        };
        let seen = |status| {
            Some(Given {
                status,
                delivered: true,
            })
        };
        let cases = [
            (
                "present marked absent",
                AbsentUnexcused,
                false,
                None,
                Correction::Raise,
            ),
            (
                "present stays present",
                Late,
                false,
                None,
                Correction::Nothing,
            ),
            (
                "absent under a leave",
                AbsentExcused,
                true,
                None,
                Correction::Nothing,
            ),
            (
                "unread, came after all",
                Present,
                false,
                unread(AbsentUnexcused),
                Correction::Withdraw,
            ),
            (
                "unread, excused without a leave",
                AbsentExcused,
                false,
                unread(AbsentUnexcused),
                Correction::Replace,
            ),
            (
                "unread, a leave approved since",
                AbsentExcused,
                true,
                unread(AbsentUnexcused),
                Correction::Withdraw,
            ),
            (
                "seen, came after all",
                Present,
                false,
                seen(AbsentUnexcused),
                Correction::FollowUp,
            ),
            (
                "seen, a leave approved since",
                AbsentExcused,
                true,
                seen(AbsentUnexcused),
                Correction::FollowUp,
            ),
            (
                "seen, the same mark again",
                AbsentUnexcused,
                false,
                seen(AbsentUnexcused),
                Correction::Nothing,
            ),
        ];
        for (case, to, covered_by_leave, given, expected) in cases {
            let context = Context {
                covered_by_leave,
                ..Context::default()
            };
            assert_eq!(on_correction(to, context, given), expected, "{case}");
        }
    }

    #[test]
    fn notices_read_as_a_school_writes_them() {
        let about = About {
            child: "Nguyễn Gia Phúc",
            class: "1A1",
            date: Date::from_calendar_date(2026, time::Month::November, 30).unwrap(),
            session: Session::Morning,
        };
        assert_eq!(
            notice_text(&about, AbsentUnexcused),
            "Thông báo: em Nguyễn Gia Phúc (lớp 1A1) vắng buổi sáng ngày 30/11/2026, không phép."
        );
        let afternoon = About {
            session: Session::Afternoon,
            ..about
        };
        assert_eq!(
            notice_text(&afternoon, AbsentExcused),
            "Thông báo: em Nguyễn Gia Phúc (lớp 1A1) vắng buổi chiều ngày 30/11/2026, có phép."
        );
        assert_eq!(
            notice_text(&about, Late),
            "Thông báo: em Nguyễn Gia Phúc (lớp 1A1) đi học muộn buổi sáng ngày 30/11/2026."
        );
        assert_eq!(
            follow_up_text(&about, Present),
            "Cập nhật: em Nguyễn Gia Phúc (lớp 1A1) buổi sáng ngày 30/11/2026: đã có mặt."
        );
        assert_eq!(
            follow_up_text(&about, AbsentExcused),
            "Cập nhật: em Nguyễn Gia Phúc (lớp 1A1) buổi sáng ngày 30/11/2026: chuyển thành vắng có phép."
        );
    }
}
