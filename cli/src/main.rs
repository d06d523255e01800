//! `lienlac`: sign in, and drive and observe lienlac from a terminal.

// A command line program: the terminal is its user interface.
#![allow(clippy::print_stdout, clippy::print_stderr)]

/// mimalloc: the services allocate on one thread and free on another all the time
/// (messages, rows, requests), where glibc's allocator spends a third of a
/// rebuild's time consolidating and locking.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod attendance;
mod bench;
mod credentials;
mod dates;
mod directory;
mod events;
mod leave;
mod nats;
mod progress;
mod report;
mod seed;
mod session;
mod status;

use std::io::{BufRead as _, IsTerminal as _};
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use lienlac_proto::identity::v1 as id;
use lienlac_proto::identity::v1::auth_service_client::AuthServiceClient;

#[derive(Parser)]
#[command(
    name = "lienlac",
    version,
    about = "Drive and observe lienlac from a terminal"
)]
struct Cli {
    /// The identity service, where `login` signs in.
    #[arg(
        long,
        global = true,
        env = "LIENLAC_IDENTITY_URL",
        default_value = "http://127.0.0.1:50051"
    )]
    identity: String,
    /// The attendance service.
    #[arg(
        long,
        global = true,
        env = "LIENLAC_ATTENDANCE_URL",
        default_value = "http://127.0.0.1:50052"
    )]
    attendance: String,
    /// The reporting service.
    #[arg(
        long,
        global = true,
        env = "LIENLAC_REPORTING_URL",
        default_value = "http://127.0.0.1:50054"
    )]
    reporting: String,
    /// Print JSON, for scripts, instead of text.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Sign in and keep the session.
    ///
    /// The session is kept in the user's config directory and refreshed as needed.
    /// The password is asked for, or read from LIENLAC_PASSWORD, or from the first
    /// line of standard input when it is not a terminal.
    Login {
        /// A username, or a phone number as a guardian signs in with.
        username: String,
    },
    /// Show who is signed in: the account, the person and the roles.
    Whoami,
    /// End the session on the server and forget it here.
    Logout,
    /// Roll calls: take one, or show one as taken.
    Attendance {
        #[command(subcommand)]
        command: AttendanceCommand,
    },
    /// Leave requests: a guardian asks, the homeroom teacher or principal decides.
    Leave {
        #[command(subcommand)]
        command: LeaveCommand,
    },
    /// Attendance and adoption figures, and the month's attendance sheets.
    Report {
        #[command(subcommand)]
        command: ReportCommand,
    },
    /// Create data to try lienlac with, through the public APIs.
    Seed {
        #[command(subcommand)]
        command: SeedCommand,
    },
    /// The events lienlac publishes, as an external subscriber receives them.
    Events {
        #[command(subcommand)]
        command: EventsCommand,
    },
    /// Load generators that measure the whole system from the outside.
    Bench {
        #[command(subcommand)]
        command: BenchCommand,
    },
}

#[derive(Subcommand)]
enum BenchCommand {
    /// Morning roll-call waves from a synthetic district, measured beside raw
    /// Postgres and raw JetStream baselines taken in the same run.
    ///
    /// Run as the platform operator. The district is created through the public
    /// APIs (the same --seed makes the same district) and every class's homeroom
    /// teacher signs in; then, school morning after morning, each submits its
    /// class's roll call, --concurrency teachers at a time. Prints a table and
    /// writes the figures as JSON.
    Rollcall {
        #[arg(long, default_value_t = 4)]
        schools: usize,
        #[arg(long, default_value_t = 33)]
        classes_per_school: usize,
        #[arg(long, default_value_t = 35)]
        students_per_class: usize,
        /// Teachers submitting at the same moment.
        #[arg(long, default_value_t = 32)]
        concurrency: usize,
        /// School mornings of roll calls, each on its own date.
        #[arg(long, conflicts_with = "duration")]
        sessions: Option<usize>,
        /// Keep taking mornings' roll calls for this many seconds.
        #[arg(long)]
        duration: Option<u64>,
        /// Makes the synthetic district and the roll calls.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Seconds each raw baseline runs.
        #[arg(long, default_value_t = 5)]
        baseline_seconds: u64,
        /// Where to write the figures.
        #[arg(long, default_value = "target/bench/rollcall.json")]
        output: std::path::PathBuf,
        #[command(flatten)]
        system: BenchSystem,
        /// Attendance's schema, whose tables the raw Postgres baseline copies.
        #[arg(long, env = "ATTENDANCE_DB_SCHEMA", default_value = "attendance")]
        attendance_schema: String,
    },
    /// Remove a benchmark's own system (its database and its namespace's streams)
    /// before starting its services again.
    Reset {
        #[command(flatten)]
        system: BenchSystem,
    },
}

/// Where the measured system keeps its data: the baselines and the checks use them.
#[derive(clap::Args)]
struct BenchSystem {
    /// NATS, where the services publish.
    #[arg(
        long,
        env = "LIENLAC_NATS_URL",
        default_value = "nats://127.0.0.1:4322"
    )]
    nats: String,
    /// The services' namespace (LIENLAC_NAMESPACE), empty for none.
    #[arg(long, env = "LIENLAC_NAMESPACE", default_value = "")]
    namespace: String,
    /// The services' database.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/lienlac"
    )]
    database_url: String,
}

#[derive(Subcommand)]
enum AttendanceCommand {
    /// Submit a class's roll call: the students named are marked, everyone else
    /// is present. Submitting again corrects what changed.
    Submit {
        #[command(flatten)]
        roll_call: RollCallArgs,
        /// A student's code, absent: `<code>` (unexcused), `<code>:excused`,
        /// `<code>:unexcused` or `<code>:late`. Repeat for each student.
        #[arg(long = "absent", value_parser = attendance::mark)]
        marks: Vec<(String, lienlac_proto::attendance::v1::AttendanceStatus)>,
    },
    /// Show a roll call as taken: who was not present.
    Show {
        #[command(flatten)]
        roll_call: RollCallArgs,
    },
}

/// Which roll call: a class's, on a date, in a session.
#[derive(clap::Args)]
struct RollCallArgs {
    /// The class: its name in your school (`1A1`) or its id.
    #[arg(long)]
    class: String,
    #[arg(long, value_enum, default_value = "morning")]
    session: SessionArg,
    /// `YYYY-MM-DD`; today by default.
    #[arg(long, default_value_t = dates::today())]
    date: String,
}

#[derive(Subcommand)]
enum LeaveCommand {
    /// Ask for a student's leave; approved, it marks the days absent with leave.
    Request {
        /// The student's id; a guardian's only child by default.
        #[arg(long)]
        student: Option<String>,
        /// `YYYY-MM-DD`.
        #[arg(long)]
        from: String,
        /// `YYYY-MM-DD`; the same day as --from by default.
        #[arg(long)]
        to: Option<String>,
        /// Only this session of each day; both by default.
        #[arg(long, value_enum)]
        session: Option<SessionArg>,
        /// Why, as the school will read it.
        #[arg(long)]
        reason: String,
    },
    /// Approve or reject a leave request.
    #[command(group(clap::ArgGroup::new("decision").required(true)))]
    Decide {
        /// The leave request's id.
        leave_id: String,
        #[arg(long, group = "decision")]
        approve: bool,
        #[arg(long, group = "decision")]
        reject: bool,
        /// A word for the guardian.
        #[arg(long, default_value = "")]
        comment: String,
    },
    /// List leave requests of a class or a student, newest first.
    List {
        /// The class: its name in your school (`1A1`) or its id.
        #[arg(long, conflicts_with = "student")]
        class: Option<String>,
        /// The student's id; a guardian's only child by default.
        #[arg(long)]
        student: Option<String>,
        /// pending, approved or rejected; all by default.
        #[arg(long, value_parser = leave::status)]
        status: Option<lienlac_proto::attendance::v1::LeaveStatus>,
    },
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum SessionArg {
    Morning,
    Afternoon,
}

impl SessionArg {
    fn proto(self) -> lienlac_proto::attendance::v1::Session {
        match self {
            SessionArg::Morning => lienlac_proto::attendance::v1::Session::Morning,
            SessionArg::Afternoon => lienlac_proto::attendance::v1::Session::Afternoon,
        }
    }
}

#[derive(Subcommand)]
enum ReportCommand {
    /// A school's day: per session, the classes that took attendance (and those
    /// that have not), the counts by status and the absence rate.
    School {
        /// The school's id; the signed-in user's school by default.
        #[arg(long)]
        school: Option<String>,
        /// `YYYY-MM-DD`; today by default.
        #[arg(long, default_value_t = dates::today())]
        date: String,
    },
    /// A district's day: the same figures per school, and the district's totals.
    District {
        /// The district's id; the signed-in user's district by default.
        #[arg(long)]
        district: Option<String>,
        /// `YYYY-MM-DD`; today by default.
        #[arg(long, default_value_t = dates::today())]
        date: String,
    },
    /// A class's roll calls over a period, with who was not present.
    Class {
        /// The class's id.
        #[arg(long)]
        class: String,
        /// `YYYY-MM-DD`; today by default.
        #[arg(long, default_value_t = dates::today())]
        from: String,
        /// `YYYY-MM-DD`; today by default.
        #[arg(long, default_value_t = dates::today())]
        to: String,
    },
    /// How a school or a district uses lienlac over a period: staff accounts and
    /// sign-ins, homeroom teachers taking attendance daily, guardians activated.
    Adoption {
        /// The school's id; the signed-in user's school by default.
        #[arg(long)]
        school: Option<String>,
        /// The district's id, for a district's report.
        #[arg(long, conflicts_with = "school")]
        district: Option<String>,
        /// `YYYY-MM-DD`.
        #[arg(long)]
        from: String,
        /// `YYYY-MM-DD`; today by default.
        #[arg(long, default_value_t = dates::today())]
        to: String,
    },
    /// The month's attendance sheet of a class or a school, as a file.
    Export {
        /// The class's id.
        #[arg(long, required_unless_present = "school")]
        class: Option<String>,
        /// The school's id: every class of the school.
        #[arg(long, conflicts_with = "class")]
        school: Option<String>,
        /// `YYYY-MM`.
        #[arg(long)]
        month: String,
        #[arg(long, value_enum, default_value = "xlsx")]
        format: ExportFormat,
        /// The file to write; the service's file name in this directory by default.
        #[arg(short, long)]
        output: Option<std::path::PathBuf>,
    },
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum ExportFormat {
    Csv,
    Xlsx,
}

#[derive(Subcommand)]
enum SeedCommand {
    /// The demo district "Huyện Củ Chi" with two primary schools, their staff,
    /// classes, students and guardians, accounts (password `lienlac-demo`) and two
    /// weeks of roll calls. Run as the platform operator; running it again changes
    /// nothing.
    Demo {
        /// Where to list every demo account (username, role, scope).
        #[arg(long, default_value = "demo-accounts.csv")]
        accounts_file: std::path::PathBuf,
        /// A small demo (a class per grade of five students), for tests.
        #[arg(long, value_enum, default_value = "full", hide = true)]
        size: seed::Size,
    },
}

#[derive(Subcommand)]
enum EventsCommand {
    /// Print each event as it is published, decoded: type, subject, time, trace id
    /// and fields.
    Tail {
        /// NATS, where the events are published.
        #[arg(
            long,
            env = "LIENLAC_NATS_URL",
            default_value = "nats://127.0.0.1:4322"
        )]
        nats: String,
        /// A prefix of subjects and stream names, for a test or staging set-up.
        #[arg(long, env = "LIENLAC_NAMESPACE", default_value = "", hide = true)]
        namespace: String,
        /// Only this publisher's events (identity or attendance); both by default.
        #[arg(long, value_parser = events::PUBLISHERS)]
        service: Option<String>,
        /// Only events of this district (its id).
        #[arg(long)]
        district: Option<String>,
        /// Only events of this school (its id).
        #[arg(long)]
        school: Option<String>,
        /// Replay from this time (RFC 3339) before following; from now by default.
        #[arg(long, value_parser = rfc3339)]
        since: Option<time::OffsetDateTime>,
        /// Stop after this many events.
        #[arg(long)]
        count: Option<usize>,
    },
}

fn rfc3339(text: &str) -> Result<time::OffsetDateTime, String> {
    time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .map_err(|_| format!("{text:?} is not an RFC 3339 time such as 2025-10-01T07:00:00+07:00"))
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            let message = match error.downcast_ref::<tonic::Status>() {
                Some(status) => status::describe(status),
                None => format!("{error:#}"),
            };
            eprintln!("lienlac: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Login { username } => login(&cli.identity, &username, cli.json).await,
        Command::Whoami => whoami(cli.json).await,
        Command::Logout => logout().await,
        Command::Attendance { command } => {
            let roll_calls = attendance::RollCalls {
                url: cli.attendance,
                json: cli.json,
            };
            match command {
                AttendanceCommand::Submit { roll_call, marks } => {
                    roll_calls
                        .submit(
                            &roll_call.class,
                            roll_call.date,
                            roll_call.session.proto(),
                            marks,
                        )
                        .await
                }
                AttendanceCommand::Show { roll_call } => {
                    roll_calls
                        .show(&roll_call.class, roll_call.date, roll_call.session.proto())
                        .await
                }
            }
        }
        Command::Leave { command } => {
            let leaves = leave::Leaves {
                url: cli.attendance,
                json: cli.json,
            };
            match command {
                LeaveCommand::Request {
                    student,
                    from,
                    to,
                    session,
                    reason,
                } => {
                    let sessions = session.map(SessionArg::proto).into_iter().collect();
                    leaves.request(student, from, to, sessions, reason).await
                }
                LeaveCommand::Decide {
                    leave_id,
                    approve,
                    reject: _,
                    comment,
                } => leaves.decide(leave_id, approve, comment).await,
                LeaveCommand::List {
                    class,
                    student,
                    status,
                } => {
                    let status =
                        status.unwrap_or(lienlac_proto::attendance::v1::LeaveStatus::Unspecified);
                    leaves.list(class, student, status).await
                }
            }
        }
        Command::Report { command } => {
            let mut reports = report::Reports::connect(&cli.reporting, cli.json).await?;
            match command {
                ReportCommand::School { school, date } => reports.school(school, date).await,
                ReportCommand::District { district, date } => {
                    reports.district(district, date).await
                }
                ReportCommand::Class { class, from, to } => reports.class(class, from, to).await,
                ReportCommand::Adoption {
                    school,
                    district,
                    from,
                    to,
                } => reports.adoption(school, district, from, to).await,
                ReportCommand::Export {
                    class,
                    school,
                    month,
                    format,
                    output,
                } => {
                    let format = match format {
                        ExportFormat::Csv => lienlac_proto::reporting::v1::ExportFormat::Csv,
                        ExportFormat::Xlsx => lienlac_proto::reporting::v1::ExportFormat::Xlsx,
                    };
                    let request = lienlac_proto::reporting::v1::ExportAttendanceRequest {
                        class_id: class.unwrap_or_default(),
                        school_id: school.unwrap_or_default(),
                        month,
                        format: format as i32,
                    };
                    reports.export(request, output).await
                }
            }
        }
        Command::Seed {
            command:
                SeedCommand::Demo {
                    accounts_file,
                    size,
                },
        } => {
            seed::Seed {
                attendance_url: cli.attendance,
                size,
                accounts_file,
            }
            .run()
            .await
        }
        Command::Events {
            command:
                EventsCommand::Tail {
                    nats,
                    namespace,
                    service,
                    district,
                    school,
                    since,
                    count,
                },
        } => {
            events::Tail {
                nats_url: nats,
                namespace,
                services: match service {
                    Some(service) => vec![service],
                    None => events::PUBLISHERS.map(str::to_owned).to_vec(),
                },
                district,
                school,
                since,
                count,
                json: cli.json,
            }
            .run()
            .await
        }
        Command::Bench {
            command:
                BenchCommand::Rollcall {
                    schools,
                    classes_per_school,
                    students_per_class,
                    concurrency,
                    sessions,
                    duration,
                    seed,
                    baseline_seconds,
                    output,
                    system,
                    attendance_schema,
                },
        } => {
            let length = match (sessions, duration) {
                (_, Some(seconds)) => {
                    bench::Length::Duration(std::time::Duration::from_secs(seconds))
                }
                (sessions, None) => bench::Length::Sessions(sessions.unwrap_or(1)),
            };
            bench::Rollcall {
                attendance_url: cli.attendance,
                reporting_url: cli.reporting,
                nats_url: system.nats,
                namespace: system.namespace,
                database_url: system.database_url,
                attendance_schema,
                shape: bench::Shape {
                    schools,
                    classes_per_school,
                    students_per_class,
                },
                concurrency,
                length,
                seed,
                baseline: std::time::Duration::from_secs(baseline_seconds),
                output,
                json: cli.json,
            }
            .run()
            .await
        }
        Command::Bench {
            command: BenchCommand::Reset { system },
        } => bench::reset(&system.nats, &system.namespace, &system.database_url).await,
    }
}

async fn login(identity_url: &str, username: &str, json: bool) -> anyhow::Result<()> {
    let password = password()?;
    let mut auth = AuthServiceClient::new(session::connect(identity_url).await?);
    let tokens = auth
        .login(id::LoginRequest {
            username: username.to_owned(),
            password,
        })
        .await?
        .into_inner();
    let credentials = credentials::Credentials::new(identity_url, username, tokens);
    credentials::save(&credentials)?;
    if json {
        println!("{}", serde_json::json!({ "signed_in": username }));
    } else {
        println!("signed in as {username}");
    }
    Ok(())
}

/// From LIENLAC_PASSWORD, a prompt without echo, or standard input.
fn password() -> anyhow::Result<String> {
    if let Ok(password) = std::env::var("LIENLAC_PASSWORD") {
        return Ok(password);
    }
    let stdin = std::io::stdin();
    let interactive = stdin.is_terminal();
    if interactive {
        eprint!("password: ");
        echo(false);
    }
    let mut line = String::new();
    let read = stdin.lock().read_line(&mut line);
    if interactive {
        echo(true);
        eprintln!();
    }
    read.context("reading the password")?;
    let password = line.trim_end_matches(['\r', '\n']).to_owned();
    anyhow::ensure!(!password.is_empty(), "no password given");
    Ok(password)
}

/// Turns the terminal's echo off or on, so a typed password is not shown.
fn echo(on: bool) {
    let _ = std::process::Command::new("stty")
        .arg(if on { "echo" } else { "-echo" })
        .stdin(std::process::Stdio::inherit())
        .status();
}

async fn whoami(json: bool) -> anyhow::Result<()> {
    let credentials = session::current().await?;
    let me = directory::Directory::connect(&credentials)
        .await?
        .who_am_i()
        .await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&me)?);
        return Ok(());
    }
    let account = me.account.unwrap_or_default();
    println!("{} (account {})", account.username, account.id);
    match me.person {
        Some(person) => println!("{}, {}", person.full_name, kind_name(person.kind)),
        None => println!("platform account, no person"),
    }
    for role in me.roles {
        let name = id::Role::try_from(role.role).map_or("unknown role", |r| r.as_str_name());
        let scope =
            id::ScopeKind::try_from(role.scope_kind).map_or("unknown scope", |s| s.as_str_name());
        println!(
            "  {:<28} {:<22} {}",
            name.trim_start_matches("ROLE_").to_lowercase(),
            scope.trim_start_matches("SCOPE_KIND_").to_lowercase(),
            role.scope_id
        );
    }
    Ok(())
}

fn kind_name(kind: i32) -> &'static str {
    match id::PersonKind::try_from(kind) {
        Ok(id::PersonKind::Staff) => "staff",
        Ok(id::PersonKind::Guardian) => "guardian",
        Ok(id::PersonKind::Student) => "student",
        _ => "person",
    }
}

async fn logout() -> anyhow::Result<()> {
    let Some(credentials) = credentials::load()? else {
        println!("not signed in");
        return Ok(());
    };
    // Ending the session on the server is best effort: the local one goes anyway.
    if let Ok(channel) = session::connect(&credentials.identity_url).await {
        let _ = AuthServiceClient::new(channel)
            .logout(id::LogoutRequest {
                refresh_token: credentials.refresh_token.clone(),
            })
            .await;
    }
    credentials::forget()?;
    println!("signed out");
    Ok(())
}
