//! What a school's publishing policy allows and who reads what: decisions on the
//! caller's standing in a school and the policy, without I/O; each case a line of
//! the table tests below.

use lienlac_proto::messaging::v1::Classification;
use uuid::Uuid;

/// How long an urgent notice waits unread in the app before the next channel.
pub(crate) const DEFAULT_FALLBACK_MINUTES: i32 = 15;

/// A school's publishing and delivery policy (the default until its principal
/// sets one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Policy {
    pub(crate) allowed: Vec<Classification>,
    pub(crate) default: Classification,
    pub(crate) trusted: Vec<Uuid>,
    pub(crate) moderators: Vec<Uuid>,
    pub(crate) public_feed: bool,
    /// Late marks tell guardians too.
    pub(crate) notify_late: bool,
    /// The paid channels the school pays for (delivery::Channel numbers).
    pub(crate) paid_channels: Vec<i16>,
    /// Minutes an urgent notice waits unread before the next channel.
    pub(crate) fallback_minutes: i32,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            allowed: vec![
                Classification::Public,
                Classification::School,
                Classification::Class,
                Classification::Confidential,
            ],
            default: Classification::School,
            trusted: Vec::new(),
            moderators: Vec::new(),
            public_feed: false,
            notify_late: false,
            paid_channels: Vec::new(),
            fallback_minutes: DEFAULT_FALLBACK_MINUTES,
        }
    }
}

/// What the caller is to one school, from their roles and the directory.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Standing {
    pub(crate) person: Option<Uuid>,
    /// On the school's staff list.
    pub(crate) staff: bool,
    /// Its principal or a vice principal.
    pub(crate) heads: bool,
    /// One of its leaders (its IT officer too).
    pub(crate) leads: bool,
    /// The district office above it.
    pub(crate) district_office: bool,
    /// The classes of the school their children are in now.
    pub(crate) guardian_of: Vec<Uuid>,
    /// The classes of the school they are homeroom teacher of.
    pub(crate) homeroom_of: Vec<Uuid>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum Refusal {
    #[error("only staff of the school post its news")]
    NotStaff,
    #[error("only its author edits a post")]
    NotAuthor,
    #[error(
        "only the school's principal, vice principals and the staff the principal assigned moderate"
    )]
    NotModerator,
    #[error("only the school's principal or the district's administrators set its policy")]
    NotPrincipal,
    #[error("the school's policy does not allow this classification")]
    NotAllowed,
    #[error("the class classification is for a class's post")]
    ClassWithoutClass,
    #[error("a confidential post names its recipients, and only a confidential one does")]
    Recipients,
}

/// The classification a post gets: the requested one (the school's default when
/// unspecified), if the policy allows it and it fits the post.
pub(crate) fn classify(
    policy: &Policy,
    requested: Classification,
    for_class: bool,
    recipients: usize,
) -> Result<Classification, Refusal> {
    let classification = match requested {
        Classification::Unspecified => policy.default,
        chosen => chosen,
    };
    if !policy.allowed.contains(&classification) {
        return Err(Refusal::NotAllowed);
    }
    if classification == Classification::Class && !for_class {
        return Err(Refusal::ClassWithoutClass);
    }
    if (classification == Classification::Confidential) != (recipients > 0) {
        return Err(Refusal::Recipients);
    }
    Ok(classification)
}

/// The school's principal and vice principals, and the staff the policy names.
pub(crate) fn moderates(standing: &Standing, policy: &Policy) -> bool {
    standing.heads
        || standing
            .person
            .is_some_and(|person| standing.staff && policy.moderators.contains(&person))
}

pub(crate) fn may_moderate(standing: &Standing, policy: &Policy) -> Result<(), Refusal> {
    if moderates(standing, policy) {
        Ok(())
    } else {
        Err(Refusal::NotModerator)
    }
}

pub(crate) fn may_submit(standing: &Standing) -> Result<(), Refusal> {
    if standing.staff || standing.leads {
        Ok(())
    } else {
        Err(Refusal::NotStaff)
    }
}

/// Moderators' and trusted staff's posts skip the queue.
pub(crate) fn publishes_directly(standing: &Standing, policy: &Policy) -> bool {
    moderates(standing, policy)
        || standing
            .person
            .is_some_and(|person| standing.staff && policy.trusted.contains(&person))
}

pub(crate) fn may_set_policy(is_principal: bool, district_admin: bool) -> Result<(), Refusal> {
    if is_principal || district_admin {
        Ok(())
    } else {
        Err(Refusal::NotPrincipal)
    }
}

/// Which published posts of a school a caller reads, as the filter the queries
/// apply (posts/mod.rs, `VISIBLE`). Their own posts they always read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Visibility {
    /// Every post, confidential ones included.
    pub(crate) everything: bool,
    /// Every post but the confidential ones.
    pub(crate) all_but_confidential: bool,
    /// The public and school-wide posts.
    pub(crate) school_wide: bool,
    /// The class posts of these classes.
    pub(crate) classes: Vec<Uuid>,
    /// Confidential posts naming them, and their own.
    pub(crate) person: Option<Uuid>,
}

pub(crate) fn visibility(standing: &Standing, policy: &Policy) -> Visibility {
    let mut classes = standing.guardian_of.clone();
    classes.extend(&standing.homeroom_of);
    classes.sort_unstable();
    classes.dedup();
    Visibility {
        everything: moderates(standing, policy),
        all_but_confidential: standing.leads || standing.district_office,
        school_wide: standing.staff || !standing.guardian_of.is_empty(),
        classes,
        person: standing.person,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_a_policy_and_a_request_then_the_post_is_classified_or_refused() {
        let narrow = Policy {
            allowed: vec![Classification::School, Classification::Class],
            default: Classification::Class,
            ..Policy::default()
        };
        let open = Policy::default();
        use Classification::*;
        let cases = [
            (
                "default of the school",
                &open,
                Unspecified,
                false,
                0,
                Ok(School),
            ),
            (
                "default of a narrow school, class post",
                &narrow,
                Unspecified,
                true,
                0,
                Ok(Class),
            ),
            (
                "default class on a school post",
                &narrow,
                Unspecified,
                false,
                0,
                Err(Refusal::ClassWithoutClass),
            ),
            (
                "public where not allowed",
                &narrow,
                Public,
                false,
                0,
                Err(Refusal::NotAllowed),
            ),
            ("public where allowed", &open, Public, true, 0, Ok(Public)),
            ("class on a class post", &open, Class, true, 0, Ok(Class)),
            (
                "class on a school post",
                &open,
                Class,
                false,
                0,
                Err(Refusal::ClassWithoutClass),
            ),
            (
                "confidential with recipients",
                &open,
                Confidential,
                false,
                3,
                Ok(Confidential),
            ),
            (
                "confidential without recipients",
                &open,
                Confidential,
                true,
                0,
                Err(Refusal::Recipients),
            ),
            (
                "recipients on a school post",
                &open,
                School,
                false,
                2,
                Err(Refusal::Recipients),
            ),
            (
                "confidential where not allowed",
                &narrow,
                Confidential,
                true,
                1,
                Err(Refusal::NotAllowed),
            ),
        ];
        for (case, policy, requested, for_class, recipients, expected) in cases {
            assert_eq!(
                classify(policy, requested, for_class, recipients),
                expected,
                "{case}"
            );
        }
    }

    #[test]
    fn given_a_standing_then_the_caller_submits_moderates_and_skips_the_queue_or_not() {
        let (it_officer, trusted, teacher) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        let policy = Policy {
            trusted: vec![trusted],
            moderators: vec![it_officer],
            ..Policy::default()
        };
        let staff = |person| Standing {
            person: Some(person),
            staff: true,
            ..Standing::default()
        };
        let principal = Standing {
            heads: true,
            leads: true,
            ..staff(Uuid::now_v7())
        };
        let assigned = Standing {
            leads: true,
            ..staff(it_officer)
        };
        let unassigned_it = Standing {
            leads: true,
            ..staff(Uuid::now_v7())
        };
        // Named in the policy but no longer on the school's staff.
        let departed = Standing {
            staff: false,
            ..staff(trusted)
        };
        let guardian = Standing {
            person: Some(Uuid::now_v7()),
            guardian_of: vec![Uuid::now_v7()],
            ..Standing::default()
        };
        let office = Standing {
            district_office: true,
            ..Standing::default()
        };
        // (who, standing, submits, moderates, publishes directly)
        let cases = [
            ("principal", &principal, true, true, true),
            ("assigned IT officer", &assigned, true, true, true),
            ("unassigned IT officer", &unassigned_it, true, false, false),
            ("trusted teacher", &staff(trusted), true, false, true),
            ("teacher", &staff(teacher), true, false, false),
            ("trusted but departed", &departed, false, false, false),
            ("guardian", &guardian, false, false, false),
            ("district office", &office, false, false, false),
        ];
        for (who, standing, submits, moderates, direct) in cases {
            assert_eq!(may_submit(standing).is_ok(), submits, "{who} submits");
            assert_eq!(
                may_moderate(standing, &policy).is_ok(),
                moderates,
                "{who} moderates"
            );
            assert_eq!(
                publishes_directly(standing, &policy),
                direct,
                "{who} skips the queue"
            );
        }
    }

    #[test]
    fn given_a_standing_then_the_caller_reads_these_posts() {
        let (class, other_class) = (Uuid::now_v7(), Uuid::now_v7());
        let person = Some(Uuid::now_v7());
        let policy = Policy::default();
        let reads = |standing: Standing| visibility(&standing, &policy);
        let cases = [
            (
                "principal: everything",
                reads(Standing {
                    person,
                    staff: true,
                    heads: true,
                    leads: true,
                    ..Standing::default()
                }),
                Visibility {
                    everything: true,
                    all_but_confidential: true,
                    school_wide: true,
                    person,
                    ..Visibility::default()
                },
            ),
            (
                "IT officer not moderating: all but confidential",
                reads(Standing {
                    person,
                    staff: true,
                    leads: true,
                    ..Standing::default()
                }),
                Visibility {
                    all_but_confidential: true,
                    school_wide: true,
                    person,
                    ..Visibility::default()
                },
            ),
            (
                "district office: all but confidential, nothing as a person",
                reads(Standing {
                    district_office: true,
                    ..Standing::default()
                }),
                Visibility {
                    all_but_confidential: true,
                    ..Visibility::default()
                },
            ),
            (
                "homeroom teacher: the school's and their class's",
                reads(Standing {
                    person,
                    staff: true,
                    homeroom_of: vec![class],
                    ..Standing::default()
                }),
                Visibility {
                    school_wide: true,
                    classes: vec![class],
                    person,
                    ..Visibility::default()
                },
            ),
            (
                "guardian of two classes: the school's and both classes'",
                reads(Standing {
                    person,
                    guardian_of: vec![other_class, class],
                    ..Standing::default()
                }),
                Visibility {
                    school_wide: true,
                    classes: {
                        let mut both = vec![class, other_class];
                        both.sort();
                        both
                    },
                    person,
                    ..Visibility::default()
                },
            ),
            (
                "guardian of another school: only what names them",
                reads(Standing {
                    person,
                    ..Standing::default()
                }),
                Visibility {
                    person,
                    ..Visibility::default()
                },
            ),
        ];
        for (who, got, expected) in cases {
            assert_eq!(got, expected, "{who}");
        }
    }
}
