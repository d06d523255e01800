//! An outside system's view of lienlac: subscribes to one service's events for a
//! district (or one school) through a JetStream consumer, decodes each payload with
//! the published .proto, and prints it.
//!
//!     cargo run -p lienlac-proto --example subscribe -- \
//!         [--service attendance|identity] [--district ID] [--school ID] [--since 2025-10-01T00:00:00Z]
//!
//! Without `--since` it prints events from now on, with a plain subscription (what a
//! district's read-only account may do); with it, it replays from that time through
//! JetStream (as far back as the stream keeps, then live; the operator's account).
//! `NATS_URL` says where NATS is, `NATS_USER` and `NATS_PASSWORD` who is asking.

#![allow(clippy::print_stdout)] // an example program that prints what it receives

use async_nats::jetstream::{self, consumer::DeliverPolicy, consumer::pull};
use futures::StreamExt as _;

/// The payload's fields, decoded with the published .proto, for printing.
fn decode(type_name: &str, payload: &[u8]) -> String {
    match lienlac_proto::events::to_json(type_name, payload) {
        Some(Ok(fields)) => fields.to_string(),
        Some(Err(error)) => format!("(undecodable payload: {error})"),
        None => format!(
            "(a type this example does not know: {} bytes)",
            payload.len()
        ),
    }
}

fn argument(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let service = argument(&args, "--service").unwrap_or_else(|| "attendance".to_owned());
    let district = argument(&args, "--district").unwrap_or_else(|| "*".to_owned());
    let school = argument(&args, "--school").unwrap_or_else(|| "*".to_owned());
    let url = std::env::var("NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4322".to_owned());
    let options = match (std::env::var("NATS_USER"), std::env::var("NATS_PASSWORD")) {
        (Ok(user), Ok(password)) => {
            async_nats::ConnectOptions::with_user_and_password(user, password)
        }
        _ => async_nats::ConnectOptions::new(),
    };
    let client = options.connect(url).await?;
    let filter_subject = format!("lienlac.{service}.v1.{district}.{school}.*");
    let mut messages: futures::stream::BoxStream<'static, async_nats::Message> =
        match argument(&args, "--since") {
            None => client.subscribe(filter_subject.clone()).await?.boxed(),
            Some(since) => {
                let start_time = time::OffsetDateTime::parse(
                    &since,
                    &time::format_description::well_known::Rfc3339,
                )?;
                let stream = jetstream::new(client)
                    .get_stream(format!("LIENLAC_{}", service.to_uppercase()))
                    .await?;
                let consumer = stream
                    .create_consumer(pull::OrderedConfig {
                        filter_subject: filter_subject.clone(),
                        deliver_policy: DeliverPolicy::ByStartTime { start_time },
                        ..Default::default()
                    })
                    .await?;
                consumer
                    .messages()
                    .await?
                    .filter_map(
                        |message| async move { message.ok().map(async_nats::Message::from) },
                    )
                    .boxed()
            }
        };
    println!("listening on {filter_subject}");
    while let Some(message) = messages.next().await {
        let header = |name: &str| {
            message
                .headers
                .as_ref()
                .and_then(|h| h.get(name))
                .map(|v| v.as_str().to_owned())
                .unwrap_or_default()
        };
        // traceparent: version-traceid-spanid-flags.
        let trace_id = header("traceparent")
            .split('-')
            .nth(1)
            .unwrap_or_default()
            .to_owned();
        println!(
            "{} {} at {} (trace {trace_id})\n  {}",
            header("ce-type"),
            message.subject,
            header("ce-time"),
            decode(&header("ce-type"), &message.payload)
        );
    }
    Ok(())
}
