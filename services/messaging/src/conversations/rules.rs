//! Who may write to whom, edit and delete: decisions on facts, without I/O, each
//! case a line of the table tests below.

use time::{Duration, OffsetDateTime};

/// How long an author may edit a message after posting it.
pub(crate) const EDIT_WINDOW: Duration = Duration::minutes(15);

/// What a person is in a school's directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Party {
    Guardian,
    Staff,
    /// Not a guardian or staff member messaging knows (a district or platform
    /// account, or a person unknown to it).
    Other,
}

/// What ties the two people of a direct thread, from the directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Ties {
    /// Both are staff of one school.
    pub(crate) colleagues: bool,
    /// The staff member is homeroom teacher of a class a child of the guardian is in.
    pub(crate) teaches_child: bool,
    /// The staff member leads the school of a child of the guardian.
    pub(crate) leads_childs_school: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum Refusal {
    #[error("a direct thread is with someone else")]
    WithOneself,
    #[error(
        "guardians write to their children's teachers and school leaders, not to other guardians"
    )]
    GuardianToGuardian,
    #[error(
        "a guardian writes to the homeroom teacher of a child's class or a leader of a child's school"
    )]
    NotTheirChildsStaff,
    #[error("staff write to staff of their own school")]
    NotColleagues,
    #[error("only guardians and staff of a school write direct messages")]
    NotInASchool,
    #[error("only its author edits a message")]
    NotTheAuthor,
    #[error("a message can be edited within 15 minutes of posting")]
    TooLateToEdit,
    #[error("only its author or a leader of the school deletes a message")]
    MayNotDelete,
    #[error("the message was deleted")]
    Deleted,
}

/// Whether `caller` may start a direct thread with `other`.
pub(crate) fn may_start_direct(caller: Party, other: Party, ties: Ties) -> Result<(), Refusal> {
    use Party::{Guardian, Other, Staff};
    match (caller, other) {
        (Other, _) | (_, Other) => Err(Refusal::NotInASchool),
        (Guardian, Guardian) => Err(Refusal::GuardianToGuardian),
        (Staff, Staff) if ties.colleagues => Ok(()),
        (Staff, Staff) => Err(Refusal::NotColleagues),
        (Guardian, Staff) | (Staff, Guardian) if ties.teaches_child || ties.leads_childs_school => {
            Ok(())
        }
        (Guardian, Staff) | (Staff, Guardian) => Err(Refusal::NotTheirChildsStaff),
    }
}

/// What a message is when someone acts on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Posted {
    pub(crate) by_caller: bool,
    pub(crate) at: OffsetDateTime,
    pub(crate) deleted: bool,
}

pub(crate) fn may_edit(message: Posted, now: OffsetDateTime) -> Result<(), Refusal> {
    if message.deleted {
        Err(Refusal::Deleted)
    } else if !message.by_caller {
        Err(Refusal::NotTheAuthor)
    } else if now - message.at > EDIT_WINDOW {
        Err(Refusal::TooLateToEdit)
    } else {
        Ok(())
    }
}

/// Whether the caller may delete it; `leads_school`: the caller leads the
/// conversation's school.
pub(crate) fn may_delete(message: Posted, leads_school: bool) -> Result<(), Refusal> {
    if message.deleted {
        Err(Refusal::Deleted)
    } else if message.by_caller || leads_school {
        Ok(())
    } else {
        Err(Refusal::MayNotDelete)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Party::{Guardian, Other, Staff};

    #[test]
    fn given_two_people_and_their_ties_then_a_direct_thread_may_start_or_not() {
        let none = Ties::default();
        let teaches = Ties {
            teaches_child: true,
            ..none
        };
        let leads = Ties {
            leads_childs_school: true,
            ..none
        };
        let colleagues = Ties {
            colleagues: true,
            ..none
        };
        let cases = [
            (Guardian, Staff, teaches, Ok(())),
            (Staff, Guardian, teaches, Ok(())),
            (Guardian, Staff, leads, Ok(())),
            (Staff, Guardian, leads, Ok(())),
            (Guardian, Staff, none, Err(Refusal::NotTheirChildsStaff)),
            (
                Guardian,
                Staff,
                colleagues,
                Err(Refusal::NotTheirChildsStaff),
            ),
            (Staff, Guardian, none, Err(Refusal::NotTheirChildsStaff)),
            (
                Guardian,
                Guardian,
                teaches,
                Err(Refusal::GuardianToGuardian),
            ),
            (Guardian, Guardian, none, Err(Refusal::GuardianToGuardian)),
            (Staff, Staff, colleagues, Ok(())),
            (Staff, Staff, teaches, Err(Refusal::NotColleagues)),
            (Staff, Staff, none, Err(Refusal::NotColleagues)),
            (Other, Staff, colleagues, Err(Refusal::NotInASchool)),
            (Guardian, Other, teaches, Err(Refusal::NotInASchool)),
        ];
        for (caller, other, ties, expected) in cases {
            assert_eq!(
                may_start_direct(caller, other, ties),
                expected,
                "{caller:?} to {other:?} with {ties:?}"
            );
        }
    }

    #[test]
    fn given_a_message_then_its_author_edits_within_15_minutes_and_author_or_leader_deletes() {
        let posted = OffsetDateTime::now_utc();
        let mine = Posted {
            by_caller: true,
            at: posted,
            deleted: false,
        };
        let theirs = Posted {
            by_caller: false,
            ..mine
        };
        let gone = Posted {
            deleted: true,
            ..mine
        };
        let minutes = |m| posted + Duration::minutes(m);
        assert_eq!(may_edit(mine, minutes(0)), Ok(()));
        assert_eq!(may_edit(mine, minutes(15)), Ok(()));
        assert_eq!(may_edit(mine, minutes(16)), Err(Refusal::TooLateToEdit));
        assert_eq!(may_edit(theirs, minutes(1)), Err(Refusal::NotTheAuthor));
        assert_eq!(may_edit(gone, minutes(1)), Err(Refusal::Deleted));
        assert_eq!(may_delete(mine, false), Ok(()));
        assert_eq!(may_delete(theirs, true), Ok(()));
        assert_eq!(may_delete(theirs, false), Err(Refusal::MayNotDelete));
        assert_eq!(may_delete(gone, true), Err(Refusal::Deleted));
    }
}
