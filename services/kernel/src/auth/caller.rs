//! The authenticated caller of an RPC and the one authorisation question every
//! RPC asks: does the caller hold one of these roles over this target?

use uuid::Uuid;

use super::claims::{Binding, Claims, Role, ScopeKind};

/// Who is calling, as their verified access token says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub account_id: Uuid,
    pub person_id: Option<Uuid>,
    /// The sign-in the token belongs to, when identity said.
    pub session: Option<Uuid>,
    pub bindings: Vec<Binding>,
}

impl From<Claims> for Caller {
    fn from(claims: Claims) -> Self {
        Self {
            account_id: claims.sub,
            person_id: claims.pid,
            session: claims.sid,
            bindings: claims.roles,
        }
    }
}

/// Where the data an RPC touches lives: its district and, as far as they apply,
/// its school, class and student.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Target {
    pub district: Option<Uuid>,
    pub school: Option<Uuid>,
    pub class: Option<Uuid>,
    pub student: Option<Uuid>,
}

impl Target {
    pub fn platform() -> Self {
        Self::default()
    }

    pub fn district(district: Uuid) -> Self {
        Self {
            district: Some(district),
            ..Self::default()
        }
    }

    pub fn school(district: Uuid, school: Uuid) -> Self {
        Self {
            school: Some(school),
            ..Self::district(district)
        }
    }

    pub fn class(district: Uuid, school: Uuid, class: Uuid) -> Self {
        Self {
            class: Some(class),
            ..Self::school(district, school)
        }
    }

    pub fn with_student(mut self, student: Uuid) -> Self {
        self.student = Some(student);
        self
    }
}

impl Caller {
    /// The names of the caller's roles whose bindings cover `target`, each once.
    pub fn roles_over(&self, target: &Target) -> Vec<&'static str> {
        let mut roles: Vec<&'static str> = self
            .bindings
            .iter()
            .filter(|binding| covers(binding, target))
            .map(|binding| binding.role.as_str())
            .collect();
        roles.sort_unstable();
        roles.dedup();
        roles
    }

    /// Whether one of the caller's bindings with a role in `roles` covers `target`:
    /// the platform covers everything, a district its schools, classes and
    /// students, a school its classes and students, a class its students.
    pub fn holds(&self, roles: &[Role], target: &Target) -> bool {
        self.bindings
            .iter()
            .filter(|binding| roles.contains(&binding.role))
            .any(|binding| covers(binding, target))
    }

    /// [`Caller::holds`] as a gRPC answer: PERMISSION_DENIED naming what was missing.
    pub fn require(&self, roles: &[Role], target: &Target) -> Result<(), tonic::Status> {
        if self.holds(roles, target) {
            Ok(())
        } else {
            let names: Vec<&str> = roles.iter().map(|role| role.as_str()).collect();
            Err(tonic::Status::permission_denied(format!(
                "this needs one of the roles {} over the record's scope",
                names.join(", ")
            )))
        }
    }

    /// The students the caller is a guardian of.
    pub fn guarded_students(&self) -> impl Iterator<Item = Uuid> + '_ {
        self.bindings
            .iter()
            .filter(|b| b.role == Role::Guardian)
            .filter_map(|b| b.id)
    }
}

fn covers(binding: &Binding, target: &Target) -> bool {
    match binding.scope {
        ScopeKind::Platform => true,
        ScopeKind::District => binding.id.is_some() && binding.id == target.district,
        ScopeKind::School => binding.id.is_some() && binding.id == target.school,
        ScopeKind::Class => binding.id.is_some() && binding.id == target.class,
        ScopeKind::Student => binding.id.is_some() && binding.id == target.student,
    }
}

/// The caller of `request`, put there by the [`super::BearerAuthenticator`];
/// UNAUTHENTICATED when the request carried no token.
pub fn caller<T>(request: &tonic::Request<T>) -> Result<&Caller, tonic::Status> {
    request.extensions().get::<Caller>().ok_or_else(|| {
        tonic::Status::unauthenticated("sign in first: this call needs a bearer access token")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn binding(role: Role, id: Uuid) -> Binding {
        Binding {
            role,
            scope: role.scope_kind(),
            id: Some(id),
            district: None,
            school: None,
        }
    }

    fn caller_with(bindings: Vec<Binding>) -> Caller {
        Caller {
            account_id: Uuid::now_v7(),
            person_id: Some(Uuid::now_v7()),
            session: None,
            bindings,
        }
    }

    #[test]
    fn a_school_role_covers_the_school_its_classes_and_students_and_nothing_else() {
        let (district, school, class, student) = (
            Uuid::now_v7(),
            Uuid::now_v7(),
            Uuid::now_v7(),
            Uuid::now_v7(),
        );
        let principal = caller_with(vec![binding(Role::Principal, school)]);
        let in_class = Target::class(district, school, class).with_student(student);
        assert!(principal.holds(&[Role::Principal], &Target::school(district, school)));
        assert!(principal.holds(&[Role::Principal], &in_class));
        assert!(
            !principal.holds(&[Role::Teacher], &in_class),
            "only the listed roles count"
        );
        assert!(!principal.holds(&[Role::Principal], &Target::district(district)));
        assert!(!principal.holds(
            &[Role::Principal],
            &Target::school(district, Uuid::now_v7())
        ));
    }

    #[test]
    fn a_guardian_covers_only_their_own_student() {
        let (district, school, class, child) = (
            Uuid::now_v7(),
            Uuid::now_v7(),
            Uuid::now_v7(),
            Uuid::now_v7(),
        );
        let guardian = caller_with(vec![binding(Role::Guardian, child)]);
        let class_target = Target::class(district, school, class);
        assert!(guardian.holds(&[Role::Guardian], &class_target.with_student(child)));
        assert!(!guardian.holds(&[Role::Guardian], &class_target));
        assert!(!guardian.holds(
            &[Role::Guardian],
            &class_target.with_student(Uuid::now_v7())
        ));
    }

    #[test]
    fn the_operator_covers_everything_and_a_missing_binding_is_permission_denied() {
        let operator = caller_with(vec![Binding {
            role: Role::Operator,
            scope: ScopeKind::Platform,
            id: None,
            district: None,
            school: None,
        }]);
        assert!(operator.holds(&[Role::Operator], &Target::district(Uuid::now_v7())));
        let nobody = caller_with(vec![]);
        let status = nobody
            .require(&[Role::Principal], &Target::platform())
            .unwrap_err();
        assert_eq!(status.code(), tonic::Code::PermissionDenied);
    }
}
