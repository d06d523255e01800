//! Who publishes which bulletin, and which week of a plan a day falls in: decisions
//! without I/O, each case a line of the table tests below.

use kernel::auth::{Caller, Role, Target};
use lienlac_proto::messaging::v1::BulletinKind;
use school::roles::SCHOOL_LEADERS;
use time::{Date, Weekday};

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum Refusal {
    #[error(
        "a class's timetable and plan are its homeroom teacher's or the school's leaders', a menu the leaders'"
    )]
    NotTheirs,
}

/// `target` is the class of a timetable or plan, the school of a menu.
pub(crate) fn may_publish(
    caller: &Caller,
    kind: BulletinKind,
    target: &Target,
) -> Result<(), Refusal> {
    let allowed = match kind {
        BulletinKind::Timetable | BulletinKind::CurriculumPlan => {
            target.class.is_some()
                && (caller.holds(SCHOOL_LEADERS, target)
                    || caller.holds(&[Role::HomeroomTeacher], target))
        }
        BulletinKind::Menu => target.class.is_none() && caller.holds(SCHOOL_LEADERS, target),
        BulletinKind::Unspecified => false,
    };
    if allowed {
        Ok(())
    } else {
        Err(Refusal::NotTheirs)
    }
}

/// The Monday of the week `day` is in.
pub(crate) fn week_of(day: Date) -> Date {
    day - time::Duration::days(i64::from(day.weekday().number_days_from_monday()))
}

pub(crate) fn is_monday(day: Date) -> bool {
    day.weekday() == Weekday::Monday
}

#[cfg(test)]
mod tests {
    use kernel::auth::ScopeKind;
    use time::macros::date;
    use uuid::Uuid;

    use super::*;

    #[test]
    fn given_a_caller_and_a_bulletin_then_they_may_publish_it_or_not() {
        let (district, school, class, other_class) = (
            Uuid::now_v7(),
            Uuid::now_v7(),
            Uuid::now_v7(),
            Uuid::now_v7(),
        );
        let caller = kernel::testing::caller_with;
        let vice_principal = caller(Role::VicePrincipal, ScopeKind::School, school);
        let homeroom = caller(Role::HomeroomTeacher, ScopeKind::Class, class);
        let teacher = caller(Role::Teacher, ScopeKind::School, school);
        let district_admin = caller(Role::DistrictAdmin, ScopeKind::District, district);
        let guardian = caller(Role::Guardian, ScopeKind::Student, Uuid::now_v7());
        let in_class = Target::class(district, school, class);
        let in_other_class = Target::class(district, school, other_class);
        let in_school = Target::school(district, school);
        use BulletinKind::*;
        let cases = [
            (
                "vice principal, timetable",
                &vice_principal,
                Timetable,
                in_class,
                true,
            ),
            (
                "vice principal, plan",
                &vice_principal,
                CurriculumPlan,
                in_class,
                true,
            ),
            (
                "vice principal, menu",
                &vice_principal,
                Menu,
                in_school,
                true,
            ),
            (
                "vice principal, menu of a class",
                &vice_principal,
                Menu,
                in_class,
                false,
            ),
            (
                "homeroom, own class's timetable",
                &homeroom,
                Timetable,
                in_class,
                true,
            ),
            (
                "homeroom, own class's plan",
                &homeroom,
                CurriculumPlan,
                in_class,
                true,
            ),
            (
                "homeroom, another class",
                &homeroom,
                Timetable,
                in_other_class,
                false,
            ),
            ("homeroom, menu", &homeroom, Menu, in_school, false),
            ("teacher, timetable", &teacher, Timetable, in_class, false),
            (
                "district admin, menu",
                &district_admin,
                Menu,
                in_school,
                false,
            ),
            ("guardian, timetable", &guardian, Timetable, in_class, false),
            (
                "timetable of a school",
                &vice_principal,
                Timetable,
                in_school,
                false,
            ),
        ];
        for (case, caller, kind, target, expected) in cases {
            assert_eq!(
                may_publish(caller, kind, &target).is_ok(),
                expected,
                "{case}"
            );
        }
    }

    #[test]
    fn a_day_falls_in_the_week_starting_on_its_monday() {
        for (day, monday) in [
            (date!(2026 - 11 - 30), date!(2026 - 11 - 30)),
            (date!(2026 - 12 - 02), date!(2026 - 11 - 30)),
            (date!(2026 - 12 - 06), date!(2026 - 11 - 30)),
            (date!(2027 - 01 - 01), date!(2026 - 12 - 28)),
        ] {
            assert_eq!(week_of(day), monday, "{day}");
            assert!(is_monday(week_of(day)));
        }
        assert!(!is_monday(date!(2026 - 12 - 01)));
    }
}
