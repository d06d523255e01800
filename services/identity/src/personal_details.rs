//! Who reads a person's phone number and birth date, beyond their name and class:
//! the person themselves, the school's leaders and the district's administrators
//! (and the operator), a student's homeroom teacher and guardians, and a guardian's
//! children's homeroom teachers. Every other reader sees names and classes only.

use kernel::auth::{Caller, Role, Target};
use lienlac_proto::identity::v1::Person;
use uuid::Uuid;

use school::roles::DETAIL_READERS;

/// Where a person's details belong, for [`sees`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Whose {
    /// A student, in their class (`Target::class(..).with_student(..)`); a student
    /// in no class, in their school.
    Student(Target),
    Staff(Target),
    /// A guardian: their district, and each child's class and student.
    Guardian {
        district: Target,
        children: Vec<Target>,
    },
}

/// Whether `caller` reads the phone number and birth date of `person`.
pub(crate) fn sees(caller: &Caller, person: Uuid, whose: &Whose) -> bool {
    if caller.person_id == Some(person) {
        return true;
    }
    let reads_across = |target: &Target| {
        caller.holds(&[Role::Operator], target) || caller.holds(DETAIL_READERS, target)
    };
    let leads_or_teaches =
        |target: &Target| reads_across(target) || caller.holds(&[Role::HomeroomTeacher], target);
    match whose {
        Whose::Student(target) => {
            leads_or_teaches(target) || caller.holds(&[Role::Guardian], target)
        }
        Whose::Staff(target) => reads_across(target),
        Whose::Guardian { district, children } => {
            caller.holds(&[Role::Operator, Role::DistrictAdmin], district)
                || children.iter().any(leads_or_teaches)
        }
    }
}

/// The person as a reader without the right to their details sees them.
pub(crate) fn withhold(person: &mut Person) {
    person.phone.clear();
    person.birth_date.clear();
}

#[cfg(test)]
mod tests {
    use kernel::auth::{Binding, ScopeKind};

    use super::*;

    fn caller(person: Option<Uuid>, role: Role, scope: ScopeKind, id: Option<Uuid>) -> Caller {
        Caller {
            account_id: Uuid::now_v7(),
            person_id: person,
            session: None,
            bindings: vec![Binding {
                role,
                scope,
                id,
                district: None,
                school: None,
            }],
        }
    }

    #[test]
    fn given_a_reader_and_a_person_then_the_details_are_seen_or_withheld() {
        let (district, school, other_school) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        let (class, other_class) = (Uuid::now_v7(), Uuid::now_v7());
        let (student, guardian, teacher) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        let in_class = Target::class(district, school, class).with_student(student);
        let a_student = Whose::Student(in_class);
        let a_teacher = Whose::Staff(Target::school(district, school));
        let a_guardian = Whose::Guardian {
            district: Target::district(district),
            children: vec![in_class],
        };
        let principal = caller(None, Role::Principal, ScopeKind::School, Some(school));
        let other_principal = caller(None, Role::Principal, ScopeKind::School, Some(other_school));
        let homeroom = caller(None, Role::HomeroomTeacher, ScopeKind::Class, Some(class));
        let other_homeroom = caller(
            None,
            Role::HomeroomTeacher,
            ScopeKind::Class,
            Some(other_class),
        );
        let colleague = caller(None, Role::Teacher, ScopeKind::School, Some(school));
        let office = caller(
            None,
            Role::DistrictAdmin,
            ScopeKind::District,
            Some(district),
        );
        let viewer = caller(
            None,
            Role::DistrictViewer,
            ScopeKind::District,
            Some(district),
        );
        let parent = caller(
            Some(guardian),
            Role::Guardian,
            ScopeKind::Student,
            Some(student),
        );
        let other_parent = caller(
            None,
            Role::Guardian,
            ScopeKind::Student,
            Some(Uuid::now_v7()),
        );
        let herself = caller(
            Some(teacher),
            Role::Teacher,
            ScopeKind::School,
            Some(school),
        );
        let cases: [(&str, &Caller, Uuid, &Whose, bool); 18] = [
            (
                "the principal, a student of the school",
                &principal,
                student,
                &a_student,
                true,
            ),
            (
                "the principal, a guardian of a student of the school",
                &principal,
                guardian,
                &a_guardian,
                true,
            ),
            (
                "the principal, a teacher of the school",
                &principal,
                teacher,
                &a_teacher,
                true,
            ),
            (
                "another school's principal, a student",
                &other_principal,
                student,
                &a_student,
                false,
            ),
            (
                "another school's principal, a guardian",
                &other_principal,
                guardian,
                &a_guardian,
                false,
            ),
            (
                "the homeroom teacher, a student of the class",
                &homeroom,
                student,
                &a_student,
                true,
            ),
            (
                "the homeroom teacher, a guardian of the class",
                &homeroom,
                guardian,
                &a_guardian,
                true,
            ),
            (
                "the homeroom teacher, a colleague",
                &homeroom,
                teacher,
                &a_teacher,
                false,
            ),
            (
                "another class's homeroom teacher, a student",
                &other_homeroom,
                student,
                &a_student,
                false,
            ),
            (
                "another class's homeroom teacher, a guardian",
                &other_homeroom,
                guardian,
                &a_guardian,
                false,
            ),
            (
                "a teacher of the school, a student",
                &colleague,
                student,
                &a_student,
                false,
            ),
            (
                "a teacher of the school, a guardian",
                &colleague,
                guardian,
                &a_guardian,
                false,
            ),
            (
                "the district's administrator, a guardian",
                &office,
                guardian,
                &a_guardian,
                true,
            ),
            (
                "the district's viewer, a student",
                &viewer,
                student,
                &a_student,
                false,
            ),
            (
                "a guardian, their own child",
                &parent,
                student,
                &a_student,
                true,
            ),
            (
                "a guardian, themselves",
                &parent,
                guardian,
                &a_guardian,
                true,
            ),
            (
                "another child's guardian, a student",
                &other_parent,
                student,
                &a_student,
                false,
            ),
            ("a teacher, herself", &herself, teacher, &a_teacher, true),
        ];
        for (case, reader, person, whose, seen) in cases {
            assert_eq!(sees(reader, person, whose), seen, "{case}");
        }
    }
}
