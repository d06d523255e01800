//! Random requests to every RPC of every service (proptest): each request is a
//! well-formed protobuf message of the method's input type whose fields hold
//! random values (real ids of a school day, made-up ones, malformed text, dates at
//! the end of time, huge strings, unknown enum values, long lists), sent with a
//! random caller's token or none; one request in four is then cut short or replaced
//! by bytes that are no protobuf at all. Every answer must be a named status: never
//! a panic, never INTERNAL or UNKNOWN; bytes that do not decode are
//! INVALID_ARGUMENT.

#![allow(clippy::unwrap_used)] // a test fails by panicking

use std::collections::HashMap;
use std::net::SocketAddr;

use bytes::{Buf as _, BufMut as _};
use lienlac_test_stack::start_school_day;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use prost::Message as _;
use prost_types::field_descriptor_proto::{Label, Type};
use prost_types::{DescriptorProto, FileDescriptorSet};
use tokio_util::sync::CancellationToken;

/// Message bytes in, message bytes out: the request is encoded by the test.
#[derive(Clone, Default)]
struct RawCodec;

struct RawEncoder;
struct RawDecoder;

impl tonic::codec::Codec for RawCodec {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = RawEncoder;
    type Decoder = RawDecoder;

    fn encoder(&mut self) -> RawEncoder {
        RawEncoder
    }

    fn decoder(&mut self) -> RawDecoder {
        RawDecoder
    }
}

impl tonic::codec::Encoder for RawEncoder {
    type Item = Vec<u8>;
    type Error = tonic::Status;

    fn encode(
        &mut self,
        item: Vec<u8>,
        dst: &mut tonic::codec::EncodeBuf<'_>,
    ) -> Result<(), tonic::Status> {
        dst.put_slice(&item);
        Ok(())
    }
}

impl tonic::codec::Decoder for RawDecoder {
    type Item = Vec<u8>;
    type Error = tonic::Status;

    fn decode(
        &mut self,
        src: &mut tonic::codec::DecodeBuf<'_>,
    ) -> Result<Option<Vec<u8>>, tonic::Status> {
        let mut bytes = vec![0; src.remaining()];
        src.copy_to_slice(&mut bytes);
        Ok(Some(bytes))
    }
}

struct Method {
    path: String,
    input: String,
    streaming: bool,
    addr: SocketAddr,
}

/// A small deterministic generator, seeded by proptest.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

struct Generator<'a> {
    messages: &'a HashMap<String, DescriptorProto>,
    texts: Vec<String>,
    random: Random,
}

impl Generator<'_> {
    fn text(&mut self) -> String {
        let i = self.random.below(self.texts.len());
        self.texts[i].clone()
    }

    fn varint(&mut self) -> u64 {
        match self.random.below(6) {
            0 => 0,
            1 => 1,
            2 => 2,
            3 => u64::MAX, // -1 as int32/int64
            4 => i32::MAX as u64,
            _ => self.random.next() % 1000,
        }
    }

    /// A message of type `name`, encoded, `depth` levels deep at most.
    fn message(&mut self, name: &str, depth: usize) -> Vec<u8> {
        let mut out = Vec::new();
        let Some(descriptor) = self.messages.get(name).cloned() else {
            return out;
        };
        for field in &descriptor.field {
            let repeated = field.label() == Label::Repeated;
            let count = match (repeated, self.random.below(10)) {
                (false, 0) => 0,
                (false, _) => 1,
                (true, 0) => 300,
                (true, n) => n % 4,
            };
            for _ in 0..count {
                let number = field.number() as u64;
                match field.r#type() {
                    Type::String | Type::Bytes => {
                        let text = self.text();
                        put_varint(&mut out, number << 3 | 2);
                        put_varint(&mut out, text.len() as u64);
                        out.extend_from_slice(text.as_bytes());
                    }
                    Type::Message if depth > 0 => {
                        let inner =
                            self.message(field.type_name().trim_start_matches('.'), depth - 1);
                        put_varint(&mut out, number << 3 | 2);
                        put_varint(&mut out, inner.len() as u64);
                        out.extend_from_slice(&inner);
                    }
                    Type::Message => {}
                    Type::Double | Type::Fixed64 | Type::Sfixed64 => {
                        put_varint(&mut out, number << 3 | 1);
                        out.put_u64_le(self.random.next());
                    }
                    Type::Float | Type::Fixed32 | Type::Sfixed32 => {
                        put_varint(&mut out, number << 3 | 5);
                        out.put_u32_le(self.random.next() as u32);
                    }
                    _ => {
                        let value = self.varint();
                        put_varint(&mut out, number << 3);
                        put_varint(&mut out, value);
                    }
                }
            }
        }
        out
    }
}

fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// What a caller may be told: anything named, never INTERNAL or UNKNOWN.
fn named(code: tonic::Code) -> bool {
    !matches!(code, tonic::Code::Internal | tonic::Code::Unknown)
}

#[test]
fn random_requests_to_every_rpc_get_a_named_status_never_internal() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let _in_runtime = runtime.enter();
    let world = kernel::testing::TestWorld::new();
    let stop = CancellationToken::new();
    let day = runtime.block_on(start_school_day(&world, &stop));

    let set = FileDescriptorSet::decode(lienlac_proto::FILE_DESCRIPTOR_SET).unwrap();
    let mut messages = HashMap::new();
    let mut methods = Vec::new();
    for file in &set.file {
        let package = file.package().to_owned();
        for message in &file.message_type {
            messages.insert(format!("{package}.{}", message.name()), message.clone());
            for nested in &message.nested_type {
                messages.insert(
                    format!("{package}.{}.{}", message.name(), nested.name()),
                    nested.clone(),
                );
            }
        }
        for service in &file.service {
            // Each service's read log is its own; the privacy service is reporting's.
            let addr = match (package.as_str(), service.name()) {
                ("lienlac.identity.v1", _) => day.identity,
                ("lienlac.attendance.v1", _) => day.attendance,
                ("lienlac.messaging.v1", _) => day.messaging,
                ("lienlac.reporting.v1", _) | ("lienlac.privacy.v1", "PrivacyService") => {
                    day.reporting
                }
                ("lienlac.privacy.v1", "ReadLog") => day.attendance,
                _ => continue,
            };
            for method in &service.method {
                methods.push(Method {
                    path: format!("/{package}.{}/{}", service.name(), method.name()),
                    input: method.input_type().trim_start_matches('.').to_owned(),
                    streaming: method.server_streaming(),
                    addr,
                });
            }
        }
    }
    assert!(
        methods.len() > 30,
        "every RPC of every service: {}",
        methods.len()
    );

    let school = &day.school;
    let mut texts: Vec<String> = [
        "",
        " ",
        "not-a-uuid",
        "00000000-0000-0000-0000-000000000000",
        "9999-12-31",
        "0000-01-01",
        "2026-02-30",
        "2026-11",
        "2025-2026",
        "9999-9999",
        "0912345678",
        "+84 912 345 678",
        "Nguyễn Thị Ánh",
        "=HYPERLINK(\"x\")",
        "admin",
        "\u{0}\u{7}",
        "2026-11-30T07:00:00+07:00",
        "999999-01-01T00:00:00Z",
    ]
    .map(str::to_owned)
    .into();
    texts.push("x".repeat(5_000));
    texts.push("ư".repeat(129));
    texts.push(kernel::testing::request_id());
    texts.push(lienlac_test_support::today());
    for id in [
        &school.district_id,
        &school.school_id,
        &school.other_school_id,
        &school.class_id,
        &school.other_class_id,
        &school.other_student,
    ] {
        texts.push(id.clone());
    }
    texts.extend(school.students.iter().cloned());
    let tokens: Vec<Option<String>> = vec![
        Some(school.operator.clone()),
        Some(school.principal.clone()),
        Some(school.homeroom.clone()),
        Some(school.guardian.clone()),
        Some(school.district_admin.clone()),
        Some("not.a.token".to_owned()),
        None,
    ];
    let channels: HashMap<SocketAddr, tonic::transport::Channel> =
        [day.identity, day.attendance, day.messaging, day.reporting]
            .into_iter()
            .map(|addr| {
                let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
                    .unwrap()
                    .connect_lazy();
                (addr, channel)
            })
            .collect();

    let mut runner = TestRunner::new(Config {
        cases: 1500,
        failure_persistence: None,
        ..Config::default()
    });
    let strategy = (0..methods.len(), any::<u64>(), 0..tokens.len(), 0..8u8);
    let outcome = runner.run(&strategy, |(index, seed, token, damage)| {
        let method = &methods[index];
        let mut generator = Generator {
            messages: &messages,
            texts: texts.clone(),
            random: Random(seed | 1),
        };
        let mut body = generator.message(&method.input, 2);
        match damage {
            // Field 1, length-delimited, 127 bytes long: none of which follow.
            0 => body.extend_from_slice(&[0x0a, 0x7f]),
            1 => {
                let length = 1 + generator.random.below(64);
                body = (0..length).map(|_| generator.random.next() as u8).collect();
            }
            _ => {}
        }
        if body.len() > kernel::grpc::MAX_REQUEST_BYTES {
            // Over the decoding limit: refused before decoding, which
            // attendance's oversized-submission test covers.
            return Ok(());
        }
        let mut request = tonic::Request::new(body);
        if let Some(token) = &tokens[token] {
            request
                .metadata_mut()
                .insert("authorization", format!("Bearer {token}").parse().unwrap());
        }
        let channel = channels[&method.addr].clone();
        let path: http::uri::PathAndQuery = method.path.parse().unwrap();
        let streaming = method.streaming;
        let answer = runtime.block_on(async move {
            let mut grpc = tonic::client::Grpc::new(channel);
            grpc.ready()
                .await
                .map_err(|e| tonic::Status::unavailable(e.to_string()))?;
            if streaming {
                let mut stream = grpc
                    .server_streaming(request, path, RawCodec)
                    .await?
                    .into_inner();
                // A live stream (Subscribe) never ends: a moment of it is enough.
                let window = std::time::Duration::from_millis(100);
                while let Ok(next) = tokio::time::timeout(window, stream.message()).await {
                    if next?.is_none() {
                        break;
                    }
                }
                Ok(())
            } else {
                grpc.unary(request, path, RawCodec).await.map(|_| ())
            }
        });
        match answer {
            Err(status) if !named(status.code()) => Err(TestCaseError::fail(format!(
                "{} (seed {seed}, token {token}) answered {:?}: {}",
                method.path,
                status.code(),
                status.message()
            ))),
            _ => Ok(()),
        }
    });
    if let Err(failure) = outcome {
        stop.cancel();
        panic!("{failure}");
    }

    // A message cut short, to one method of each service.
    let mut first_unary: HashMap<SocketAddr, &Method> = HashMap::new();
    for method in methods.iter().filter(|method| !method.streaming) {
        first_unary.entry(method.addr).or_insert(method);
    }
    for method in first_unary.into_values() {
        let path: http::uri::PathAndQuery = method.path.parse().unwrap();
        let mut grpc = tonic::client::Grpc::new(channels[&method.addr].clone());
        let status = runtime
            .block_on(async {
                grpc.ready().await.unwrap();
                grpc.unary(tonic::Request::new(vec![0x0a, 0x7f]), path, RawCodec)
                    .await
            })
            .unwrap_err();
        assert_eq!(
            status.code(),
            tonic::Code::InvalidArgument,
            "{}: {}",
            method.path,
            status.message()
        );
        assert!(
            status
                .message()
                .starts_with("the request is not a valid protobuf message"),
            "{}: {}",
            method.path,
            status.message()
        );
    }
    stop.cancel();
}
