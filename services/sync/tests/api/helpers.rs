//! Identity, the city database simulator and the sync service in one test world;
//! the directory compared with the source from outside, through identity's API.

#![allow(dead_code)]

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::Duration;

use citydb_sim::generate::{self, SchoolSpec, Spec};
use citydb_sim::model::Unit;
use citydb_sim::{City, Faults, Simulator};
use kernel::config::ServiceId;
use kernel::testing::{TestWorld, channel, eventually};
use lienlac_proto::attendance::v1::attendance_service_client::AttendanceServiceClient;
use lienlac_proto::identity::v1 as id;
use lienlac_proto::identity::v1::auth_service_client::AuthServiceClient;
use lienlac_proto::identity::v1::directory_service_client::DirectoryServiceClient;
use lienlac_proto::reporting::v1::reporting_service_client::ReportingServiceClient;
use lienlac_proto::sync::v1 as pb;
use lienlac_proto::sync::v1::sync_service_client::SyncServiceClient;
use lienlac_test_support::{ADMIN_PASSWORD, SYNC_SECRET, start_identity};
pub use lienlac_test_support::{rid, with_token};
use secrecy::SecretString;
use tokio_util::sync::CancellationToken;
use tonic::transport::Channel;

pub const CLIENT_SECRET: &str = "city-client-secret";
pub const UNIT: &str = "79-TEST";

/// A commune of the source with one school: classes in grades 1 to 3, its staff,
/// its students and their guardians, with a real source's faults (a student
/// listed twice, a guardian without a phone number, a birth date of 30 February).
pub fn small_city(school_year: &str) -> City {
    generate::generate(&Spec {
        units: vec![Unit {
            code: UNIT.to_owned(),
            name: "Phường Thử Nghiệm".to_owned(),
            version: 1,
        }],
        schools: vec![SchoolSpec {
            code: "79999001".to_owned(),
            name: "Trường Tiểu học Thử Nghiệm".to_owned(),
            unit_code: UNIT.to_owned(),
            classes: [2, 1, 1, 0, 0],
            staff: 9,
        }],
        office_staff: 1,
        school_year: school_year.to_owned(),
        dirty: true,
    })
}

pub fn school_year() -> String {
    school::dates::school_year_of(school::dates::local_today())
}

pub const NO_SCHEDULE: sync::Schedule = sync::Schedule {
    incremental_every: None,
    nightly_at: None,
};

pub struct Stack {
    pub world: TestWorld,
    schedule: sync::Schedule,
    pub simulator: Simulator,
    pub identity_addr: SocketAddr,
    pub operator: String,
    sync_addr: SocketAddr,
    /// The sync service's own schema.
    pub sync_pool: sqlx::PgPool,
    sync_stop: CancellationToken,
    stop: CancellationToken,
}

impl Drop for Stack {
    fn drop(&mut self) {
        self.sync_stop.cancel();
        self.stop.cancel();
    }
}

/// Where a test's sync service finds dropped files.
pub fn drop_dir(world: &TestWorld) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("lienlac-sync-{}", world.namespace));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A sync service in `world`, reading `simulator` with short timeouts, with the
/// runs `schedule` starts (none unless a test says).
async fn start_sync(
    world: &TestWorld,
    identity: SocketAddr,
    simulator: &Simulator,
    schedule: sync::Schedule,
    stop: &CancellationToken,
) -> (SocketAddr, sqlx::PgPool) {
    let mut config = world.config(ServiceId::SYNC);
    config.identity_url = format!("http://{identity}");
    let mut settings = sync::Settings::defaults(config);
    settings.service_secret = Some(SecretString::from(SYNC_SECRET));
    let mut citydb = sync::config::CityDbSettings::new(
        &simulator.url(),
        citydb_sim::DEFAULT_CLIENT_ID,
        SecretString::from(CLIENT_SECRET),
    );
    citydb.timeout = Duration::from_millis(700);
    citydb.page = 20;
    settings.citydb = Some(citydb);
    settings.run_lease = Duration::from_secs(1);
    settings.drop_dir = drop_dir(world);
    settings.push_every = Duration::from_millis(200);
    settings.schedule = schedule;
    let app = sync::Application::build(settings).await.unwrap();
    let addr = app.grpc_addr();
    let pool = app.pool().clone();
    tokio::spawn(app.run_until_stopped(stop.clone()));
    (addr, pool)
}

impl Stack {
    pub async fn start(city: City, faults: Faults) -> Self {
        Self::start_with(city, faults, NO_SCHEDULE).await
    }

    pub async fn start_with(city: City, faults: Faults, schedule: sync::Schedule) -> Self {
        let world = TestWorld::new();
        let stop = CancellationToken::new();
        let identity_addr = start_identity(&world, &stop).await;
        let simulator = Simulator::start(
            city,
            citydb_sim::Settings {
                bind: "127.0.0.1:0".parse().unwrap(),
                client_id: citydb_sim::DEFAULT_CLIENT_ID.to_owned(),
                client_secret: CLIENT_SECRET.to_owned(),
                token_lifetime: Duration::from_secs(3600),
                faults,
            },
            stop.clone(),
        )
        .await
        .unwrap();
        let sync_stop = CancellationToken::new();
        let (sync_addr, sync_pool) =
            start_sync(&world, identity_addr, &simulator, schedule, &sync_stop).await;
        let operator = AuthServiceClient::new(channel(identity_addr))
            .login(id::LoginRequest {
                username: "admin".into(),
                password: ADMIN_PASSWORD.into(),
            })
            .await
            .unwrap()
            .into_inner()
            .access_token;
        Self {
            world,
            schedule,
            simulator,
            identity_addr,
            operator,
            sync_addr,
            sync_pool,
            sync_stop,
            stop,
        }
    }

    /// Stops the sync service as a crash would (mid-run) and starts another.
    pub async fn restart_sync(&mut self) {
        self.sync_stop.cancel();
        self.sync_stop = CancellationToken::new();
        (self.sync_addr, self.sync_pool) = start_sync(
            &self.world,
            self.identity_addr,
            &self.simulator,
            self.schedule,
            &self.sync_stop,
        )
        .await;
    }

    /// Attendance in the same world, and its pool.
    pub async fn start_attendance(&self) -> (AttendanceServiceClient<Channel>, sqlx::PgPool) {
        let mut config = self.world.config(ServiceId::ATTENDANCE);
        config.identity_url = format!("http://{}", self.identity_addr);
        let app = attendance::Application::build(attendance::Settings::defaults(config))
            .await
            .unwrap();
        let addr = app.grpc_addr();
        let pool = app.pool().clone();
        tokio::spawn(app.run_until_stopped(self.stop.clone()));
        (AttendanceServiceClient::new(channel(addr)), pool)
    }

    /// Reporting in the same world.
    pub async fn start_reporting(&self) -> ReportingServiceClient<Channel> {
        let mut config = self.world.config(ServiceId::REPORTING);
        config.identity_url = format!("http://{}", self.identity_addr);
        let app = reporting::Application::build(reporting::Settings::defaults(config))
            .await
            .unwrap();
        let addr = app.grpc_addr();
        tokio::spawn(app.run_until_stopped(self.stop.clone()));
        ReportingServiceClient::new(channel(addr))
    }

    pub fn sync(&self) -> SyncServiceClient<Channel> {
        SyncServiceClient::new(channel(self.sync_addr))
    }

    pub fn directory(&self) -> DirectoryServiceClient<Channel> {
        DirectoryServiceClient::new(channel(self.identity_addr))
    }

    pub async fn start_run(&self, request: pb::StartSyncRunRequest) -> pb::SyncRun {
        self.sync()
            .start_sync_run(with_token(request, &self.operator))
            .await
            .unwrap()
            .into_inner()
    }

    pub async fn run_of_unit(&self, dry_run: bool) -> pb::SyncRun {
        self.start_run(pb::StartSyncRunRequest {
            request_id: rid(),
            unit_code: UNIT.to_owned(),
            mode: pb::SyncMode::Full as i32,
            dry_run,
            ..Default::default()
        })
        .await
    }

    /// The run once it has ended, with all its changes.
    pub async fn finished(&self, run: &pb::SyncRun) -> pb::SyncRun {
        let finished = eventually("the sync run ends", Duration::from_secs(90), || async {
            let run = self
                .sync()
                .get_sync_run(with_token(
                    pb::GetSyncRunRequest {
                        run_id: run.id.clone(),
                        limit: 10_000,
                    },
                    &self.operator,
                ))
                .await
                .ok()?
                .into_inner();
            (run.state != pb::SyncRunState::Running as i32).then_some(run)
        })
        .await;
        assert_eq!(
            finished.state,
            pb::SyncRunState::Completed as i32,
            "{}",
            finished.failure
        );
        finished
    }

    pub async fn export_school(&self, school_id: &str) -> id::SchoolExport {
        self.directory()
            .export_school(with_token(
                id::ExportSchoolRequest {
                    school_id: school_id.to_owned(),
                    school_year: school_year(),
                },
                &self.operator,
            ))
            .await
            .unwrap()
            .into_inner()
    }

    pub async fn export_district(&self, district_id: &str) -> id::DistrictExport {
        self.directory()
            .export_district(with_token(
                id::ExportDistrictRequest {
                    district_id: district_id.to_owned(),
                },
                &self.operator,
            ))
            .await
            .unwrap()
            .into_inner()
    }
}

/// What the directory must hold of a school for the source: its classes, staff,
/// the students it can mirror in their classes (not one born on a date that is
/// no date), and their guardians who have a phone number, linked.
#[derive(Debug, PartialEq, Eq)]
pub struct Mirrored {
    pub classes: BTreeSet<(String, String)>,
    pub staff: BTreeSet<(String, String)>,
    pub students: BTreeSet<(String, String, String)>,
    pub links: BTreeSet<(String, String)>,
    pub homerooms: BTreeSet<(String, String)>,
}

pub fn expected(city: &City, school_code: &str) -> Mirrored {
    let valid_date = |text: &str| kernel::dates::parse(text).is_some();
    let students: Vec<_> = city
        .students
        .iter()
        .filter(|s| {
            s.school_code == school_code && s.status == "studying" && valid_date(&s.birth_date)
        })
        .collect();
    Mirrored {
        classes: city
            .classes
            .iter()
            .filter(|c| c.school_code == school_code)
            .map(|c| (c.code.clone(), c.name.clone()))
            .collect(),
        staff: city
            .staff
            .iter()
            .filter(|s| s.school_code == school_code)
            .map(|s| (s.code.clone(), s.full_name.clone()))
            .collect(),
        students: students
            .iter()
            .map(|s| (s.code.clone(), s.full_name.clone(), s.class_code.clone()))
            .collect(),
        links: students
            .iter()
            .flat_map(|s| {
                s.guardians
                    .iter()
                    .filter(|g| !city.guardians[&g.guardian_code].phone.is_empty())
                    .map(|g| (s.code.clone(), g.guardian_code.clone()))
            })
            .collect(),
        homerooms: city
            .classes
            .iter()
            .filter(|c| c.school_code == school_code)
            .map(|c| (c.code.clone(), c.homeroom_teacher_code.clone()))
            .collect(),
    }
}

pub fn held(export: &id::SchoolExport) -> Mirrored {
    let class_ref = |id: &str| {
        export
            .classes
            .iter()
            .find(|c| c.id == id)
            .map(|c| c.external_ref.clone())
            .unwrap_or_default()
    };
    let staff_ref = |id: &str| {
        export
            .staff
            .iter()
            .find(|s| s.id == id)
            .map(|s| s.external_ref.clone())
            .unwrap_or_default()
    };
    let guardian_ref = |id: &str| {
        export
            .guardians
            .iter()
            .find(|g| g.id == id)
            .map(|g| g.external_ref.clone())
            .unwrap_or_default()
    };
    let studying: Vec<&id::Person> = export
        .students
        .iter()
        .filter(|s| !s.class_id.is_empty())
        .collect();
    Mirrored {
        classes: export
            .classes
            .iter()
            .map(|c| (c.external_ref.clone(), c.name.clone()))
            .collect(),
        staff: export
            .staff
            .iter()
            .map(|s| (s.external_ref.clone(), s.full_name.clone()))
            .collect(),
        students: studying
            .iter()
            .map(|s| {
                (
                    s.external_ref.clone(),
                    s.full_name.clone(),
                    class_ref(&s.class_id),
                )
            })
            .collect(),
        links: studying
            .iter()
            .flat_map(|s| {
                s.guardianships
                    .iter()
                    .map(|g| (s.external_ref.clone(), guardian_ref(&g.guardian_id)))
            })
            .collect(),
        homerooms: export
            .classes
            .iter()
            .map(|c| (c.external_ref.clone(), staff_ref(&c.homeroom_teacher_id)))
            .collect(),
    }
}
