//! `lienlac seed demo`: the demo district, created through the public APIs as the
//! signed-in platform operator. Every request carries a request id derived from
//! what it creates, so running the seed again replays the first answers and
//! changes nothing.

use std::collections::HashMap;
use std::fmt::Write as _;

use anyhow::Context as _;
use futures::{StreamExt as _, TryStreamExt as _};
use lienlac_proto::attendance::v1 as att;
use lienlac_proto::attendance::v1::attendance_service_client::AttendanceServiceClient;
use lienlac_proto::identity::v1 as id;
use lienlac_proto::identity::v1::auth_service_client::AuthServiceClient;
use lienlac_proto::identity::v1::directory_service_client::DirectoryServiceClient;
use tonic::transport::Channel;

use crate::credentials::Credentials;
use crate::session;

/// Every demo account's password.
pub(crate) const PASSWORD: &str = "lienlac-demo";
/// Requests in flight at once.
const CONCURRENCY: usize = 8;
const FAMILY: [&str; 14] = [
    "Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng", "Bùi", "Đỗ",
    "Hồ", "Ngô",
];
const MIDDLE_GIRL: [&str; 5] = ["Thị", "Ngọc", "Thanh", "Bảo", "Minh"];
const MIDDLE_BOY: [&str; 5] = ["Văn", "Minh", "Gia", "Đức", "Quốc"];
const GIVEN_GIRL: [&str; 16] = [
    "Anh", "Châu", "Giang", "Hà", "Hạnh", "Lan", "Linh", "Mai", "My", "Ngân", "Nhi", "Phương",
    "Quỳnh", "Thảo", "Trang", "Vy",
];
const GIVEN_BOY: [&str; 16] = [
    "An", "Bình", "Dũng", "Hải", "Hiếu", "Hòa", "Hùng", "Khang", "Khánh", "Khoa", "Long", "Nam",
    "Phúc", "Quân", "Trí", "Tuấn",
];

/// How much of the demo to create: all of it, or a little (for tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Size {
    Full,
    Small,
}

struct SchoolPlan {
    name: &'static str,
    reference: &'static str,
    slug: &'static str,
    /// Classes per grade 1 to 5.
    classes: [usize; 5],
    /// Staff in all, with the leaders and homeroom teachers among them.
    staff: usize,
    leaders: &'static [(&'static str, id::Role)],
}

const SCHOOLS: [SchoolPlan; 2] = [
    SchoolPlan {
        name: "Trường Tiểu học Tân Thông",
        reference: "TANTHONG",
        slug: "tanthong",
        classes: [7, 7, 7, 6, 6],
        staff: 57,
        leaders: &[
            ("ht", id::Role::Principal),
            ("pht", id::Role::VicePrincipal),
            ("cntt", id::Role::ItOfficer),
        ],
    },
    SchoolPlan {
        name: "Trường Tiểu học Tân Tiến",
        reference: "TANTIEN",
        slug: "tantien",
        classes: [4, 4, 4, 4, 4],
        staff: 26,
        leaders: &[("ht", id::Role::Principal)],
    },
];

/// A deterministic request id for what a request creates.
fn rid(key: &str) -> String {
    let hash = |seed: u64| {
        key.bytes().fold(seed, |hash, byte| {
            (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
        })
    };
    let high = hash(0xcbf2_9ce4_8422_2325);
    let low = hash(0x84222325_cbf29ce4);
    uuid::Uuid::from_u64_pair(high, low).to_string()
}

/// A deterministic, well-mixed number from a key.
fn pick(key: &str, modulo: usize) -> usize {
    let mut x = key.bytes().fold(0x9E37_79B9_7F4A_7C15_u64, |x, b| {
        (x ^ u64::from(b)).wrapping_mul(0xBF58_476D_1CE4_E5B9)
    });
    x ^= x >> 31;
    (x % modulo as u64) as usize
}

fn name(key: &str, girl: bool) -> String {
    let (middle, given): (&[&str], &[&str]) = if girl {
        (&MIDDLE_GIRL, &GIVEN_GIRL)
    } else {
        (&MIDDLE_BOY, &GIVEN_BOY)
    };
    format!(
        "{} {} {}",
        FAMILY[pick(&format!("{key}:family"), FAMILY.len())],
        middle[pick(&format!("{key}:middle"), middle.len())],
        given[pick(&format!("{key}:given"), given.len())]
    )
}

/// `2025-2026` for a date from August 2025 to July 2026.
fn school_year(today: time::Date) -> String {
    let first = if u8::from(today.month()) >= 8 {
        today.year()
    } else {
        today.year() - 1
    };
    format!("{first}-{}", first + 1)
}

/// The last `count` weekdays before `today`, oldest first.
fn school_days(today: time::Date, count: usize) -> Vec<time::Date> {
    let mut days = Vec::new();
    let mut day = today;
    while days.len() < count {
        day = day.previous_day().unwrap_or(day);
        if !matches!(
            day.weekday(),
            time::Weekday::Saturday | time::Weekday::Sunday
        ) {
            days.push(day);
        }
    }
    days.reverse();
    days
}

/// One line of `demo-accounts.csv`.
struct DemoAccount {
    username: String,
    role: &'static str,
    scope: String,
}

pub(crate) struct Seed {
    pub(crate) attendance_url: String,
    pub(crate) size: Size,
    pub(crate) accounts_file: std::path::PathBuf,
}

struct Clients {
    credentials: Credentials,
    directory: DirectoryServiceClient<Channel>,
    auth: AuthServiceClient<Channel>,
}

impl Clients {
    fn request<T>(&self, message: T) -> anyhow::Result<tonic::Request<T>> {
        session::authorised(message, &self.credentials)
    }
}

/// A class and who is in it.
struct SeededClass {
    id: String,
    name: String,
    teacher_username: String,
    students: Vec<String>,
}

impl Seed {
    pub(crate) async fn run(&self) -> anyhow::Result<()> {
        let credentials = session::current().await?;
        let channel = session::connect(&credentials.identity_url).await?;
        let clients = Clients {
            directory: DirectoryServiceClient::new(channel.clone()),
            auth: AuthServiceClient::new(channel),
            credentials,
        };
        let offset = time::UtcOffset::from_hms(7, 0, 0).unwrap_or(time::UtcOffset::UTC);
        let today = time::OffsetDateTime::now_utc().to_offset(offset).date();
        let year = school_year(today);
        let mut accounts = vec![DemoAccount {
            username: clients.credentials.username.clone(),
            role: "operator",
            scope: "platform".to_owned(),
        }];

        let district = clients
            .directory
            .clone()
            .create_district(clients.request(id::CreateDistrictRequest {
                request_id: rid("district:783"),
                name: "Huyện Củ Chi".into(),
                external_ref: "783".into(),
            })?)
            .await
            .context("creating the district")?
            .into_inner()
            .id;
        eprintln!("district Huyện Củ Chi: {district}");

        let mut classes = Vec::new();
        for (number, plan) in SCHOOLS.iter().enumerate() {
            let seeded = self
                .school(&clients, plan, number, &district, &year, &mut accounts)
                .await?;
            classes.extend(seeded);
        }
        self.attendance(
            &classes,
            &school_days(today, self.days()),
            &clients.credentials,
        )
        .await?;
        self.write_accounts(&accounts)?;
        eprintln!(
            "done: {} accounts listed in {}; every password is {PASSWORD}",
            accounts.len(),
            self.accounts_file.display()
        );
        let code = student_code(&SCHOOLS[0], "1A1", 0);
        let month = today.replace_day(1).unwrap_or(today);
        let steps = [
            (
                "lienlac events tail --count 3".to_owned(),
                "in another terminal: the events as they happen",
            ),
            (
                "lienlac login gv.tanthong.1a1".to_owned(),
                "the homeroom teacher of 1A1",
            ),
            (
                format!("lienlac attendance submit --class 1A1 --absent {code}:excused"),
                "a roll call with one absentee",
            ),
            ("lienlac login ht.tanthong".to_owned(), "the principal"),
            (
                "lienlac report school".to_owned(),
                "today's figures of Tân Thông",
            ),
            (
                format!("lienlac report adoption --from {month}"),
                "the usage report for the district office",
            ),
        ];
        println!("\nTry (every password is {PASSWORD}):");
        for (command, what) in steps {
            println!("  {command:<62} # {what}");
        }
        println!(
            "Every demo account is listed in {}.",
            self.accounts_file.display()
        );
        Ok(())
    }

    fn days(&self) -> usize {
        match self.size {
            Size::Full => 10,
            Size::Small => 2,
        }
    }

    /// A school with its staff and their accounts and roles, its classes, students
    /// and guardians; the district office's admin is registered at the first.
    async fn school(
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
                });
                async move { anyhow::Ok(directory.register_staff(request?).await?.into_inner().id) }
            })
            .buffered(CONCURRENCY)
            .try_collect()
            .await
            .context("registering staff")?;

        // Accounts for the staff with their chosen usernames, activated.
        let usernames: HashMap<String, String> = staff_ids
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
                name: class_name.clone(),
                teacher_username,
                students: students.into_iter().map(|(student, _)| student).collect(),
            });
            eprint!(".");
        }
        eprintln!();

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
        let family = full_name.split(' ').next().unwrap_or("Nguyễn").to_owned();
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
            let full_name = if g == 0 {
                format!(
                    "{family} {} {}",
                    MIDDLE_BOY[pick(phone, 5)],
                    GIVEN_BOY[pick(phone, 16)]
                )
            } else {
                name(phone, true)
            };
            let guardian = directory
                .register_guardian(clients.request(id::RegisterGuardianRequest {
                    request_id: rid(&format!("guardian:{phone}")),
                    school_id: school.to_owned(),
                    full_name,
                    phone: phone.clone(),
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

    /// Two weeks of roll calls, taken by each homeroom teacher with their own
    /// sign-in: about one student in thirty absent, a few late.
    async fn attendance(
        &self,
        classes: &[SeededClass],
        days: &[time::Date],
        credentials: &Credentials,
    ) -> anyhow::Result<()> {
        let attendance =
            AttendanceServiceClient::new(session::connect(&self.attendance_url).await?);
        let auth = AuthServiceClient::new(session::connect(&credentials.identity_url).await?);
        eprintln!("roll calls of {} school days", days.len());
        futures::stream::iter(classes)
            .map(|class| {
                let (mut attendance, mut auth) = (attendance.clone(), auth.clone());
                async move {
                    let token = auth
                        .login(id::LoginRequest {
                            username: class.teacher_username.clone(),
                            password: PASSWORD.to_owned(),
                        })
                        .await
                        .with_context(|| format!("signing in as {}", class.teacher_username))?
                        .into_inner()
                        .access_token;
                    for day in days {
                        for session in [att::Session::Morning, att::Session::Afternoon] {
                            let key = format!("{}:{day}:{}", class.id, session as i32);
                            let marks = class
                                .students
                                .iter()
                                .filter_map(|student| {
                                    let status = match pick(&format!("{key}:{student}"), 100) {
                                        0 => att::AttendanceStatus::AbsentExcused,
                                        1 => att::AttendanceStatus::AbsentUnexcused,
                                        2 => att::AttendanceStatus::Late,
                                        _ => return None,
                                    };
                                    Some(att::Mark {
                                        student_id: student.clone(),
                                        status: status as i32,
                                        ..Default::default()
                                    })
                                })
                                .collect();
                            let mut request = tonic::Request::new(att::SubmitRollCallRequest {
                                request_id: rid(&format!("rollcall:{key}")),
                                class_id: class.id.clone(),
                                date: day.to_string(),
                                session: session as i32,
                                marks,
                                taken_at: String::new(),
                            });
                            request.metadata_mut().insert(
                                "authorization",
                                format!("Bearer {token}")
                                    .parse()
                                    .context("a token header")?,
                            );
                            attendance
                                .submit_roll_call(request)
                                .await
                                .with_context(|| {
                                    format!("the roll call of {} on {day}", class.name)
                                })?;
                        }
                    }
                    anyhow::Ok(())
                }
            })
            .buffer_unordered(CONCURRENCY)
            .try_collect::<()>()
            .await
    }

    fn write_accounts(&self, accounts: &[DemoAccount]) -> anyhow::Result<()> {
        let mut csv = String::from("username,role,scope,password\n");
        for account in accounts {
            let _ = writeln!(
                csv,
                "{},{},\"{}\",{PASSWORD}",
                account.username, account.role, account.scope
            );
        }
        std::fs::write(&self.accounts_file, csv)
            .with_context(|| format!("writing {}", self.accounts_file.display()))
    }
}

fn student_key(plan: &SchoolPlan, class_name: &str, n: usize) -> String {
    format!("{}:{class_name}:{n}", plan.reference)
}

/// A student's code in the city database's style: school, then seven digits.
fn student_code(plan: &SchoolPlan, class_name: &str, n: usize) -> String {
    let key = student_key(plan, class_name, n);
    format!("{}{:07}", plan.slug.to_uppercase(), pick(&key, 10_000_000))
}

/// The phone numbers of a student's guardians: the very first guardian of the
/// demo is 0900000001, the others follow from the school, class and student.
fn phones_for(school: usize, class_name: &str, n: usize) -> [String; 2] {
    let grade = class_name[..1].parse::<usize>().unwrap_or(1);
    let section = class_name[2..].parse::<usize>().unwrap_or(1);
    let base = 1 + ((school * 5 + grade - 1) * 10 + section - 1) * 100 + n * 2;
    [format!("09{base:08}"), format!("09{:08}", base + 1)]
}
