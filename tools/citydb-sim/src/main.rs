//! `citydb-sim serve`: the city education database's API from the demo's files
//! (or a city made up at scale), with faults on request; `citydb-sim generate`
//! writes the demo's files.

use std::path::PathBuf;
use std::time::Duration;

use citydb_sim::{Faults, Settings, Simulator, files, generate};
use clap::{Parser, Subcommand};
use tokio_util::sync::CancellationToken;

#[derive(Parser)]
#[command(about = "A simulator of the city education database's API (docs/sync.md)")]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serves the city until interrupted.
    Serve {
        /// The city's CSV files.
        #[arg(
            long,
            env = "CITYDB_DATA",
            default_value = "tools/citydb-sim/data/demo"
        )]
        data: PathBuf,
        /// Instead of the files, a city of this many schools made up in memory.
        #[arg(long, env = "CITYDB_CITY_SCHOOLS")]
        city_schools: Option<usize>,
        #[arg(long, env = "CITYDB_BIND", default_value = "127.0.0.1:8089")]
        bind: std::net::SocketAddr,
        #[arg(long, env = "CITYDB_CLIENT_ID", default_value = citydb_sim::DEFAULT_CLIENT_ID)]
        client_id: String,
        #[arg(long, env = "CITYDB_CLIENT_SECRET", hide_env_values = true)]
        client_secret: String,
        /// Such as `timeout=7,error=5,throttle=3,duplicate=4,reorder`.
        #[arg(long, env = "CITYDB_FAULTS", default_value = "")]
        faults: String,
    },
    /// Writes the demo district's files.
    Generate {
        #[arg(long, default_value = "tools/citydb-sim/data/demo")]
        out: PathBuf,
    },
}

/// The school year of today in Ho Chi Minh City: from 1 August.
fn current_school_year() -> String {
    let today = time::OffsetDateTime::now_utc()
        .to_offset(time::UtcOffset::from_hms(7, 0, 0).unwrap_or(time::UtcOffset::UTC))
        .date();
    let first = if today.month() >= time::Month::August {
        today.year()
    } else {
        today.year() - 1
    };
    format!("{first}-{}", first + 1)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .init();
    let year = current_school_year();
    match Args::parse().command {
        Command::Generate { out } => {
            let city = generate::generate(&generate::demo(&year));
            files::save(&city, &out)?;
            eprintln!(
                "wrote {} students in {} classes to {}",
                city.students.len(),
                city.classes.len(),
                out.display()
            );
            Ok(())
        }
        Command::Serve {
            data,
            city_schools,
            bind,
            client_id,
            client_secret,
            faults,
        } => {
            let faults =
                Faults::parse(&faults).map_err(|e| anyhow::anyhow!("CITYDB_FAULTS: {e}"))?;
            let city = match city_schools {
                Some(schools) => generate::generate(&generate::city(schools, &year)),
                None => files::load(&data, &year)?,
            };
            eprintln!(
                "city database simulator: {} schools, {} classes, {} students of {year}",
                city.schools.len(),
                city.classes.len(),
                city.students.len()
            );
            let stop = CancellationToken::new();
            let settings = Settings {
                bind,
                client_id,
                client_secret,
                token_lifetime: Duration::from_secs(3600),
                faults,
            };
            let simulator = Simulator::start(city, settings, stop.clone()).await?;
            eprintln!("listening on {}", simulator.url());
            tokio::signal::ctrl_c().await?;
            stop.cancel();
            Ok(())
        }
    }
}
