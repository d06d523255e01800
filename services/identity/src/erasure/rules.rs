//! Who may be erased: only a person who has left. A decision on facts, without
//! I/O, so that every case is a line of the table test below.

use lienlac_proto::identity::v1::PersonKind;

/// What the directory says of the person when the erasure is asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Standing {
    pub(crate) kind: PersonKind,
    pub(crate) erased: bool,
    /// A student: in a class now.
    pub(crate) enrolled: bool,
    /// A guardian: children in a class now.
    pub(crate) children_enrolled: i64,
    /// Staff: classes of this school year (or later) they are homeroom teacher of.
    pub(crate) homeroom_classes: i64,
    /// Role bindings their accounts hold.
    pub(crate) role_bindings: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum Refusal {
    #[error("this person's personal data was already erased")]
    AlreadyErased,
    #[error("the student is still in a class; withdraw them first")]
    StillEnrolled,
    #[error("a child of this guardian is still in a class")]
    ChildStillEnrolled,
    #[error("the staff member is still a class's homeroom teacher; assign another first")]
    StillHomeroomTeacher,
    #[error("the person still holds a role; revoke it first")]
    StillHoldsRoles,
}

/// Whether the person has left, so that their personal data may be erased.
pub(crate) fn may_erase(standing: &Standing) -> Result<(), Refusal> {
    if standing.erased {
        return Err(Refusal::AlreadyErased);
    }
    match standing.kind {
        PersonKind::Student if standing.enrolled => Err(Refusal::StillEnrolled),
        PersonKind::Guardian if standing.children_enrolled > 0 => Err(Refusal::ChildStillEnrolled),
        PersonKind::Staff if standing.homeroom_classes > 0 => Err(Refusal::StillHomeroomTeacher),
        PersonKind::Staff if standing.role_bindings > 0 => Err(Refusal::StillHoldsRoles),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn standing(kind: PersonKind) -> Standing {
        Standing {
            kind,
            erased: false,
            enrolled: false,
            children_enrolled: 0,
            homeroom_classes: 0,
            role_bindings: 0,
        }
    }

    #[test]
    fn given_where_a_person_stands_then_they_may_be_erased_or_not() {
        use PersonKind::{Guardian, Staff, Student};
        let cases: &[(&str, Standing, Result<(), Refusal>)] = &[
            ("a withdrawn student", standing(Student), Ok(())),
            (
                "a student in a class",
                Standing {
                    enrolled: true,
                    ..standing(Student)
                },
                Err(Refusal::StillEnrolled),
            ),
            (
                "a student erased already",
                Standing {
                    erased: true,
                    ..standing(Student)
                },
                Err(Refusal::AlreadyErased),
            ),
            ("a guardian whose children left", standing(Guardian), Ok(())),
            (
                "a guardian with a child in a class",
                Standing {
                    children_enrolled: 1,
                    ..standing(Guardian)
                },
                Err(Refusal::ChildStillEnrolled),
            ),
            (
                "a guardian's role over a child who left does not keep them",
                Standing {
                    role_bindings: 1,
                    ..standing(Guardian)
                },
                Ok(()),
            ),
            ("a staff member who left", standing(Staff), Ok(())),
            (
                "a homeroom teacher",
                Standing {
                    homeroom_classes: 1,
                    ..standing(Staff)
                },
                Err(Refusal::StillHomeroomTeacher),
            ),
            (
                "a staff member with a role",
                Standing {
                    role_bindings: 2,
                    ..standing(Staff)
                },
                Err(Refusal::StillHoldsRoles),
            ),
            (
                "a staff member erased already",
                Standing {
                    erased: true,
                    ..standing(Staff)
                },
                Err(Refusal::AlreadyErased),
            ),
        ];
        for (case, standing, expected) in cases {
            assert_eq!(&may_erase(standing), expected, "{case}");
        }
    }
}
