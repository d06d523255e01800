//! `lienlac seed demo`: the demo district, created through the public APIs as the
//! signed-in platform operator. Every request carries a request id derived from
//! what it creates, so running the seed again replays the first answers and
//! changes nothing.

mod messaging;
mod people;
pub(crate) mod plan;
mod roll_calls;

use std::fmt::Write as _;

use anyhow::Context as _;
use lienlac_proto::identity::v1 as id;
use lienlac_proto::identity::v1::auth_service_client::AuthServiceClient;
use lienlac_proto::identity::v1::directory_service_client::DirectoryServiceClient;
use tonic::transport::Channel;

use crate::credentials::Credentials;
use crate::dates;
use crate::session;

use plan::{SCHOOLS, rid, school_days, student_code};

/// Every demo account's password.
pub(crate) const PASSWORD: &str = "lienlac-demo";
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
    /// Its school, as its place in `SCHOOLS`.
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
        self.messaging(&classes, &clients.credentials, today)
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
                format!("lienlac report adoption --from {month}"),
                "the usage report for the district office",
            ),
            (
                "lienlac login 0900000001".to_owned(),
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
