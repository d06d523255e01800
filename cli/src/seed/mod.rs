//! `lienlac seed demo`: the demo district, through the public APIs as the
//! signed-in platform operator. The sync service mirrors its people from the city
//! database (the simulator's demo files); the seed then does what a school rolling
//! lienlac out would. Every request carries a request id derived from what it
//! creates, so running the seed again replays the first answers and changes
//! nothing.

mod accounts;
mod messaging;
mod mirror;
pub(crate) mod plan;
mod roll_calls;
mod usernames;

use std::fmt::Write as _;

use anyhow::Context as _;
use lienlac_proto::identity::v1 as id;
use lienlac_proto::identity::v1::auth_service_client::AuthServiceClient;
use lienlac_proto::identity::v1::directory_service_client::DirectoryServiceClient;
use tonic::transport::Channel;

use crate::credentials::Credentials;
use crate::dates;
use crate::session;

use plan::school_days;

/// Every demo account's password.
pub(crate) const PASSWORD: &str = "lienlac-demo";
/// The guardian the demo's steps sign in as: the first guardian of Tân Thông
/// 1A1's first student in the city database's demo files.
const DEMO_GUARDIAN: &str = "0900000001";
/// Requests in flight at once.
const CONCURRENCY: usize = 8;

/// How much of the demo to create: all of it, or a little (for tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Size {
    Full,
    Small,
}

/// One line of `demo-accounts.csv`.
struct DemoAccount {
    username: String,
    role: &'static str,
    scope: String,
}

pub(crate) struct Seed {
    pub(crate) attendance_url: String,
    pub(crate) messaging_url: String,
    pub(crate) sync_url: String,
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

/// A school and who leads it.
struct SeededSchool {
    id: String,
    principal: String,
    it_officer: Option<String>,
}

/// A class and who is in it.
struct SeededClass {
    id: String,
    /// Its school, as its place in the seeded schools.
    school: usize,
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
        let today = dates::local_today();
        let year = dates::school_year(today);
        let mut accounts = vec![DemoAccount {
            username: clients.credentials.username.clone(),
            role: "operator",
            scope: "platform".to_owned(),
        }];

        let mirrored = mirror::mirror(&clients, &self.sync_url, &year).await?;
        let district_admin = self
            .office_accounts(&clients, &mirrored, &mut accounts)
            .await?
            .context("the city database lists no staff of the demo unit's office")?;
        let mut schools = Vec::new();
        let mut classes = Vec::new();
        for (number, school) in mirrored.schools.iter().enumerate() {
            let (seeded, seeded_classes) = self
                .school_accounts(&clients, number, school, &mut accounts)
                .await?;
            schools.push(seeded);
            classes.extend(seeded_classes);
        }
        let days = school_days(today, self.days());
        let last_month = plan::previous_month(today);
        self.attendance(&classes, &days, &last_month, &clients.credentials)
            .await?;
        self.messaging(&schools, &classes, &clients.credentials, today)
            .await?;
        self.write_accounts(&accounts)?;
        eprintln!(
            "done: {} accounts listed in {}; every password is {PASSWORD}",
            accounts.len(),
            self.accounts_file.display()
        );
        let first = mirrored
            .schools
            .first()
            .context("the city database holds no school of the demo's unit")?;
        let code = first_student_code(first, "1A1")?;
        let yesterday = today.previous_day().unwrap_or(today);
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
            (
                "lienlac message send --to 1A1 --text 'Chào các phụ huynh'".to_owned(),
                "a message to the class's group",
            ),
            (
                "lienlac post send --class 1A1 --title 'Giờ ra chơi' --body 'Các em chơi kéo co.'".to_owned(),
                "class news, waiting for a moderator",
            ),
            ("lienlac login ht.tanthong".to_owned(), "the principal"),
            (
                "lienlac moderate queue".to_owned(),
                "posts waiting; `lienlac moderate approve <id>` or `reject <id> --reason ...`",
            ),
            (
                "lienlac announce send --class 1A1 --title 'Họp phụ huynh' --body 'Thứ Bảy 8 giờ' --confirm".to_owned(),
                "an announcement asking for confirmation",
            ),
            (
                "lienlac report school".to_owned(),
                "today's figures of Tân Thông",
            ),
            (
                format!(
                    "lienlac report adoption --from {} --to {yesterday}",
                    days.first().unwrap_or(&yesterday)
                ),
                "the usage report of the two weeks the demo took attendance",
            ),
            (
                "lienlac sync push-status --month ".to_owned() + &last_month,
                "the month's totals each class sent to the city database",
            ),
            (
                format!("lienlac login {district_admin}"),
                "the commune's officer, whom the schools report to",
            ),
            (
                "lienlac sync status".to_owned(),
                "the commune's mirror of the city database, with its row errors",
            ),
            (
                format!("lienlac login {DEMO_GUARDIAN}"),
                "a guardian of a 1A1 student",
            ),
            (
                "lienlac inbox".to_owned(),
                "the class group; `lienlac message list <its id>` reads it",
            ),
            (
                "lienlac notices".to_owned(),
                "the child's absences, as the school told them",
            ),
            (
                "lienlac announce list".to_owned(),
                "the announcement; `lienlac announce read <id> --confirm`",
            ),
            (
                "lienlac timetable show".to_owned(),
                "the child's timetable this week (`menu show`, `plan show` too)",
            ),
            (
                "lienlac post list".to_owned(),
                "the school's and the class's news the guardian may read",
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

    /// Signs in as a demo account.
    async fn sign_in(
        auth: &mut AuthServiceClient<Channel>,
        identity_url: &str,
        username: &str,
    ) -> anyhow::Result<Credentials> {
        let tokens = auth
            .login(id::LoginRequest {
                username: username.to_owned(),
                password: PASSWORD.to_owned(),
            })
            .await
            .with_context(|| format!("signing in as {username}"))?
            .into_inner();
        Ok(Credentials::new(identity_url, username, tokens))
    }

    fn days(&self) -> usize {
        match self.size {
            Size::Full => 10,
            Size::Small => 2,
        }
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

/// The city database's code of the first student (by code) of a class.
fn first_student_code(school: &mirror::MirroredSchool, class: &str) -> anyhow::Result<String> {
    let class_id = &school
        .export
        .classes
        .iter()
        .find(|c| c.name == class)
        .with_context(|| format!("{} has no class {class}", school.school.name))?
        .id;
    school
        .export
        .students
        .iter()
        .filter(|student| &student.class_id == class_id)
        .map(|student| student.external_ref.clone())
        .min()
        .with_context(|| format!("{class} of {} has no student", school.school.name))
}
