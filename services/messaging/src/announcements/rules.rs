//! Who may announce to whom, and how an announcement is classified: decisions on
//! the caller's role bindings, where the audience is and the school's policy,
//! without I/O; each case a line of the table tests below.

use kernel::auth::{Caller, Role, Target};
use lienlac_proto::messaging::v1::Classification;
use school::roles::SCHOOL_LEADERS;

use crate::posts::rules::Policy;

/// Where an announcement goes, as the directory places it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reach {
    /// A school, a grade of it, or chosen guardians of its students.
    School(Target),
    /// One class (`Target::class`).
    Class(Target),
    /// Every school of a district.
    District(Target),
}

/// Whom an announcement addresses, as its classification sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Addressed {
    /// A school or a grade of it.
    School,
    Class,
    /// Guardians chosen by name.
    Guardians,
    District,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum Refusal {
    #[error(
        "a school's leaders announce to it, a homeroom teacher to their class, a district's administrators to the district"
    )]
    NotTheirs,
    #[error("the school's policy does not allow this classification")]
    NotAllowed,
    #[error("the class classification is for an announcement to a class")]
    ClassWithoutClass,
}

/// The classification an announcement gets: the requested one or, unspecified,
/// confidential for chosen guardians, `school` for a district's or where the
/// school's default is `class` but the audience is not one class, else the
/// school's default; if the policy (a district's: every classification) allows
/// it and it fits the audience. Its recipients always read it: the classification
/// says who else does.
pub(crate) fn classify(
    policy: &Policy,
    requested: Classification,
    addressed: Addressed,
) -> Result<Classification, Refusal> {
    let classification = match (requested, addressed) {
        (Classification::Unspecified, Addressed::Guardians) => Classification::Confidential,
        (Classification::Unspecified, Addressed::District) => Classification::School,
        (Classification::Unspecified, _)
            if policy.default == Classification::Class && addressed != Addressed::Class =>
        {
            Classification::School
        }
        (Classification::Unspecified, _) => policy.default,
        (chosen, _) => chosen,
    };
    if !policy.allowed.contains(&classification) {
        return Err(Refusal::NotAllowed);
    }
    if classification == Classification::Class && addressed != Addressed::Class {
        return Err(Refusal::ClassWithoutClass);
    }
    Ok(classification)
}

pub(crate) fn may_publish(caller: &Caller, reach: Reach) -> Result<(), Refusal> {
    let district_admin = |target: &Target| caller.holds(&[Role::DistrictAdmin], target);
    let allowed = match reach {
        Reach::School(school) => caller.holds(SCHOOL_LEADERS, &school) || district_admin(&school),
        Reach::Class(class) => {
            caller.holds(SCHOOL_LEADERS, &class)
                || caller.holds(&[Role::HomeroomTeacher], &class)
                || district_admin(&class)
        }
        Reach::District(district) => district_admin(&district),
    };
    if allowed {
        Ok(())
    } else {
        Err(Refusal::NotTheirs)
    }
}

/// Who sends an emergency: the school's leaders (a class's, a school's) and the
/// district's administrators; not a homeroom teacher.
pub(crate) fn may_send_emergency(caller: &Caller, reach: Reach) -> Result<(), Refusal> {
    let district_admin = |target: &Target| caller.holds(&[Role::DistrictAdmin], target);
    let allowed = match reach {
        Reach::School(target) | Reach::Class(target) => {
            caller.holds(SCHOOL_LEADERS, &target) || district_admin(&target)
        }
        Reach::District(district) => district_admin(&district),
    };
    if allowed {
        Ok(())
    } else {
        Err(Refusal::NotTheirs)
    }
}

/// Who sees how an announcement or a survey was received: its sender, the leaders
/// of its school (`scope`) and the district's administrators.
pub(crate) fn may_see_receipts(caller: &Caller, sent_by_caller: bool, scope: &Target) -> bool {
    sent_by_caller
        || caller.holds(SCHOOL_LEADERS, scope)
        || caller.holds(&[Role::DistrictAdmin], scope)
}

#[cfg(test)]
mod tests {
    use kernel::auth::ScopeKind;
    use uuid::Uuid;

    use super::*;

    #[test]
    fn given_a_caller_and_an_audience_then_they_may_announce_or_not() {
        let (district, other_district) = (Uuid::now_v7(), Uuid::now_v7());
        let (school, other_school) = (Uuid::now_v7(), Uuid::now_v7());
        let (class, other_class) = (Uuid::now_v7(), Uuid::now_v7());
        let caller = kernel::testing::caller_with;
        let principal = caller(Role::Principal, ScopeKind::School, school);
        let it_officer = caller(Role::ItOfficer, ScopeKind::School, school);
        let homeroom = caller(Role::HomeroomTeacher, ScopeKind::Class, class);
        let teacher = caller(Role::Teacher, ScopeKind::School, school);
        let district_admin = caller(Role::DistrictAdmin, ScopeKind::District, district);
        let viewer = caller(Role::DistrictViewer, ScopeKind::District, district);
        let guardian = caller(Role::Guardian, ScopeKind::Student, Uuid::now_v7());
        let in_school = Reach::School(Target::school(district, school));
        let other_school = Reach::School(Target::school(district, other_school));
        let in_class = Reach::Class(Target::class(district, school, class));
        let other_class = Reach::Class(Target::class(district, school, other_class));
        let in_district = Reach::District(Target::district(district));
        let other_district = Reach::District(Target::district(other_district));
        let no = Err(Refusal::NotTheirs);
        let cases = [
            ("principal", &principal, in_school, Ok(())),
            ("principal", &principal, in_class, Ok(())),
            ("principal", &principal, other_school, no),
            ("principal", &principal, in_district, no),
            ("IT officer", &it_officer, in_school, Ok(())),
            ("homeroom teacher", &homeroom, in_class, Ok(())),
            ("homeroom teacher", &homeroom, other_class, no),
            ("homeroom teacher", &homeroom, in_school, no),
            ("teacher", &teacher, in_class, no),
            ("teacher", &teacher, in_school, no),
            ("district admin", &district_admin, in_district, Ok(())),
            ("district admin", &district_admin, in_school, Ok(())),
            ("district admin", &district_admin, other_district, no),
            ("district viewer", &viewer, in_district, no),
            ("guardian", &guardian, in_class, no),
        ];
        for (who, caller, reach, expected) in cases {
            assert_eq!(may_publish(caller, reach), expected, "{who} to {reach:?}");
        }
        // Emergencies: the leaders and the district's administrators only.
        let emergencies = [
            ("principal", &principal, in_school, Ok(())),
            ("principal", &principal, in_class, Ok(())),
            ("principal", &principal, other_school, no),
            ("homeroom teacher", &homeroom, in_class, no),
            ("district admin", &district_admin, in_district, Ok(())),
            ("district admin", &district_admin, in_class, Ok(())),
            ("district viewer", &viewer, in_district, no),
        ];
        for (who, caller, reach, expected) in emergencies {
            assert_eq!(
                may_send_emergency(caller, reach),
                expected,
                "{who} to {reach:?}"
            );
        }
    }

    #[test]
    fn given_a_policy_an_audience_and_a_request_then_the_announcement_is_classified_or_refused() {
        use Classification::*;
        let open = Policy::default();
        let narrow = Policy {
            allowed: vec![School, Class, Confidential],
            default: Class,
            ..Policy::default()
        };
        let cases = [
            (
                "school default",
                &open,
                Unspecified,
                Addressed::School,
                Ok(School),
            ),
            (
                "chosen guardians",
                &open,
                Unspecified,
                Addressed::Guardians,
                Ok(Confidential),
            ),
            (
                "district",
                &open,
                Unspecified,
                Addressed::District,
                Ok(School),
            ),
            (
                "class default on a class",
                &narrow,
                Unspecified,
                Addressed::Class,
                Ok(Class),
            ),
            (
                "class default on a school",
                &narrow,
                Unspecified,
                Addressed::School,
                Ok(School),
            ),
            (
                "public chosen",
                &open,
                Public,
                Addressed::School,
                Ok(Public),
            ),
            (
                "public not allowed",
                &narrow,
                Public,
                Addressed::School,
                Err(Refusal::NotAllowed),
            ),
            (
                "class on a school",
                &open,
                Class,
                Addressed::School,
                Err(Refusal::ClassWithoutClass),
            ),
            (
                "class on a district",
                &open,
                Class,
                Addressed::District,
                Err(Refusal::ClassWithoutClass),
            ),
            (
                "confidential to a class",
                &open,
                Confidential,
                Addressed::Class,
                Ok(Confidential),
            ),
            (
                "school to chosen guardians",
                &open,
                School,
                Addressed::Guardians,
                Ok(School),
            ),
        ];
        for (case, policy, requested, addressed, expected) in cases {
            assert_eq!(classify(policy, requested, addressed), expected, "{case}");
        }
    }
}
