//! Accounts for the mirrored people, as a district rolling lienlac out would
//! issue them: every staff member of the schools and of the unit's office with a
//! username of the demo and their role, the guardians with their phone numbers;
//! all staff activated, seven guardians in ten.

use std::collections::{BTreeMap, HashMap, HashSet};

use anyhow::Context as _;
use futures::{StreamExt as _, TryStreamExt as _};
use lienlac_proto::identity::v1 as id;

use super::mirror::{Mirrored, MirroredSchool};
use super::plan::{pick, rid};
use super::usernames::{self, StaffAccount};
use super::{
    CONCURRENCY, Clients, DEMO_GUARDIAN, DemoAccount, PASSWORD, Seed, SeededClass, SeededSchool,
    Size,
};

/// The classes the demo takes roll calls in, by grade and name: every one, or in a
/// small demo the first of each grade.
fn demo_classes(classes: &[id::Class], size: Size) -> Vec<&id::Class> {
    let mut chosen: Vec<&id::Class> = classes.iter().collect();
    chosen.sort_by(|a, b| (a.grade, &a.name).cmp(&(b.grade, &b.name)));
    if size == Size::Small {
        chosen.dedup_by_key(|class| class.grade);
    }
    chosen
}

/// Whether a staff member gets an account: everyone in a full demo; in a small
/// one the leaders and the homeroom teachers of its classes.
fn takes_account(size: Size, account: &StaffAccount, teachers: &[&str]) -> bool {
    size == Size::Full || account.role.is_some() || teachers.contains(&account.username.as_str())
}

/// The guardians of the classes' students who have a phone to sign in with.
fn reachable_guardians(export: &id::SchoolExport, class_ids: &[&str]) -> Vec<String> {
    let of_students: HashSet<&str> = export
        .students
        .iter()
        .filter(|student| class_ids.contains(&student.class_id.as_str()))
        .flat_map(|student| student.guardianships.iter().map(|g| g.guardian_id.as_str()))
        .collect();
    export
        .guardians
        .iter()
        .filter(|guardian| !guardian.phone.is_empty() && of_students.contains(guardian.id.as_str()))
        .map(|guardian| guardian.id.clone())
        .collect()
}

/// Who is issued an account: the staff of a school or of the district's office.
#[derive(Clone, Copy)]
enum IssuedBy<'a> {
    School(&'a str),
    Office(&'a str),
}

impl Seed {
    /// Accounts for the district office's staff, each a district admin; the first
    /// one's username, if the office has staff.
    pub(super) async fn office_accounts(
        &self,
        clients: &Clients,
        mirrored: &Mirrored,
        accounts: &mut Vec<DemoAccount>,
    ) -> anyhow::Result<Option<String>> {
        let district = &mirrored.district;
        let mut office = mirrored.office.clone();
        office.sort_by(|a, b| a.external_ref.cmp(&b.external_ref));
        let named = usernames::office_staff(&usernames::slug(&district.name), office.len());
        let staff: Vec<(&id::Person, &StaffAccount)> = office.iter().zip(&named).collect();
        self.staff_accounts(
            clients,
            IssuedBy::Office(&district.id),
            &staff,
            &district.name,
            accounts,
        )
        .await?;
        Ok(named.into_iter().next().map(|account| account.username))
    }

    /// A school's staff and guardians with their accounts, and its classes as the
    /// roll calls and school life take them (in a small demo the first class of
    /// each grade, and only their people's accounts).
    pub(super) async fn school_accounts(
        &self,
        clients: &Clients,
        number: usize,
        mirrored: &MirroredSchool,
        accounts: &mut Vec<DemoAccount>,
    ) -> anyhow::Result<(SeededSchool, Vec<SeededClass>)> {
        let school = &mirrored.school;
        let export = &mirrored.export;
        let classes = demo_classes(&export.classes, self.size);
        eprintln!("{}: {} classes", school.name, classes.len());
        let class_of_teacher: HashMap<&str, &str> = export
            .classes
            .iter()
            .map(|class| (class.homeroom_teacher_id.as_str(), class.name.as_str()))
            .collect();
        let mut staff: Vec<&id::Person> = export.staff.iter().collect();
        staff.sort_by(|a, b| a.external_ref.cmp(&b.external_ref));
        let named = usernames::school_staff(
            &usernames::slug(&school.name),
            &staff
                .iter()
                .map(|person| {
                    (
                        person.position.as_str(),
                        class_of_teacher.get(person.id.as_str()).copied(),
                    )
                })
                .collect::<Vec<_>>(),
        );
        let username_of: HashMap<&str, &str> = staff
            .iter()
            .zip(&named)
            .map(|(person, account)| (person.id.as_str(), account.username.as_str()))
            .collect();
        let seeded: Vec<SeededClass> = classes
            .iter()
            .map(|class| {
                let teacher = username_of
                    .get(class.homeroom_teacher_id.as_str())
                    .with_context(|| {
                        format!("{} of {} has no homeroom teacher", class.name, school.name)
                    })?;
                Ok(SeededClass {
                    id: class.id.clone(),
                    school: number,
                    name: class.name.clone(),
                    teacher_username: (*teacher).to_owned(),
                    students: export
                        .students
                        .iter()
                        .filter(|student| student.class_id == class.id)
                        .map(|student| student.id.clone())
                        .collect(),
                })
            })
            .collect::<anyhow::Result<_>>()?;

        let teachers: Vec<&str> = seeded.iter().map(|c| c.teacher_username.as_str()).collect();
        let with_accounts: Vec<(&id::Person, &StaffAccount)> = staff
            .iter()
            .copied()
            .zip(&named)
            .filter(|(_, account)| takes_account(self.size, account, &teachers))
            .collect();
        self.staff_accounts(
            clients,
            IssuedBy::School(&school.id),
            &with_accounts,
            &school.name,
            accounts,
        )
        .await?;
        let leader = |role: id::Role| {
            with_accounts
                .iter()
                .find(|(_, account)| account.role == Some(role))
                .map(|(_, account)| account.username.clone())
        };
        let principal = leader(id::Role::Principal)
            .with_context(|| format!("{} has no principal in the city database", school.name))?;
        let it_officer = leader(id::Role::ItOfficer);

        let class_ids: Vec<&str> = seeded.iter().map(|c| c.id.as_str()).collect();
        let guardians = reachable_guardians(export, &class_ids);
        self.guardian_accounts(clients, &school.id, &guardians, &school.name, accounts)
            .await?;
        Ok((
            SeededSchool {
                id: school.id.clone(),
                principal,
                it_officer,
            },
            seeded,
        ))
    }

    /// Issues staff their accounts with the demo's usernames, activates them and
    /// grants their roles.
    async fn staff_accounts(
        &self,
        clients: &Clients,
        issued_by: IssuedBy<'_>,
        staff: &[(&id::Person, &StaffAccount)],
        scope_name: &str,
        accounts: &mut Vec<DemoAccount>,
    ) -> anyhow::Result<()> {
        let (school_id, district_id, key) = match issued_by {
            IssuedBy::School(school) => (school.to_owned(), String::new(), school),
            IssuedBy::Office(district) => (String::new(), district.to_owned(), district),
        };
        let usernames: BTreeMap<String, String> = staff
            .iter()
            .map(|(person, account)| (person.id.clone(), account.username.clone()))
            .collect();
        let issued = clients
            .auth
            .clone()
            .issue_accounts(clients.request(id::IssueAccountsRequest {
                request_id: rid(&format!("accounts:staff:{key}:{}", usernames.len())),
                school_id,
                district_id,
                person_ids: usernames.keys().cloned().collect(),
                usernames,
                ..Default::default()
            })?)
            .await
            .with_context(|| format!("issuing the accounts of {scope_name}'s staff"))?
            .into_inner();
        self.activate(clients, issued.accounts.iter().collect())
            .await?;
        let account_of: HashMap<&str, &str> = issued
            .accounts
            .iter()
            .map(|account| (account.username.as_str(), account.account_id.as_str()))
            .collect();
        for (_, account) in staff {
            accounts.push(DemoAccount {
                username: account.username.clone(),
                role: account.kind,
                scope: scope_name.to_owned(),
            });
            // An account issued by an earlier seed is in no answer of this one; its
            // role was granted then.
            let (Some(role), Some(account_id)) =
                (account.role, account_of.get(account.username.as_str()))
            else {
                continue;
            };
            let (scope_kind, scope_id) = match issued_by {
                IssuedBy::School(school) => (id::ScopeKind::School, school),
                IssuedBy::Office(district) => (id::ScopeKind::District, district),
            };
            clients
                .auth
                .clone()
                .grant_role(clients.request(id::GrantRoleRequest {
                    request_id: rid(&format!("role:{}", account.username)),
                    account_id: (*account_id).to_owned(),
                    role: role as i32,
                    scope_kind: scope_kind as i32,
                    scope_id: scope_id.to_owned(),
                })?)
                .await
                .with_context(|| format!("granting {} its role", account.username))?;
        }
        Ok(())
    }

    /// Guardians' accounts: their phone numbers as usernames; seven in ten
    /// activated, and the demo's guardian.
    async fn guardian_accounts(
        &self,
        clients: &Clients,
        school_id: &str,
        guardians: &[String],
        school_name: &str,
        accounts: &mut Vec<DemoAccount>,
    ) -> anyhow::Result<()> {
        for (chunk_number, chunk) in guardians.chunks(500).enumerate() {
            let issued = clients
                .auth
                .clone()
                .issue_accounts(clients.request(id::IssueAccountsRequest {
                    request_id: rid(&format!(
                        "accounts:guardians:{school_id}:{chunk_number}:{}",
                        chunk.len()
                    )),
                    school_id: school_id.to_owned(),
                    person_ids: chunk.to_vec(),
                    ..Default::default()
                })?)
                .await
                .context("issuing the guardians' accounts")?
                .into_inner();
            let activated: Vec<&id::IssuedAccount> = issued
                .accounts
                .iter()
                .filter(|account| {
                    account.username == DEMO_GUARDIAN || pick(&account.username, 10) < 7
                })
                .collect();
            self.activate(clients, activated).await?;
            for account in &issued.accounts {
                accounts.push(DemoAccount {
                    username: account.username.clone(),
                    role: "guardian",
                    scope: school_name.to_owned(),
                });
            }
        }
        Ok(())
    }

    /// Activates issued accounts with the demo password; on a second run the
    /// codes are blank (the first run activated them) and nothing happens.
    async fn activate(
        &self,
        clients: &Clients,
        issued: Vec<&id::IssuedAccount>,
    ) -> anyhow::Result<()> {
        futures::stream::iter(
            issued
                .into_iter()
                .filter(|account| !account.activation_code.is_empty()),
        )
        .map(|account| {
            let mut auth = clients.auth.clone();
            let request = id::ActivateAccountRequest {
                username: account.username.clone(),
                activation_code: account.activation_code.clone(),
                new_password: PASSWORD.to_owned(),
            };
            async move {
                auth.activate_account(request)
                    .await
                    .with_context(|| format!("activating {}", account.username))?;
                anyhow::Ok(())
            }
        })
        .buffer_unordered(CONCURRENCY)
        .try_collect::<()>()
        .await
    }
}

#[cfg(test)]
mod tests {
    use lienlac_proto::identity::v1::Role;

    use super::*;

    fn class(id: &str, grade: i32, name: &str) -> id::Class {
        id::Class {
            id: id.to_owned(),
            grade,
            name: name.to_owned(),
            ..Default::default()
        }
    }

    #[test]
    fn a_small_demo_takes_the_first_class_of_each_grade() {
        let classes = [
            class("c", 2, "2A1"),
            class("b", 1, "1A2"),
            class("a", 1, "1A1"),
            class("d", 2, "2A2"),
        ];
        let names = |size| -> Vec<String> {
            demo_classes(&classes, size)
                .into_iter()
                .map(|c| c.name.clone())
                .collect()
        };
        assert_eq!(names(Size::Full), ["1A1", "1A2", "2A1", "2A2"]);
        assert_eq!(names(Size::Small), ["1A1", "2A1"]);
    }

    #[test]
    fn a_small_demo_gives_accounts_to_leaders_and_its_classes_teachers_only() {
        let account = |username: &str, role: Option<Role>| StaffAccount {
            username: username.to_owned(),
            kind: "teacher",
            role,
        };
        let teachers = ["gv.tanthong.1a1"];
        for (size, staff, expected) in [
            (Size::Full, account("gvbm1.tanthong", None), true),
            (Size::Small, account("gvbm1.tanthong", None), false),
            (Size::Small, account("gv.tanthong.1a1", None), true),
            (Size::Small, account("gv.tanthong.1a2", None), false),
            (
                Size::Small,
                account("ht.tanthong", Some(Role::Principal)),
                true,
            ),
        ] {
            assert_eq!(
                takes_account(size, &staff, &teachers),
                expected,
                "{}",
                staff.username
            );
        }
    }

    #[test]
    fn guardians_of_the_classes_students_with_a_phone_get_accounts() {
        let person = |id: &str, class_id: &str, phone: &str, guardians: &[&str]| id::Person {
            id: id.to_owned(),
            class_id: class_id.to_owned(),
            phone: phone.to_owned(),
            guardianships: guardians
                .iter()
                .map(|g| id::Guardianship {
                    guardian_id: (*g).to_owned(),
                    student_id: id.to_owned(),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        };
        let export = id::SchoolExport {
            students: vec![
                person("s1", "1a1", "", &["g1", "g2"]),
                person("s2", "1a2", "", &["g3"]),
            ],
            guardians: vec![
                person("g1", "", "+84900000001", &[]),
                person("g2", "", "", &[]),
                person("g3", "", "+84900000003", &[]),
            ],
            ..Default::default()
        };
        assert_eq!(reachable_guardians(&export, &["1a1"]), ["g1"]);
        assert_eq!(reachable_guardians(&export, &["1a1", "1a2"]), ["g1", "g3"]);
        assert!(reachable_guardians(&export, &[]).is_empty());
    }
}
