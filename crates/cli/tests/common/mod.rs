//! Helpers for the `vouch` binary tests: running it in a directory, checking its exit status
//! and messages, and building or editing ONNX models as protobuf bytes.

#![allow(dead_code, clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

use prost::Message;
use tract_onnx::pb;

/// A fresh folder `PREFIX-<pid>` under the test target dir for a binary's shared fixture,
/// after removing the `PREFIX-*` folders that runs ended without cleanup left (older than an
/// hour).
pub fn fixture_dir(prefix: &str) -> PathBuf {
    let root = Path::new(env!("CARGO_TARGET_TMPDIR"));
    if let Ok(entries) = std::fs::read_dir(root) {
        for e in entries.flatten() {
            let stale = e
                .file_name()
                .to_string_lossy()
                .starts_with(&format!("{prefix}-"))
                && e.metadata()
                    .and_then(|m| m.modified())
                    .ok()
                    .and_then(|t| t.elapsed().ok())
                    .is_some_and(|age| age.as_secs() > 3600);
            if stale {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
    }
    let dir = root.join(format!("{prefix}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Compiles, in `dir`, the bundled example to `model.vouch` (the README's compile command)
/// and the example with one weight changed to `other.vouch` (another model).
pub fn compile_example_and_other(dir: &Path) {
    let cal = example("calibration.npy");
    vouch(
        dir,
        &[
            "compile",
            &example("model.onnx"),
            "--calibration",
            &cal,
            "-o",
            "model.vouch",
        ],
    )
    .ok();
    let other = write(dir, "other.onnx", &example_with_weight(0, 0.75));
    vouch(
        dir,
        &[
            "compile",
            &other,
            "--calibration",
            &cal,
            "-o",
            "other.vouch",
        ],
    )
    .ok();
}

/// A file of the bundled example (`examples/digits_mlp/NAME`), as an absolute path string.
pub fn example(name: &str) -> String {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/digits_mlp")
        .join(name);
    p.canonicalize().unwrap().display().to_string()
}

/// What one run of the binary did.
#[derive(Debug)]
pub struct Output {
    pub args: Vec<String>,
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    /// Asserts exit status 0 and returns stdout.
    pub fn ok(&self) -> &str {
        assert_eq!(
            self.code,
            Some(0),
            "vouch {:?} failed:\n{}",
            self.args,
            self.stderr
        );
        self.no_panic();
        &self.stdout
    }

    /// Parses stdout of a successful `--json` run.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(self.ok()).unwrap_or_else(|e| {
            panic!(
                "vouch {:?}: stdout is not JSON ({e}):\n{}",
                self.args, self.stdout
            )
        })
    }

    /// Asserts a usage or input error: exit status 2, an `error:` line on stderr mentioning each
    /// of `needles` (case-insensitive), nothing on stdout, and no panic.
    pub fn input_error(&self, needles: &[&str]) -> &str {
        self.no_panic();
        assert_eq!(
            self.code,
            Some(2),
            "vouch {:?}: expected exit status 2\nstdout:\n{}\nstderr:\n{}",
            self.args,
            self.stdout,
            self.stderr
        );
        assert!(
            self.stderr.contains("error"),
            "vouch {:?}: no error message on stderr:\n{}",
            self.args,
            self.stderr
        );
        let lower = self.stderr.to_lowercase();
        for n in needles {
            assert!(
                lower.contains(&n.to_lowercase()),
                "vouch {:?}: stderr does not mention '{n}':\n{}",
                self.args,
                self.stderr
            );
        }
        assert!(
            self.stdout.is_empty(),
            "vouch {:?}: printed {}",
            self.args,
            self.stdout
        );
        &self.stderr
    }

    pub fn no_panic(&self) {
        assert!(
            !self.stderr.contains("panicked") && !self.stderr.contains("RUST_BACKTRACE"),
            "vouch {:?} panicked:\n{}",
            self.args,
            self.stderr
        );
        assert_ne!(self.code, Some(101), "vouch {:?} panicked", self.args);
        assert!(
            self.code.is_some(),
            "vouch {:?} was killed by a signal",
            self.args
        );
    }
}

/// Runs `vouch ARGS` in `dir`.
pub fn vouch(dir: &Path, args: &[&str]) -> Output {
    vouch_env(dir, args, &[])
}

/// Runs `vouch ARGS` in `dir` with extra environment variables.
pub fn vouch_env(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_vouch"));
    cmd.args(args).current_dir(dir).env_remove("RUST_BACKTRACE");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    Output {
        args: args.iter().map(|s| s.to_string()).collect(),
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Writes `bytes` to `dir/name` and returns the path as a string.
pub fn write(dir: &Path, name: &str, bytes: &[u8]) -> String {
    let p: PathBuf = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p.display().to_string()
}

// ----- ONNX protobufs ------------------------------------------------------------------------

const FLOAT: i32 = pb::tensor_proto::DataType::Float as i32;

pub fn decode_model(bytes: &[u8]) -> pb::ModelProto {
    pb::ModelProto::decode(bytes).unwrap()
}

pub fn graph_mut(m: &mut pb::ModelProto) -> &mut pb::GraphProto {
    m.graph.as_mut().unwrap()
}

/// A float tensor value-info with fixed dimensions.
pub fn value_info(name: &str, dims: &[i64]) -> pb::ValueInfoProto {
    use pb::tensor_shape_proto::{dimension::Value, Dimension};
    let dim = dims
        .iter()
        .map(|&d| Dimension {
            denotation: String::new(),
            value: Some(Value::DimValue(d)),
        })
        .collect();
    pb::ValueInfoProto {
        name: name.into(),
        r#type: Some(pb::TypeProto {
            denotation: String::new(),
            value: Some(pb::type_proto::Value::TensorType(pb::type_proto::Tensor {
                elem_type: FLOAT,
                shape: Some(pb::TensorShapeProto { dim }),
            })),
        }),
        doc_string: String::new(),
    }
}

pub fn node(op: &str, domain: &str, inputs: &[&str], outputs: &[&str]) -> pb::NodeProto {
    pb::NodeProto {
        input: inputs.iter().map(|s| s.to_string()).collect(),
        output: outputs.iter().map(|s| s.to_string()).collect(),
        name: format!("{op}_0"),
        op_type: op.into(),
        domain: domain.into(),
        ..Default::default()
    }
}

/// A model of `nodes` from the float input `x` of shape `dims` to the output `y` (same shape),
/// opset 13, plus `com.example` for custom-domain tests.
pub fn tiny_model(nodes: Vec<pb::NodeProto>, dims: &[i64]) -> Vec<u8> {
    let m = pb::ModelProto {
        ir_version: 8,
        producer_name: "vouch-cli tests".into(),
        opset_import: vec![
            pb::OperatorSetIdProto {
                domain: String::new(),
                version: 13,
            },
            pb::OperatorSetIdProto {
                domain: "com.example".into(),
                version: 1,
            },
        ],
        graph: Some(pb::GraphProto {
            node: nodes,
            name: "tiny".into(),
            input: vec![value_info("x", dims)],
            output: vec![value_info("y", dims)],
            ..Default::default()
        }),
        ..Default::default()
    };
    m.encode_to_vec()
}

/// The example model with one element of its first float initializer replaced by `value`.
pub fn example_with_weight(index: usize, value: f32) -> Vec<u8> {
    let mut m = decode_model(&std::fs::read(example("model.onnx")).unwrap());
    let t = graph_mut(&mut m)
        .initializer
        .iter_mut()
        .find(|t| t.data_type == FLOAT)
        .unwrap();
    if t.raw_data.is_empty() {
        t.float_data[index] = value;
    } else {
        t.raw_data[4 * index..4 * index + 4].copy_from_slice(&value.to_le_bytes());
    }
    m.encode_to_vec()
}

/// The example model with its input's dimensions replaced.
pub fn example_with_input_dims(dims: &[i64]) -> Vec<u8> {
    let mut m = decode_model(&std::fs::read(example("model.onnx")).unwrap());
    let g = graph_mut(&mut m);
    let name = g.input[0].name.clone();
    g.input[0] = value_info(&name, dims);
    m.encode_to_vec()
}
