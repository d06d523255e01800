//! Compiles every .proto file under `lienlac/` with protox (pure Rust, no system
//! protoc), generates the tonic/prost code from the descriptor set, and writes the
//! same descriptor set to OUT_DIR for gRPC reflection.

use std::path::{Path, PathBuf};

use prost::Message;

fn proto_files(dir: &Path, found: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            proto_files(&path, found)?;
        } else if path.extension().is_some_and(|ext| ext == "proto") {
            found.push(path);
        }
    }
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut files = Vec::new();
    proto_files(Path::new("lienlac"), &mut files)?;
    files.sort();
    println!("cargo:rerun-if-changed=lienlac");

    let descriptors = protox::compile(&files, ["."])?;
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(
        out_dir.join("lienlac_descriptor.bin"),
        descriptors.encode_to_vec(),
    )?;

    // Type names let the event store and consumers name a message by its full
    // protobuf name (`ce-type`) without a table of strings.
    let mut prost_config = prost_build::Config::new();
    prost_config.enable_type_names();
    // Services store their events as the JSON of these same messages, so that the
    // stored and the published form cannot drift apart.
    prost_config.type_attribute(
        ".lienlac",
        "#[derive(serde::Serialize, serde::Deserialize)]",
    );
    prost_config.message_attribute(".lienlac", "#[serde(default)]");
    // Ordered maps encode the same message to the same bytes, which the
    // idempotency fingerprint of a request relies on.
    prost_config.btree_map(["."]);
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .compile_fds_with_config(descriptors, prost_config)?;
    Ok(())
}
