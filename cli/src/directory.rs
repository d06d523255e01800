//! Finding what a person names on the command line: their own school or district,
//! a class by its name ("1A1"), a student by their code.

use anyhow::Context as _;
use lienlac_proto::identity::v1 as id;
use lienlac_proto::identity::v1::auth_service_client::AuthServiceClient;
use lienlac_proto::identity::v1::directory_service_client::DirectoryServiceClient;

use tonic::transport::Channel;

use crate::credentials::Credentials;
use crate::dates;
use crate::session;

#[derive(Debug, Clone, Copy)]
pub(crate) enum Scope {
    School,
    District,
}

/// The identity service as the signed-in user asks it, over one connection.
pub(crate) struct Directory<'a> {
    credentials: &'a Credentials,
    channel: Channel,
}

impl<'a> Directory<'a> {
    pub(crate) async fn connect(credentials: &'a Credentials) -> anyhow::Result<Self> {
        Ok(Self {
            channel: session::connect(&credentials.identity_url).await?,
            credentials,
        })
    }

    /// The signed-in account, person and roles.
    pub(crate) async fn who_am_i(&self) -> anyhow::Result<id::WhoAmIResponse> {
        Ok(AuthServiceClient::new(self.channel.clone())
            .who_am_i(session::authorised(id::WhoAmIRequest {}, self.credentials)?)
            .await?
            .into_inner())
    }

    /// The school or district of the signed-in user's first role that has one.
    pub(crate) async fn own_scope(&self, scope: Scope) -> anyhow::Result<String> {
        let me = self.who_am_i().await?;
        scope_of(&me.roles, scope).with_context(|| {
            let what = match scope {
                Scope::School => "school",
                Scope::District => "district",
            };
            format!("you have no role in a {what}: name one with --{what}")
        })
    }

    /// The signed-in person's school, else their district (the district office's
    /// people have no school): `(school_id, district_id)`, one of them empty.
    pub(crate) async fn own_school_or_district(&self) -> anyhow::Result<(String, String)> {
        let me = self.who_am_i().await?;
        match (
            scope_of(&me.roles, Scope::School),
            scope_of(&me.roles, Scope::District),
        ) {
            (Some(school), _) => Ok((school, String::new())),
            (None, Some(district)) => Ok((String::new(), district)),
            (None, None) => anyhow::bail!(
                "you have no role in a school or a district: name one with --school or --district"
            ),
        }
    }

    /// A class id, from an id or from a name of the user's school in the school
    /// year of `date`.
    pub(crate) async fn class_id(&self, class: &str, date: &str) -> anyhow::Result<String> {
        if is_id(class) {
            return Ok(class.to_owned());
        }
        let school_id = self.own_scope(Scope::School).await?;
        let year = dates::school_year(dates::parse(date)?);
        let classes = DirectoryServiceClient::new(self.channel.clone())
            .list_classes(session::authorised(
                id::ListClassesRequest {
                    school_id,
                    school_year: year.clone(),
                },
                self.credentials,
            )?)
            .await?
            .into_inner()
            .classes;
        classes
            .into_iter()
            .find(|found| found.name.eq_ignore_ascii_case(class))
            .map(|found| found.id)
            .with_context(|| format!("your school has no class {class} in {year}"))
    }

    /// The class's students, in the order identity lists them.
    pub(crate) async fn students(&self, class_id: &str) -> anyhow::Result<Vec<id::Person>> {
        Ok(DirectoryServiceClient::new(self.channel.clone())
            .list_students(session::authorised(
                id::ListStudentsRequest {
                    class_id: class_id.to_owned(),
                },
                self.credentials,
            )?)
            .await?
            .into_inner()
            .students)
    }
}

impl Directory<'_> {
    /// The students of `ids` the user may see, by id: "Nguyễn Gia Phúc (HS0001)".
    pub(crate) async fn student_names(
        &self,
        ids: &[String],
    ) -> anyhow::Result<std::collections::HashMap<String, String>> {
        if ids.is_empty() {
            return Ok(std::collections::HashMap::new());
        }
        let students = DirectoryServiceClient::new(self.channel.clone())
            .describe_students(session::authorised(
                id::DescribeStudentsRequest {
                    student_ids: ids.to_vec(),
                },
                self.credentials,
            )?)
            .await?
            .into_inner()
            .students;
        Ok(students
            .into_iter()
            .map(|student| {
                let named = if student.external_ref.is_empty() {
                    student.full_name
                } else {
                    format!("{} ({})", student.full_name, student.external_ref)
                };
                (student.id, named)
            })
            .collect())
    }
}

fn is_id(text: &str) -> bool {
    text.len() == 36 && text.chars().all(|c| c.is_ascii_hexdigit() || c == '-')
}

/// A student of `students` by their code (the city database's) or id.
pub(crate) fn student<'a>(
    students: &'a [id::Person],
    code: &str,
) -> anyhow::Result<&'a id::Person> {
    students
        .iter()
        .find(|student| student.external_ref.eq_ignore_ascii_case(code) || student.id == code)
        .with_context(|| format!("no student {code} in the class"))
}

/// The first school (or district) one of `roles` is in.
fn scope_of(roles: &[id::RoleBinding], scope: Scope) -> Option<String> {
    let school_kind = id::ScopeKind::School as i32;
    let district_kind = id::ScopeKind::District as i32;
    roles
        .iter()
        .map(|role| match scope {
            Scope::School if role.scope_kind == school_kind => &role.scope_id,
            Scope::School => &role.school_id,
            Scope::District if role.scope_kind == district_kind => &role.scope_id,
            Scope::District => &role.district_id,
        })
        .find(|found| !found.is_empty())
        .cloned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn role(kind: id::ScopeKind, scope: &str, district: &str, school: &str) -> id::RoleBinding {
        id::RoleBinding {
            scope_kind: kind as i32,
            scope_id: scope.to_owned(),
            district_id: district.to_owned(),
            school_id: school.to_owned(),
            ..Default::default()
        }
    }

    #[test]
    fn a_persons_school_and_district_come_from_their_roles() {
        let principal = [role(id::ScopeKind::School, "s1", "d1", "")];
        let teacher = [role(id::ScopeKind::Class, "c1", "d1", "s1")];
        let officer = [role(id::ScopeKind::District, "d1", "", "")];
        let operator = [role(id::ScopeKind::Platform, "", "", "")];
        for (roles, school, district) in [
            (&principal[..], Some("s1"), Some("d1")),
            (&teacher[..], Some("s1"), Some("d1")),
            (&officer[..], None, Some("d1")),
            (&operator[..], None, None),
        ] {
            assert_eq!(scope_of(roles, Scope::School).as_deref(), school);
            assert_eq!(scope_of(roles, Scope::District).as_deref(), district);
        }
    }
}
