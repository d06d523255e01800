//! The synthetic district, created through the public APIs as the signed-in
//! operator: schools of classes, each with its homeroom teacher and students, and
//! a district admin who reads the reports. Each class's students come as one
//! roster import, as a school brings its class lists in. Request ids derive from the seed, so a
//! second run with the same seed replays the first answers.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use async_nats::jetstream;
use futures::{StreamExt as _, TryStreamExt as _};
use lienlac_proto::identity::v1 as id;
use lienlac_proto::identity::v1::auth_service_client::AuthServiceClient;
use lienlac_proto::identity::v1::directory_service_client::DirectoryServiceClient;
use tonic::transport::Channel;

use super::{PASSWORD, Shape};
use crate::credentials::Credentials;
use crate::seed::plan::rid;
use crate::{dates, progress, session};

/// Students a roster import may hold.
const ROSTER_IMPORT: usize = 100;
/// How long the services may take to project the district before the bench gives up.
const PROJECTION_TIMEOUT: Duration = Duration::from_secs(4 * 3600);

/// The schools under load: of one synthetic district, or of every district of a
/// mirrored city.
pub(super) struct District {
    /// Each district, with whoever reads its summaries.
    pub(super) readers: Vec<Reader>,
    pub(super) schools: Vec<School>,
    pub(super) classes: Vec<Class>,
}

pub(super) struct Reader {
    pub(super) district_id: String,
    /// A district admin or viewer.
    pub(super) credentials: Credentials,
}

pub(super) struct School {
    pub(super) id: String,
    /// Index into `District::readers`.
    pub(super) district: usize,
}

pub(super) struct Class {
    /// Index into `District::schools`.
    pub(super) school: usize,
    pub(super) id: String,
    pub(super) students: Vec<String>,
    pub(super) teacher: Credentials,
}

struct Clients<'a> {
    operator: &'a Credentials,
    directory: DirectoryServiceClient<Channel>,
    auth: AuthServiceClient<Channel>,
    seed: u64,
}

impl Clients<'_> {
    fn request<T>(&self, message: T) -> anyhow::Result<tonic::Request<T>> {
        session::authorised(message, self.operator)
    }

    /// The request id of what `key` names in this seed's district.
    fn rid(&self, key: &str) -> String {
        rid(&format!("bench:{}:{key}", self.seed))
    }
}

/// A class before its teacher has signed in.
struct NewClass {
    school: usize,
    id: String,
    students: Vec<String>,
    teacher_person: String,
    teacher_username: String,
}

/// The synthetic district of `shape`, created as the signed-in operator.
pub(super) async fn synthetic(
    nats_url: &str,
    namespace: &str,
    shape: Shape,
    seed: u64,
    concurrency: usize,
) -> anyhow::Result<District> {
    anyhow::ensure!(
        shape.schools > 0 && shape.classes_per_school > 0 && shape.students_per_class > 0,
        "--schools, --classes-per-school and --students-per-class must be at least 1"
    );
    anyhow::ensure!(concurrency > 0, "--concurrency must be at least 1");
    let operator = session::current().await?;
    let projections = Projections {
        nats_url,
        namespace,
    };
    create(&operator, shape, seed, concurrency, &projections)
        .await
        .context("creating the synthetic district")
}

/// Creates the district, waits until the services have projected it, then signs
/// every teacher in, once, before the mornings of roll calls.
pub(super) async fn create(
    operator: &Credentials,
    shape: Shape,
    seed: u64,
    concurrency: usize,
    projections: &Projections<'_>,
) -> anyhow::Result<District> {
    let channel = session::connect(&operator.identity_url).await?;
    let clients = Clients {
        operator,
        directory: DirectoryServiceClient::new(channel.clone()),
        auth: AuthServiceClient::new(channel),
        seed,
    };
    let started = Instant::now();
    let district = clients
        .directory
        .clone()
        .create_district(clients.request(id::CreateDistrictRequest {
            request_id: clients.rid("district"),
            name: format!("Quận Đo Tải {seed}"),
            external_ref: format!("BENCH{seed}"),
        })?)
        .await
        .context("creating the district")?
        .into_inner()
        .id;
    let schools: Vec<String> = futures::stream::iter(0..shape.schools)
        .map(|n| {
            let mut directory = clients.directory.clone();
            let request = clients.request(id::CreateSchoolRequest {
                request_id: clients.rid(&format!("school:{n}")),
                district_id: district.clone(),
                name: format!("Trường Tiểu học Đo Tải {seed}-{}", n + 1),
                external_ref: format!("BENCH{seed}S{n:04}"),
            });
            async move { anyhow::Ok(directory.create_school(request?).await?.into_inner().id) }
        })
        .buffered(concurrency)
        .try_collect()
        .await
        .context("creating the schools")?;

    let year = dates::school_year(dates::local_today());
    let students = progress::bar(
        (shape.classes() * shape.students_per_class) as u64,
        "students",
    );
    let new_classes: Vec<NewClass> = futures::stream::iter(0..shape.classes())
        .map(|n| {
            let school = n / shape.classes_per_school;
            class(
                &clients,
                &schools[school],
                school,
                n % shape.classes_per_school,
                shape,
                &year,
                &students,
            )
        })
        .buffered(concurrency)
        .try_collect()
        .await?;
    students.finish_and_clear();

    let admin = district_admin(&clients, &district, &schools[0]).await?;
    eprintln!(
        "district of {} schools, {} classes, {} students created ({:.0} s)",
        schools.len(),
        new_classes.len(),
        new_classes.len() * shape.students_per_class,
        started.elapsed().as_secs_f64()
    );
    projections.wait().await?;
    let signing_in = Instant::now();
    let accounts = progress::bar(shape.classes() as u64, "teachers signed in");
    let mut classes = Vec::with_capacity(new_classes.len());
    // The classes come school by school.
    let mut new_classes = new_classes.into_iter();
    for school_id in &schools {
        let of_school: Vec<NewClass> = new_classes
            .by_ref()
            .take(shape.classes_per_school)
            .collect();
        let teachers = sign_in_teachers(&clients, school_id, &of_school, concurrency).await?;
        accounts.inc(of_school.len() as u64);
        classes.extend(
            of_school
                .into_iter()
                .zip(teachers)
                .map(|(class, teacher)| Class {
                    school: class.school,
                    id: class.id,
                    students: class.students,
                    teacher,
                }),
        );
    }
    accounts.finish_and_clear();
    eprintln!(
        "{} teachers signed in ({:.0} s)",
        classes.len(),
        signing_in.elapsed().as_secs_f64()
    );
    projections.wait().await?;
    Ok(District {
        readers: vec![Reader {
            district_id: district,
            credentials: admin,
        }],
        schools: schools
            .into_iter()
            .map(|id| School { id, district: 0 })
            .collect(),
        classes,
    })
}

/// The `number`th class of a school: its homeroom teacher registered and assigned,
/// its students registered and enrolled.
async fn class(
    clients: &Clients<'_>,
    school_id: &str,
    school: usize,
    number: usize,
    shape: Shape,
    year: &str,
    progress: &indicatif::ProgressBar,
) -> anyhow::Result<NewClass> {
    let per_grade = shape.classes_per_school.div_ceil(5);
    let (grade, section) = (number / per_grade + 1, number % per_grade + 1);
    let name = format!("{grade}A{section}");
    let key = format!("{school}:{name}");
    // A class, its homeroom teacher and its roster belong to a school year.
    let class_key = format!("{key}:{year}");
    let mut directory = clients.directory.clone();
    let class_id = directory
        .create_class(clients.request(id::CreateClassRequest {
            request_id: clients.rid(&format!("class:{class_key}")),
            school_id: school_id.to_owned(),
            name: name.clone(),
            grade: grade as i32,
            school_year: year.to_owned(),
            ..Default::default()
        })?)
        .await
        .with_context(|| format!("creating class {name} of school {}", school + 1))?
        .into_inner()
        .id;
    let teacher_person = directory
        .register_staff(clients.request(id::RegisterStaffRequest {
            request_id: clients.rid(&format!("teacher:{key}")),
            school_id: school_id.to_owned(),
            full_name: format!("Giáo Viên {name} Trường {}", school + 1),
            phone: format!("0908{number:06}"),
            position: "Giáo viên chủ nhiệm".into(),
            ..Default::default()
        })?)
        .await
        .with_context(|| format!("registering the teacher of {name}"))?
        .into_inner()
        .id;
    directory
        .assign_homeroom_teacher(clients.request(id::AssignHomeroomTeacherRequest {
            request_id: clients.rid(&format!("homeroom:{class_key}")),
            class_id: class_id.clone(),
            staff_id: teacher_person.clone(),
        })?)
        .await
        .with_context(|| format!("assigning the homeroom teacher of {name}"))?;
    // The class list imported as a school does at the start of the year, at most
    // a hundred students a request.
    let mut students = Vec::with_capacity(shape.students_per_class);
    let numbers: Vec<usize> = (0..shape.students_per_class).collect();
    for (part, chunk) in numbers.chunks(ROSTER_IMPORT).enumerate() {
        let imported = directory
            .import_class_roster(
                clients.request(id::ImportClassRosterRequest {
                    request_id: clients.rid(&format!("roster:{class_key}:{part}")),
                    class_id: class_id.clone(),
                    students: chunk
                        .iter()
                        .map(|&n| id::NewStudent {
                            full_name: format!("Học Sinh {name} Số {}", n + 1),
                            birth_date: format!("{}-06-15", 2020 - grade),
                            gender: if n % 2 == 0 {
                                id::Gender::Female
                            } else {
                                id::Gender::Male
                            } as i32,
                            external_ref: student_ref(clients.seed, school, number, n),
                        })
                        .collect(),
                    guardians: chunk
                        .iter()
                        .filter(|_| shape.guardians)
                        .map(|&n| id::RosterGuardian {
                            full_name: format!("Phụ Huynh {name} Số {}", n + 1),
                            phone: format!("03{school:03}{number:02}{n:03}"),
                            external_ref: format!(
                                "G{}",
                                student_ref(clients.seed, school, number, n)
                            ),
                        })
                        .collect(),
                    links: chunk
                        .iter()
                        .filter(|_| shape.guardians)
                        .map(|&n| id::RosterLink {
                            student_ref: student_ref(clients.seed, school, number, n),
                            guardian_ref: format!(
                                "G{}",
                                student_ref(clients.seed, school, number, n)
                            ),
                            relation: id::Relation::Mother as i32,
                            ..Default::default()
                        })
                        .collect(),
                })?,
            )
            .await
            .with_context(|| format!("importing the students of {name}"))?
            .into_inner()
            .students;
        progress.inc(imported.len() as u64);
        students.extend(imported.into_iter().map(|student| student.id));
    }
    Ok(NewClass {
        school,
        id: class_id,
        students,
        teacher_person,
        teacher_username: format!("gv.b{}.s{school}.{}", clients.seed, name.to_lowercase()),
    })
}

/// A synthetic student's `external_ref`: unique in the district.
fn student_ref(seed: u64, school: usize, class: usize, number: usize) -> String {
    format!("B{seed}S{school:04}{class:02}{number:03}")
}

/// Issues the teachers' accounts and signs each teacher in: activation signs in a
/// new account; an account a previous run activated signs in with its password.
async fn sign_in_teachers(
    clients: &Clients<'_>,
    school_id: &str,
    classes: &[NewClass],
    concurrency: usize,
) -> anyhow::Result<Vec<Credentials>> {
    let usernames: BTreeMap<String, String> = classes
        .iter()
        .map(|class| (class.teacher_person.clone(), class.teacher_username.clone()))
        .collect();
    let issued = clients
        .auth
        .clone()
        .issue_accounts(
            clients.request(id::IssueAccountsRequest {
                request_id: clients.rid(&format!("accounts:{school_id}")),
                school_id: school_id.to_owned(),
                person_ids: classes
                    .iter()
                    .map(|class| class.teacher_person.clone())
                    .collect(),
                usernames,
                ..Default::default()
            })?,
        )
        .await
        .context("issuing the teachers' accounts")?
        .into_inner();
    let codes: HashMap<String, String> = issued
        .accounts
        .into_iter()
        .map(|account| (account.username, account.activation_code))
        .collect();
    futures::stream::iter(classes)
        .map(|class| {
            let code = codes
                .get(&class.teacher_username)
                .cloned()
                .unwrap_or_default();
            sign_in(clients, &class.teacher_username, code)
        })
        .buffered(concurrency)
        .try_collect()
        .await
}

async fn sign_in(
    clients: &Clients<'_>,
    username: &str,
    activation_code: String,
) -> anyhow::Result<Credentials> {
    let mut auth = clients.auth.clone();
    let tokens = if activation_code.is_empty() {
        auth.login(id::LoginRequest {
            username: username.to_owned(),
            password: PASSWORD.to_owned(),
        })
        .await
    } else {
        auth.activate_account(id::ActivateAccountRequest {
            username: username.to_owned(),
            activation_code,
            new_password: PASSWORD.to_owned(),
        })
        .await
    }
    .with_context(|| format!("signing in as {username}"))?
    .into_inner();
    Ok(Credentials::new(
        &clients.operator.identity_url,
        username,
        tokens,
    ))
}

/// The district office's admin, registered at the first school, who reads the
/// school and district summaries.
async fn district_admin(
    clients: &Clients<'_>,
    district: &str,
    school_id: &str,
) -> anyhow::Result<Credentials> {
    let username = format!("pgd.b{}", clients.seed);
    let person = clients
        .directory
        .clone()
        .register_staff(clients.request(id::RegisterStaffRequest {
            request_id: clients.rid("district-admin"),
            school_id: school_id.to_owned(),
            full_name: "Chuyên Viên Phòng Giáo Dục".into(),
            phone: "0907000000".into(),
            position: "Chuyên viên Phòng Giáo dục".into(),
            ..Default::default()
        })?)
        .await
        .context("registering the district admin")?
        .into_inner()
        .id;
    district_reader(
        clients,
        "district-admin",
        school_id,
        person,
        &username,
        id::Role::DistrictAdmin,
        district,
    )
    .await
}

/// Gives `person`, of the school, an account under `username` and `role` over the
/// district, and signs them in; `key` names the requests.
async fn district_reader(
    clients: &Clients<'_>,
    key: &str,
    school_id: &str,
    person: String,
    username: &str,
    role: id::Role,
    district: &str,
) -> anyhow::Result<Credentials> {
    let issued = clients
        .auth
        .clone()
        .issue_accounts(clients.request(id::IssueAccountsRequest {
            request_id: clients.rid(&format!("{key}:account")),
            school_id: school_id.to_owned(),
            person_ids: vec![person.clone()],
            usernames: BTreeMap::from([(person, username.to_owned())]),
            ..Default::default()
        })?)
        .await
        .with_context(|| format!("issuing the account of {username}"))?
        .into_inner()
        .accounts
        .pop()
        .with_context(|| format!("no account issued for {username}"))?;
    clients
        .auth
        .clone()
        .grant_role(clients.request(id::GrantRoleRequest {
            request_id: clients.rid(&format!("{key}:role")),
            account_id: issued.account_id,
            role: role as i32,
            scope_kind: id::ScopeKind::District as i32,
            scope_id: district.to_owned(),
        })?)
        .await
        .with_context(|| format!("granting {username} its role"))?;
    sign_in(clients, username, issued.activation_code).await
}

/// Where the services' consumers of identity's events can be watched.
pub(super) struct Projections<'a> {
    pub(super) nats_url: &'a str,
    pub(super) namespace: &'a str,
}

impl Projections<'_> {
    /// Waits until every consumer of identity's events has projected all of them,
    /// so that attendance knows each class's roster and reporting each class.
    pub(super) async fn wait(&self) -> anyhow::Result<()> {
        let (nats_url, namespace) = (self.nats_url, self.namespace);
        let client = crate::nats::connect(nats_url).await?;
        let jetstream = jetstream::new(client);
        let name = crate::events::stream_name(namespace, "identity");
        let stream = jetstream.get_stream(&name).await.with_context(|| {
            format!("the stream {name}: is identity running in this namespace?")
        })?;
        let started = Instant::now();
        let mut last_seen = None;
        let mut told = Instant::now();
        loop {
            let published = stream.get_info().await?.state.last_sequence;
            let mut pending = 0;
            let mut consumers = stream.consumers();
            while let Some(info) = consumers.try_next().await? {
                pending += info.num_pending + info.num_ack_pending as u64;
            }
            // Caught up twice with nothing published between: identity's relay has
            // nothing left either.
            if pending == 0 && last_seen == Some(published) {
                return Ok(());
            }
            last_seen = (pending == 0).then_some(published);
            if told.elapsed() > Duration::from_secs(30) {
                eprintln!("identity's events still to project: {pending}");
                told = Instant::now();
            }
            anyhow::ensure!(
                started.elapsed() < PROJECTION_TIMEOUT,
                "identity's events are still not projected after {} s ({pending} pending)",
                PROJECTION_TIMEOUT.as_secs()
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
}

/// The schools of a mirrored city's districts, ready for the morning: each
/// class's homeroom teacher given an account and signed in, and in each district
/// a leader of its first school made its district viewer, who reads the
/// summaries. As the operator, through identity's exports.
pub(super) async fn mirrored(
    operator: &Credentials,
    district_ids: &[String],
    projections: &Projections<'_>,
) -> anyhow::Result<District> {
    let channel = session::connect(&operator.identity_url).await?;
    let clients = Clients {
        operator,
        directory: DirectoryServiceClient::new(channel.clone()),
        auth: AuthServiceClient::new(channel),
        seed: 0,
    };
    let year = dates::school_year(dates::local_today());
    let started = Instant::now();
    let mut readers = Vec::with_capacity(district_ids.len());
    let mut schools = Vec::new();
    for district_id in district_ids {
        let export = clients
            .directory
            .clone()
            .export_district(clients.request(id::ExportDistrictRequest {
                district_id: district_id.clone(),
            })?)
            .await
            .with_context(|| format!("exporting district {district_id}"))?
            .into_inner();
        schools.extend(export.schools.into_iter().map(|school| School {
            id: school.id,
            district: readers.len(),
        }));
        let first = &schools.last().context("a district without schools")?.id;
        readers.push(Reader {
            district_id: district_id.clone(),
            credentials: district_viewer(&clients, district_id, first, &year).await?,
        });
    }
    let accounts = progress::bar(schools.len() as u64, "schools' teachers signed in");
    // A few schools at a time, each signing its teachers in at once.
    let per_school: Vec<Vec<Class>> = futures::stream::iter(schools.iter().enumerate())
        .map(|(index, school)| school_classes(&clients, index, school, &year, &accounts))
        .buffered(4)
        .try_collect()
        .await?;
    let classes: Vec<Class> = per_school.into_iter().flatten().collect();
    accounts.finish_and_clear();
    eprintln!(
        "{} homeroom teachers of {} schools signed in ({:.0} s)",
        classes.len(),
        schools.len(),
        started.elapsed().as_secs_f64()
    );
    projections.wait().await?;
    Ok(District {
        readers,
        schools,
        classes,
    })
}

/// A mirrored school's classes with a homeroom teacher, each teacher signed in.
async fn school_classes(
    clients: &Clients<'_>,
    index: usize,
    school: &School,
    year: &str,
    accounts: &indicatif::ProgressBar,
) -> anyhow::Result<Vec<Class>> {
    let export = clients
        .directory
        .clone()
        .export_school(clients.request(id::ExportSchoolRequest {
            school_id: school.id.clone(),
            school_year: year.to_owned(),
        })?)
        .await
        .with_context(|| format!("exporting school {}", school.id))?
        .into_inner();
    let mut students: HashMap<&str, Vec<String>> = HashMap::new();
    for student in &export.students {
        students
            .entry(student.class_id.as_str())
            .or_default()
            .push(student.id.clone());
    }
    let new_classes: Vec<NewClass> = export
        .classes
        .iter()
        .filter(|class| !class.homeroom_teacher_id.is_empty())
        .map(|class| NewClass {
            school: index,
            id: class.id.clone(),
            students: students.remove(class.id.as_str()).unwrap_or_default(),
            teacher_person: class.homeroom_teacher_id.clone(),
            teacher_username: format!("gv.{}", class.external_ref.to_lowercase()),
        })
        .collect();
    let teachers =
        sign_in_teachers(clients, &school.id, &new_classes, new_classes.len().max(1)).await?;
    accounts.inc(1);
    Ok(new_classes
        .into_iter()
        .zip(teachers)
        .map(|(class, teacher)| Class {
            school: class.school,
            id: class.id,
            students: class.students,
            teacher,
        })
        .collect())
}

/// A leader of the district's first school, given an account and the district
/// viewer's role.
async fn district_viewer(
    clients: &Clients<'_>,
    district_id: &str,
    school_id: &str,
    year: &str,
) -> anyhow::Result<Credentials> {
    let export = clients
        .directory
        .clone()
        .export_school(clients.request(id::ExportSchoolRequest {
            school_id: school_id.to_owned(),
            school_year: year.to_owned(),
        })?)
        .await
        .context("exporting a district's first school")?
        .into_inner();
    let teachers: std::collections::HashSet<&str> = export
        .classes
        .iter()
        .map(|class| class.homeroom_teacher_id.as_str())
        .collect();
    let person = export
        .staff
        .iter()
        .find(|staff| !teachers.contains(staff.id.as_str()))
        .context("a district's first school has no staff beside its homeroom teachers")?
        .id
        .clone();
    // The end of a time-ordered id tells districts made in one moment apart.
    let username = format!("pgd.{}", &district_id.replace('-', "")[20..]);
    district_reader(
        clients,
        &format!("viewer:{district_id}"),
        school_id,
        person,
        &username,
        id::Role::DistrictViewer,
        district_id,
    )
    .await
}
