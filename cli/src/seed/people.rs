//! The schools' people: staff with their accounts and roles, classes, students
//! and guardians.

use std::collections::{BTreeMap, HashMap};

use anyhow::Context as _;
use futures::{StreamExt as _, TryStreamExt as _};
use lienlac_proto::identity::v1 as id;

use super::plan::{
    SchoolPlan, name, parent_name, phones_for, pick, rid, student_code, student_key,
};
use crate::progress;

use super::{CONCURRENCY, Clients, DemoAccount, PASSWORD, Seed, SeededClass, Size};

impl Seed {
    /// A school with its staff and their accounts and roles, its classes, students
    /// and guardians; the district office's admin is registered at the first.
    pub(super) async fn school(
        &self,
        clients: &Clients,
        plan: &SchoolPlan,
        number: usize,
        district: &str,
        year: &str,
        accounts: &mut Vec<DemoAccount>,
    ) -> anyhow::Result<Vec<SeededClass>> {
        let school = clients
            .directory
            .clone()
            .create_school(clients.request(id::CreateSchoolRequest {
                request_id: rid(&format!("school:{}", plan.reference)),
                district_id: district.to_owned(),
                name: plan.name.into(),
                external_ref: plan.reference.into(),
            })?)
            .await
            .with_context(|| format!("creating {}", plan.name))?
            .into_inner()
            .id;
        let class_names: Vec<String> = plan
            .classes
            .iter()
            .enumerate()
            .flat_map(|(grade, count)| {
                let count = if self.size == Size::Small {
                    (*count).min(1)
                } else {
                    *count
                };
                (1..=count).map(move |n| format!("{}A{n}", grade + 1))
            })
            .collect();
        eprintln!("{}: {} classes", plan.name, class_names.len());

        // Staff: the leaders, a homeroom teacher per class, other teachers, and the
        // district office's admin (registered at the first school).
        let mut staff: Vec<(String, String, &'static str, Option<id::Role>)> = Vec::new();
        for (prefix, role) in plan.leaders {
            let position = match role {
                id::Role::Principal => "Hiệu trưởng",
                id::Role::VicePrincipal => "Phó hiệu trưởng",
                _ => "Cán bộ công nghệ thông tin",
            };
            staff.push((
                format!("{prefix}.{}", plan.slug),
                position.to_owned(),
                "leader",
                Some(*role),
            ));
        }
        for class in &class_names {
            staff.push((
                format!("gv.{}.{}", plan.slug, class.to_lowercase()),
                "Giáo viên chủ nhiệm".to_owned(),
                "homeroom teacher",
                None,
            ));
        }
        let total = if self.size == Size::Small {
            staff.len()
        } else {
            plan.staff
        };
        for n in staff.len()..total {
            staff.push((
                format!("gvbm{n}.{}", plan.slug),
                "Giáo viên".to_owned(),
                "teacher",
                None,
            ));
        }
        if number == 0 {
            staff.push((
                "pgd.cuchi".to_owned(),
                "Chuyên viên Phòng Giáo dục".to_owned(),
                "district admin",
                Some(id::Role::DistrictAdmin),
            ));
        }
        let staff_ids: Vec<String> = futures::stream::iter(staff.iter().enumerate())
            .map(|(n, (username, position, _, _))| {
                let mut directory = clients.directory.clone();
                let request = clients.request(id::RegisterStaffRequest {
                    request_id: rid(&format!("staff:{username}")),
                    school_id: school.clone(),
                    full_name: name(username, pick(username, 2) == 0),
                    phone: format!("0918{:06}", number * 1000 + n),
                    position: position.clone(),
                    ..Default::default()
                });
                async move { anyhow::Ok(directory.register_staff(request?).await?.into_inner().id) }
            })
            .buffered(CONCURRENCY)
            .try_collect()
            .await
            .context("registering staff")?;

        // Accounts for the staff with their chosen usernames, activated.
        let usernames: BTreeMap<String, String> = staff_ids
            .iter()
            .zip(&staff)
            .map(|(person, (username, ..))| (person.clone(), username.clone()))
            .collect();
        let issued = clients
            .auth
            .clone()
            .issue_accounts(clients.request(id::IssueAccountsRequest {
                request_id: rid(&format!("accounts:staff:{}", plan.reference)),
                school_id: school.clone(),
                person_ids: staff_ids.clone(),
                usernames,
                ..Default::default()
            })?)
            .await
            .context("issuing the staff's accounts")?
            .into_inner();
        self.activate(clients, issued.accounts.iter().collect())
            .await?;
        let account_of: HashMap<String, String> = issued
            .accounts
            .iter()
            .map(|account| (account.username.clone(), account.account_id.clone()))
            .collect();
        for (username, _, kind, role) in &staff {
            accounts.push(DemoAccount {
                username: username.clone(),
                role: kind,
                scope: if *kind == "district admin" {
                    "Huyện Củ Chi".to_owned()
                } else {
                    plan.name.to_owned()
                },
            });
            let (Some(role), Some(account)) = (role, account_of.get(username)) else {
                continue;
            };
            let (scope_kind, scope_id) = if *role == id::Role::DistrictAdmin {
                (id::ScopeKind::District, district.to_owned())
            } else {
                (id::ScopeKind::School, school.clone())
            };
            clients
                .auth
                .clone()
                .grant_role(clients.request(id::GrantRoleRequest {
                    request_id: rid(&format!("role:{username}")),
                    account_id: account.clone(),
                    role: *role as i32,
                    scope_kind: scope_kind as i32,
                    scope_id,
                })?)
                .await
                .with_context(|| format!("granting {username} its role"))?;
        }

        // Classes with their homeroom teachers, students and guardians.
        let teacher_of: HashMap<&str, &String> = staff
            .iter()
            .zip(&staff_ids)
            .map(|((username, ..), person)| (username.as_str(), person))
            .collect();
        let mut seeded = Vec::new();
        let mut guardians = Vec::new();
        let bar = progress::bar(class_names.len() as u64, "classes");
        for class_name in &class_names {
            let grade = class_name[..1].parse::<i32>().unwrap_or(1);
            let class_id = clients
                .directory
                .clone()
                .create_class(clients.request(id::CreateClassRequest {
                    request_id: rid(&format!("class:{}:{year}:{class_name}", plan.reference)),
                    school_id: school.clone(),
                    name: class_name.clone(),
                    grade,
                    school_year: year.to_owned(),
                    ..Default::default()
                })?)
                .await
                .with_context(|| format!("creating class {class_name}"))?
                .into_inner()
                .id;
            let teacher_username = format!("gv.{}.{}", plan.slug, class_name.to_lowercase());
            let teacher = teacher_of
                .get(teacher_username.as_str())
                .context("a class without its teacher")?;
            clients
                .directory
                .clone()
                .assign_homeroom_teacher(clients.request(id::AssignHomeroomTeacherRequest {
                    request_id: rid(&format!("homeroom:{class_id}")),
                    class_id: class_id.clone(),
                    staff_id: (*teacher).clone(),
                })?)
                .await?;
            let size = match self.size {
                Size::Full => 30 + pick(&format!("size:{class_id}"), 11),
                Size::Small => 5,
            };
            let students: Vec<(String, Vec<String>)> = futures::stream::iter(0..size)
                .map(|n| {
                    let phones = phones_for(number, class_name, n);
                    self.student(clients, &school, &class_id, plan, class_name, n, phones)
                })
                .buffered(CONCURRENCY)
                .try_collect()
                .await?;
            guardians.extend(students.iter().flat_map(|(_, guardians)| guardians.clone()));
            seeded.push(SeededClass {
                id: class_id,
                school: number,
                name: class_name.clone(),
                teacher_username,
                students: students.into_iter().map(|(student, _)| student).collect(),
            });
            bar.inc(1);
        }
        bar.finish_and_clear();

        // Guardians' accounts: phone usernames; seven in ten activated.
        for (chunk_number, chunk) in guardians.chunks(500).enumerate() {
            let issued = clients
                .auth
                .clone()
                .issue_accounts(clients.request(id::IssueAccountsRequest {
                    request_id: rid(&format!(
                        "accounts:guardians:{}:{chunk_number}",
                        plan.reference
                    )),
                    school_id: school.clone(),
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
                    account.username == "0900000001" || pick(&account.username, 10) < 7
                })
                .collect();
            self.activate(clients, activated).await?;
            for account in &issued.accounts {
                accounts.push(DemoAccount {
                    username: account.username.clone(),
                    role: "guardian",
                    scope: plan.name.to_owned(),
                });
            }
        }
        Ok(seeded)
    }

    /// A student enrolled in the class with one or two guardians; returns the
    /// student's id and the guardians' ids.
    #[allow(clippy::too_many_arguments)]
    async fn student(
        &self,
        clients: &Clients,
        school: &str,
        class_id: &str,
        plan: &SchoolPlan,
        class_name: &str,
        n: usize,
        phones: [String; 2],
    ) -> anyhow::Result<(String, Vec<String>)> {
        let key = student_key(plan, class_name, n);
        let girl = pick(&key, 2) == 0;
        let full_name = name(&key, girl);
        let child_name = full_name.clone();
        let mut directory = clients.directory.clone();
        let student = directory
            .register_student(clients.request(id::RegisterStudentRequest {
                request_id: rid(&format!("student:{key}")),
                school_id: school.to_owned(),
                full_name,
                birth_date: format!(
                    "{}-0{}-1{}",
                    2020 - class_name[..1].parse::<i32>().unwrap_or(1),
                    1 + pick(&key, 9),
                    pick(&key, 9)
                ),
                gender: if girl {
                    id::Gender::Female
                } else {
                    id::Gender::Male
                } as i32,
                external_ref: student_code(plan, class_name, n),
            })?)
            .await
            .with_context(|| format!("registering student {key}"))?
            .into_inner()
            .id;
        directory
            .enroll_student(clients.request(id::EnrollStudentRequest {
                request_id: rid(&format!("enrol:{key}")),
                student_id: student.clone(),
                class_id: class_id.to_owned(),
            })?)
            .await
            .with_context(|| format!("enrolling student {key}"))?;
        let count = 1 + pick(&format!("{key}:guardians"), 2);
        let mut guardians = Vec::new();
        for (g, phone) in phones.iter().take(count).enumerate() {
            let relation = if g == 0 {
                id::Relation::Father
            } else {
                id::Relation::Mother
            };
            let full_name = parent_name(phone, g == 0, &child_name);
            let guardian = directory
                .register_guardian(clients.request(id::RegisterGuardianRequest {
                    request_id: rid(&format!("guardian:{phone}")),
                    school_id: school.to_owned(),
                    full_name,
                    phone: phone.clone(),
                    ..Default::default()
                })?)
                .await
                .with_context(|| format!("registering guardian {phone}"))?
                .into_inner()
                .id;
            directory
                .link_guardian(clients.request(id::LinkGuardianRequest {
                    request_id: rid(&format!("link:{phone}:{key}")),
                    guardian_id: guardian.clone(),
                    student_id: student.clone(),
                    relation: relation as i32,
                })?)
                .await
                .with_context(|| format!("linking guardian {phone}"))?;
            guardians.push(guardian);
        }
        Ok((student, guardians))
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
