//! `lienlac`: sign in, and drive and observe lienlac from a terminal.

// A command line program: the terminal is its user interface.
#![allow(clippy::print_stdout, clippy::print_stderr)]

/// mimalloc: the services allocate on one thread and free on another all the time
/// (messages, rows, requests), where glibc's allocator spends a third of a
/// rebuild's time consolidating and locking.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod account;
mod args;
mod attendance;
mod bench;
mod bulletins;
mod credentials;
mod dates;
mod directory;
mod events;
mod leave;
mod messaging;
mod nats;
mod posts;
mod progress;
mod report;
mod seed;
mod session;
mod status;
mod sync;
mod trace;

use std::process::ExitCode;

use clap::Parser as _;
use lienlac_proto::messaging::v1::BulletinKind;

use account::{login, logout, whoami};
use args::{
    AnnounceCommand, AttendanceCommand, BenchCommand, BulletinCommand, Classification, Cli,
    Command, EventsCommand, ExportFormat, LeaveCommand, MessageCommand, Missing, ModerateCommand,
    PostCommand, ReportCommand, SeedCommand, SessionArg, SyncCommand, TraceCommand,
};

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

fn messaging(cli: &Cli) -> messaging::Messaging {
    messaging::Messaging {
        url: cli.messaging.clone(),
        json: cli.json,
    }
}

async fn bulletin(cli: &Cli, kind: BulletinKind, command: &BulletinCommand) -> anyhow::Result<()> {
    match command {
        BulletinCommand::Show { class, child, date } => {
            messaging(cli)
                .show_bulletin(kind, class.as_deref(), child.clone(), date.clone())
                .await
        }
        BulletinCommand::Publish {
            class,
            from,
            file,
            classification,
        } => {
            let classification = Classification::proto(*classification);
            messaging(cli)
                .publish_bulletin(kind, class.as_deref(), from.clone(), file, classification)
                .await
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Login { username } => login(&cli.identity, &username, cli.json).await,
        Command::Whoami => whoami(cli.json).await,
        Command::Sync { command } => {
            let runs = sync::Runs {
                url: cli.sync,
                json: cli.json,
            };
            match command {
                SyncCommand::Plan { scope, file, out } => runs.plan(scope, file, out).await,
                SyncCommand::Apply {
                    scope,
                    file,
                    incremental,
                } => runs.apply(scope, file, incremental).await,
                SyncCommand::Status {
                    run,
                    district,
                    school,
                } => runs.status(run, district, school).await,
                SyncCommand::Drift { district, school } => runs.drift(district, school).await,
                SyncCommand::PushStatus { school, month } => runs.push_status(school, month).await,
            }
        }
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
        Command::Inbox => messaging(&cli).inbox().await,
        Command::Notices => messaging(&cli).notices().await,
        Command::Message { ref command } => match command {
            MessageCommand::Send { to, text } => messaging(&cli).send(to, text.clone()).await,
            MessageCommand::List { conversation } => messaging(&cli).list(conversation).await,
        },
        Command::Post { ref command } => match command {
            PostCommand::Send {
                class,
                title,
                body,
                classification,
            } => {
                let classification = Classification::proto(*classification);
                messaging(&cli)
                    .submit_post(
                        class.as_deref(),
                        title.clone(),
                        body.clone(),
                        classification,
                    )
                    .await
            }
            PostCommand::List { class, mine } => {
                messaging(&cli).posts(class.as_deref(), *mine).await
            }
        },
        Command::Moderate { ref command } => match command {
            ModerateCommand::Queue => messaging(&cli).moderation_queue().await,
            ModerateCommand::Approve { post_id, reason } => {
                messaging(&cli)
                    .moderate(post_id.clone(), true, reason.clone())
                    .await
            }
            ModerateCommand::Reject { post_id, reason } => {
                messaging(&cli)
                    .moderate(post_id.clone(), false, reason.clone())
                    .await
            }
        },
        Command::Timetable { ref command } => {
            bulletin(&cli, BulletinKind::Timetable, command).await
        }
        Command::Menu { ref command } => bulletin(&cli, BulletinKind::Menu, command).await,
        Command::Plan { ref command } => {
            bulletin(&cli, BulletinKind::CurriculumPlan, command).await
        }
        Command::Announce { ref command } => {
            let messaging = messaging(&cli);
            match command {
                AnnounceCommand::Send {
                    class,
                    school: _,
                    district,
                    title,
                    body,
                    confirm,
                    emergency,
                    classification,
                } => {
                    let audience = match (class, district) {
                        (Some(class), _) => messaging::Audience::Class(class.clone()),
                        (None, true) => messaging::Audience::District,
                        (None, false) => messaging::Audience::School,
                    };
                    let classification = Classification::proto(*classification);
                    let asks = messaging::Asks {
                        confirm: *confirm,
                        emergency: *emergency,
                    };
                    messaging
                        .announce(audience, (title, body), asks, classification)
                        .await
                }
                AnnounceCommand::List => messaging.announcements().await,
                AnnounceCommand::Read {
                    announcement_id,
                    confirm,
                } => messaging.read(announcement_id.clone(), *confirm).await,
                AnnounceCommand::Receipts {
                    announcement_id,
                    missing,
                } => {
                    let missing = match missing {
                        Some(Missing::NotRead) => {
                            lienlac_proto::messaging::v1::RecipientFilter::NotRead
                        }
                        Some(Missing::NotConfirmed) => {
                            lienlac_proto::messaging::v1::RecipientFilter::NotAcknowledged
                        }
                        None => lienlac_proto::messaging::v1::RecipientFilter::Unspecified,
                    };
                    messaging.receipts(announcement_id.clone(), missing).await
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
                messaging_url: cli.messaging,
                sync_url: cli.sync,
                size,
                accounts_file,
            }
            .run()
            .await
        }
        Command::Trace {
            command: TraceCommand::Tail { listen, count },
        } => {
            trace::Tail {
                listen,
                count,
                json: cli.json,
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
                    guardians: false,
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
            command:
                BenchCommand::Mirror {
                    city_schools,
                    sync,
                    output,
                    concurrency,
                    rollcall_output,
                    system,
                },
        } => {
            bench::Mirror {
                sync_url: sync,
                nats_url: system.nats,
                namespace: system.namespace,
                database_url: system.database_url,
                city_schools,
                output,
                json: cli.json,
                attendance_url: cli.attendance,
                reporting_url: cli.reporting,
                concurrency,
                rollcall_output,
            }
            .run()
            .await
        }
        Command::Bench {
            command:
                BenchCommand::Chaos {
                    schools,
                    classes_per_school,
                    students_per_class,
                    rate,
                    concurrency,
                    rounds,
                    quiet_seconds,
                    seed,
                    only,
                    faults_program,
                    output,
                    system,
                },
        } => {
            bench::Chaos {
                attendance_url: cli.attendance,
                reporting_url: cli.reporting,
                nats_url: system.nats,
                namespace: system.namespace,
                database_url: system.database_url,
                shape: bench::Shape {
                    schools,
                    classes_per_school,
                    students_per_class,
                    guardians: true,
                },
                rate,
                concurrency,
                rounds,
                quiet: std::time::Duration::from_secs(quiet_seconds),
                seed,
                only,
                faults_program,
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
