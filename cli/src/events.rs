//! `lienlac events tail`: the event contract as an external subscriber sees it,
//! each event decoded with the published .proto.

use anyhow::Context as _;
use async_nats::jetstream::{self, consumer::DeliverPolicy, consumer::pull};
use futures::StreamExt as _;

/// The services that publish events.
pub(crate) const PUBLISHERS: [&str; 4] = ["identity", "attendance", "messaging", "sync"];

/// The version of `service`'s event contract its subjects carry (docs/events.md).
fn contract(service: &str) -> &'static str {
    match service {
        "messaging" | "sync" => "v1",
        _ => "v2",
    }
}

/// The JetStream stream `service` publishes to, seen from `namespace` (empty in
/// production): `LIENLAC_ATTENDANCE`, `BENCH_LIENLAC_ATTENDANCE`.
pub(crate) fn stream_name(namespace: &str, service: &str) -> String {
    let stream = format!("LIENLAC_{}", service.to_uppercase());
    if namespace.is_empty() {
        stream
    } else {
        format!("{}_{stream}", namespace.to_uppercase())
    }
}

/// A message's header `name`, such as `ce-type`.
pub(crate) fn header(message: &jetstream::Message, name: &str) -> Option<String> {
    message
        .headers
        .as_ref()
        .and_then(|headers| headers.get(name))
        .map(|value| value.as_str().to_owned())
}

pub(crate) struct Tail {
    pub(crate) nats_url: String,
    /// A prefix of subjects and stream names (tests and staging); empty in production.
    pub(crate) namespace: String,
    pub(crate) services: Vec<String>,
    pub(crate) district: Option<String>,
    pub(crate) school: Option<String>,
    pub(crate) since: Option<time::OffsetDateTime>,
    /// Stop after this many events.
    pub(crate) count: Option<usize>,
    pub(crate) json: bool,
}

impl Tail {
    fn filter(&self, service: &str) -> String {
        let prefix = if self.namespace.is_empty() {
            String::new()
        } else {
            format!("{}.", self.namespace)
        };
        format!(
            "{prefix}lienlac.{service}.{}.{}.{}.*",
            contract(service),
            self.district.as_deref().unwrap_or("*"),
            self.school.as_deref().unwrap_or("*")
        )
    }

    pub(crate) async fn run(&self) -> anyhow::Result<()> {
        let client = crate::nats::connect(&self.nats_url).await?;
        let jetstream = jetstream::new(client);
        let deliver_policy = match self.since {
            Some(start_time) => DeliverPolicy::ByStartTime { start_time },
            None => DeliverPolicy::New,
        };
        let mut feeds = Vec::new();
        for service in &self.services {
            let name = stream_name(&self.namespace, service);
            let stream = match jetstream.get_stream(&name).await {
                Ok(stream) => stream,
                // A publisher that has not started yet has no stream: follow the others.
                Err(_) if self.services.len() > 1 => {
                    eprintln!("no event stream {name} yet: {service} is left out");
                    continue;
                }
                Err(error) => return Err(error).with_context(|| format!("no event stream {name}")),
            };
            let consumer = stream
                .create_consumer(pull::OrderedConfig {
                    filter_subject: self.filter(service),
                    deliver_policy,
                    ..Default::default()
                })
                .await
                .with_context(|| format!("subscribing to {}", self.filter(service)))?;
            feeds.push(consumer.messages().await?.boxed());
        }
        if !self.json {
            eprintln!(
                "listening on {}",
                self.services
                    .iter()
                    .map(|service| self.filter(service))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        let mut events = futures::stream::select_all(feeds);
        let mut shown = 0;
        while self.count.is_none_or(|count| shown < count) {
            let Some(message) = events.next().await else {
                break;
            };
            let message = message.context("receiving an event")?;
            self.print(&message);
            shown += 1;
        }
        Ok(())
    }

    fn print(&self, message: &jetstream::Message) {
        let header = |name: &str| header(message, name).unwrap_or_default();
        let event_type = header("ce-type");
        // traceparent: version-traceid-spanid-flags.
        let traceparent = header("traceparent");
        let trace_id = traceparent.split('-').nth(1).unwrap_or_default();
        let fields = match lienlac_proto::events::to_json(&event_type, &message.payload) {
            Some(Ok(fields)) => fields,
            Some(Err(error)) => serde_json::json!({ "undecodable": error }),
            None => serde_json::json!({ "unknown_type_bytes": message.payload.len() }),
        };
        if self.json {
            let line = serde_json::json!({
                "type": event_type,
                "subject": message.subject.as_str(),
                "time": header("ce-time"),
                "id": header("ce-id"),
                "trace_id": trace_id,
                "fields": fields,
            });
            println!("{line}");
        } else {
            println!(
                "{} {} {}\n  trace {trace_id}\n  {fields}",
                header("ce-time"),
                event_type.rsplit('.').next().unwrap_or_default(),
                message.subject
            );
        }
    }
}
