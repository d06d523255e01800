//! The command line's arguments: every command and option, with clap.

use clap::{Parser, Subcommand};

use crate::{attendance, dates, events, leave, seed};

#[derive(Parser)]
#[command(
    name = "lienlac",
    version,
    about = "Drive and observe lienlac from a terminal"
)]
pub(crate) struct Cli {
    /// The identity service, where `login` signs in.
    #[arg(
        long,
        global = true,
        env = "LIENLAC_IDENTITY_URL",
        default_value = "http://127.0.0.1:50051"
    )]
    pub(crate) identity: String,
    /// The attendance service.
    #[arg(
        long,
        global = true,
        env = "LIENLAC_ATTENDANCE_URL",
        default_value = "http://127.0.0.1:50052"
    )]
    pub(crate) attendance: String,
    /// The messaging service.
    #[arg(
        long,
        global = true,
        env = "LIENLAC_MESSAGING_URL",
        default_value = "http://127.0.0.1:50053"
    )]
    pub(crate) messaging: String,
    /// The reporting service.
    #[arg(
        long,
        global = true,
        env = "LIENLAC_REPORTING_URL",
        default_value = "http://127.0.0.1:50054"
    )]
    pub(crate) reporting: String,
    /// The sync service.
    #[arg(
        long,
        global = true,
        env = "LIENLAC_SYNC_URL",
        default_value = "http://127.0.0.1:50055"
    )]
    pub(crate) sync: String,
    /// Print JSON, for scripts, instead of text.
    #[arg(long, global = true)]
    pub(crate) json: bool,
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Subcommand)]
pub(crate) enum Command {
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
    /// Your conversations: class groups, staff groups and direct threads, with
    /// what is unread.
    Inbox,
    /// Your absence notices as a guardian: a child absent, and corrections.
    Notices,
    /// Write to a conversation, or read one.
    Message {
        #[command(subcommand)]
        command: MessageCommand,
    },
    /// Announcements: send one to guardians, read yours, see who read it.
    Announce {
        #[command(subcommand)]
        command: AnnounceCommand,
    },
    /// School and class news: submit a post, read the ones you may.
    Post {
        #[command(subcommand)]
        command: PostCommand,
    },
    /// The school's moderation queue: approve or reject staff's posts.
    Moderate {
        #[command(subcommand)]
        command: ModerateCommand,
    },
    /// A class's weekly timetable.
    Timetable {
        #[command(subcommand)]
        command: BulletinCommand,
    },
    /// The school's weekly meal menu.
    Menu {
        #[command(subcommand)]
        command: BulletinCommand,
    },
    /// A class's curriculum plan, week by week.
    Plan {
        #[command(subcommand)]
        command: BulletinCommand,
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
    /// The directory's mirror of the city education database: plan a run (a dry
    /// run), apply one, read runs, drift and month-end pushes.
    Sync {
        #[command(subcommand)]
        command: SyncCommand,
    },
    /// The events lienlac publishes, as an external subscriber receives them.
    Events {
        #[command(subcommand)]
        command: EventsCommand,
    },
    /// The services' traces, for an operator without a collector.
    Trace {
        #[command(subcommand)]
        command: TraceCommand,
    },
    /// Load generators that measure the whole system from the outside.
    Bench {
        #[command(subcommand)]
        command: BenchCommand,
    },
}

#[derive(Subcommand)]
pub(crate) enum BenchCommand {
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
    /// A city mirrored from the city database simulator by the sync service, one
    /// run per unit, until identity and its projections hold it; beside raw
    /// Postgres loading the same rows in the same run.
    ///
    /// Run as the platform operator against a system whose sync service reads a
    /// simulator started with the same --city-schools. Prints a table and writes
    /// the figures as JSON.
    Mirror {
        /// The simulator's --city-schools.
        #[arg(long)]
        city_schools: usize,
        #[arg(
            long,
            env = "LIENLAC_SYNC_URL",
            default_value = "http://127.0.0.1:50055"
        )]
        sync: String,
        /// Where to write the figures.
        #[arg(long, default_value = "target/bench/sync.json")]
        output: std::path::PathBuf,
        /// Teachers submitting at the same moment in the morning that follows.
        #[arg(long, default_value_t = 64)]
        concurrency: usize,
        /// Where to write the morning's figures.
        #[arg(long, default_value = "target/bench/rollcall.json")]
        rollcall_output: std::path::PathBuf,
        #[command(flatten)]
        system: BenchSystem,
    },
    /// The fault suite: roll calls at a steady rate from a synthetic district while
    /// processes are killed, paused and restarted, then a check that nothing
    /// acknowledged was lost or duplicated and how fast each fault healed.
    ///
    /// Run as the platform operator against a system of its own (make chaos,
    /// deploy/local/chaos.sh): the faults program kills and restarts its
    /// processes. Writes the figures as JSON; fails when a goal is missed.
    Chaos {
        #[arg(long, default_value_t = 8)]
        schools: usize,
        #[arg(long, default_value_t = 33)]
        classes_per_school: usize,
        #[arg(long, default_value_t = 35)]
        students_per_class: usize,
        /// Roll calls sent a second while the system keeps up.
        #[arg(long, default_value_t = 15.0)]
        rate: f64,
        /// Teachers with a roll call in flight at most.
        #[arg(long, default_value_t = 32)]
        concurrency: usize,
        /// Each fault this many times.
        #[arg(long, default_value_t = 2)]
        rounds: usize,
        /// The shortest quiet time between two faults, in seconds (up to twice
        /// this, by the seed).
        #[arg(long, default_value_t = 8)]
        quiet_seconds: u64,
        /// Makes the district, the order of the faults and the quiet times.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Only these faults, comma-separated: a kind (kill-replica,
        /// kill-replicas, pause-replica, kill-nats-node, kill-nats-nodes,
        /// restart-postgres, pause-nats-node) or one service's
        /// (kill-replica:attendance).
        #[arg(long, value_delimiter = ',')]
        only: Vec<String>,
        /// The program that injects and repairs faults: `<it> fault <name> inject|heal`.
        #[arg(long, default_value = "deploy/local/chaos.sh")]
        faults_program: std::path::PathBuf,
        /// Where to write the figures.
        #[arg(long, default_value = "target/bench/chaos.json")]
        output: std::path::PathBuf,
        #[command(flatten)]
        system: BenchSystem,
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
pub(crate) struct BenchSystem {
    /// NATS, where the services publish.
    #[arg(
        long,
        env = "LIENLAC_NATS_URL",
        default_value = "nats://127.0.0.1:4322"
    )]
    pub(crate) nats: String,
    /// The services' namespace (LIENLAC_NAMESPACE), empty for none.
    #[arg(long, env = "LIENLAC_NAMESPACE", default_value = "")]
    pub(crate) namespace: String,
    /// The services' database.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/lienlac"
    )]
    pub(crate) database_url: String,
}

#[derive(Subcommand)]
pub(crate) enum MessageCommand {
    /// Post a message.
    Send {
        /// The conversation: its id, or a class of your school by name (its group).
        #[arg(long)]
        to: String,
        #[arg(long)]
        text: String,
    },
    /// Show a conversation's latest messages, and mark them read.
    List {
        /// The conversation: its id, or a class of your school by name (its group).
        conversation: String,
    },
}

#[derive(Subcommand)]
pub(crate) enum AnnounceCommand {
    /// Send an announcement to the guardians of a class, your school or your district.
    Send {
        /// A class of your school, by name or id.
        #[arg(long, group = "audience")]
        class: Option<String>,
        /// Your school.
        #[arg(long, group = "audience")]
        school: bool,
        /// Your district.
        #[arg(long, group = "audience")]
        district: bool,
        #[arg(long)]
        title: String,
        #[arg(long)]
        body: String,
        /// Ask each guardian to confirm.
        #[arg(long)]
        confirm: bool,
        /// An emergency (school leaders and district administrators): sent at
        /// once whatever the hour, and by the school's SMS while unread.
        #[arg(long)]
        emergency: bool,
        /// Who besides the guardians it is sent to reads it; by default the
        /// school's default classification.
        #[arg(long, value_enum)]
        classification: Option<Classification>,
    },
    /// Your announcements, as a guardian.
    List,
    /// Mark an announcement read, or confirm it.
    Read {
        announcement_id: String,
        #[arg(long)]
        confirm: bool,
    },
    /// How many guardians read and confirmed an announcement, and who has not.
    Receipts {
        announcement_id: String,
        /// List the guardians who have not read it, or not confirmed it.
        #[arg(long, value_enum)]
        missing: Option<Missing>,
    },
}

#[derive(Subcommand)]
pub(crate) enum PostCommand {
    /// Submit news of your school, or of a class with --class; it waits for a
    /// moderator unless you are trusted or moderate.
    Send {
        /// A class of your school, by name or id.
        #[arg(long)]
        class: Option<String>,
        #[arg(long)]
        title: String,
        #[arg(long)]
        body: String,
        /// Who may read it; your school's default when not given.
        #[arg(long, value_enum)]
        classification: Option<Classification>,
    },
    /// The published posts of your school (or one class) you may read.
    List {
        /// A class of your school, by name or id.
        #[arg(long)]
        class: Option<String>,
        /// Your own posts instead, in any state, with the moderators' decisions.
        #[arg(long)]
        mine: bool,
    },
}

#[derive(Subcommand)]
pub(crate) enum ModerateCommand {
    /// The posts waiting for a decision, the oldest first.
    Queue,
    /// Approve a post's latest revision.
    Approve {
        post_id: String,
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Reject a post's latest revision, saying why.
    Reject {
        post_id: String,
        #[arg(long)]
        reason: String,
    },
}

#[derive(Subcommand)]
pub(crate) enum BulletinCommand {
    /// The version in force on a day: for your child (as a guardian), or a class
    /// of your school; menus for your school.
    Show {
        /// A class of your school, by name or id (timetables and plans).
        #[arg(long)]
        class: Option<String>,
        /// Your child's student id, when you have several.
        #[arg(long)]
        child: Option<String>,
        /// YYYY-MM-DD; today when not given.
        #[arg(long)]
        date: Option<String>,
    },
    /// Publish a new version from a JSON file holding the message's fields
    /// (docs/services.md shows each), in force from --from.
    Publish {
        /// A class of your school, by name or id (timetables and plans).
        #[arg(long)]
        class: Option<String>,
        /// YYYY-MM-DD: the first day it is in force.
        #[arg(long)]
        from: String,
        #[arg(long)]
        file: std::path::PathBuf,
        #[arg(long, value_enum)]
        classification: Option<Classification>,
    },
}

/// Who may read a post, an announcement or a bulletin.
#[derive(Clone, Copy, clap::ValueEnum)]
pub(crate) enum Classification {
    /// Everyone of the school, and the school's public feed.
    Public,
    /// Guardians and staff of the school.
    School,
    /// The class's guardians, its homeroom teacher and the school's leaders.
    Class,
    /// Only those it is sent to (an announcement's guardians).
    Confidential,
}

impl Classification {
    /// The classification chosen, or the school's default.
    pub(crate) fn proto(choice: Option<Self>) -> lienlac_proto::messaging::v1::Classification {
        use lienlac_proto::messaging::v1::Classification as Proto;
        match choice {
            Some(Classification::Public) => Proto::Public,
            Some(Classification::School) => Proto::School,
            Some(Classification::Class) => Proto::Class,
            Some(Classification::Confidential) => Proto::Confidential,
            None => Proto::Unspecified,
        }
    }
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub(crate) enum Missing {
    NotRead,
    NotConfirmed,
}

#[derive(Subcommand)]
pub(crate) enum AttendanceCommand {
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
pub(crate) struct RollCallArgs {
    /// The class: its name in your school (`1A1`) or its id.
    #[arg(long)]
    pub(crate) class: String,
    #[arg(long, value_enum, default_value = "morning")]
    pub(crate) session: SessionArg,
    /// `YYYY-MM-DD`; today by default.
    #[arg(long, default_value_t = dates::today())]
    pub(crate) date: String,
}

#[derive(Subcommand)]
pub(crate) enum LeaveCommand {
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
pub(crate) enum SessionArg {
    Morning,
    Afternoon,
}

impl SessionArg {
    pub(crate) fn proto(self) -> lienlac_proto::attendance::v1::Session {
        match self {
            SessionArg::Morning => lienlac_proto::attendance::v1::Session::Morning,
            SessionArg::Afternoon => lienlac_proto::attendance::v1::Session::Afternoon,
        }
    }
}

#[derive(Subcommand)]
pub(crate) enum ReportCommand {
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
pub(crate) enum ExportFormat {
    Csv,
    Xlsx,
}

#[derive(Subcommand)]
pub(crate) enum SeedCommand {
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

/// What a sync run covers: a district, one school, or (the operator's first run)
/// a unit of the source that is no district yet.
#[derive(clap::Args, Clone)]
#[group(required = true, multiple = false)]
pub(crate) struct SyncScope {
    #[arg(long)]
    pub(crate) district: Option<String>,
    #[arg(long)]
    pub(crate) school: Option<String>,
    /// The source's code of a unit (ward or commune).
    #[arg(long)]
    pub(crate) unit: Option<String>,
}

#[derive(Subcommand)]
pub(crate) enum SyncCommand {
    /// Compare the source with the directory and print every change a run would
    /// make (a dry run: nothing changes).
    Plan {
        #[command(flatten)]
        scope: SyncScope,
        /// Read this file of the sync service's drop directory (a OneRoster zip).
        #[arg(long)]
        file: Option<String>,
        /// Also write the plan to this file, as CSV (`.csv`) or JSON (`.json`).
        #[arg(long)]
        out: Option<std::path::PathBuf>,
    },
    /// Make the directory hold what the source holds, and wait for the run.
    Apply {
        #[command(flatten)]
        scope: SyncScope,
        #[arg(long)]
        file: Option<String>,
        /// Only what the source's change feed names since the last run.
        #[arg(long)]
        incremental: bool,
    },
    /// A run with its changes, or a district's latest runs (your own district's
    /// unless named).
    Status {
        /// The run's id.
        run: Option<String>,
        #[arg(long)]
        district: Option<String>,
        #[arg(long)]
        school: Option<String>,
    },
    /// Where lienlac and the source disagreed at the latest full run (your own
    /// district's unless named).
    Drift {
        #[arg(long)]
        district: Option<String>,
        #[arg(long)]
        school: Option<String>,
    },
    /// How a school's classes' month-end totals went to the city database (your
    /// own school's unless named).
    PushStatus {
        #[arg(long)]
        school: Option<String>,
        /// `YYYY-MM`; this month by default.
        #[arg(long)]
        month: Option<String>,
    },
}

#[derive(Subcommand)]
pub(crate) enum TraceCommand {
    /// Receive the services' spans (OTLP over gRPC) and print each trace as a tree
    /// of service, span, duration and status, once it has had no new span for two
    /// seconds. Start the services with OTEL_EXPORTER_OTLP_ENDPOINT naming this
    /// address.
    Tail {
        #[arg(long, default_value = "127.0.0.1:4317")]
        listen: std::net::SocketAddr,
        /// Stop after this many traces.
        #[arg(long)]
        count: Option<usize>,
    },
}

#[derive(Subcommand)]
pub(crate) enum EventsCommand {
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
        /// Only this publisher's events (identity, attendance, messaging or sync); all by default.
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

pub(crate) fn rfc3339(text: &str) -> Result<time::OffsetDateTime, String> {
    time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .map_err(|_| format!("{text:?} is not an RFC 3339 time such as 2025-10-01T07:00:00+07:00"))
}
