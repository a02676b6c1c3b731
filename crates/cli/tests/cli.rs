//! Tests of the built `vouch` binary, each in a temporary directory: the README's main job on
//! the bundled example (text and `--json`), output-file safety, determinism, and one test per
//! kind of bad input (exit status 2, a message on stderr, never a panic).

#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;

use common::{example, vouch, vouch_env, write, Output};
use vouch::npy;
use vouch::onnx::quantize::argmax;

fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

/// `vouch compile` of the bundled example with its calibration data, plus `extra` flags.
fn compile(dir: &Path, out: &str, extra: &[&str]) -> Output {
    let (model, cal) = (example("model.onnx"), example("calibration.npy"));
    let mut args = vec!["compile", &model, "--calibration", &cal, "-o", out];
    args.extend_from_slice(extra);
    vouch(dir, &args)
}

/// Compiles the example into `dir/name` and returns its path.
fn compiled(dir: &Path, name: &str) -> String {
    compile(dir, name, &[]).ok();
    dir.join(name).display().to_string()
}

fn is_digest(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
}

/// The value after `key` on the line that starts with it (`digest  abc...`).
fn field<'a>(text: &'a str, key: &str) -> &'a str {
    text.lines()
        .find_map(|l| l.strip_prefix(key))
        .unwrap_or_else(|| panic!("no '{key}' line in:\n{text}"))
        .split_whitespace()
        .next()
        .unwrap()
}

fn label0() -> usize {
    npy::read(Path::new(&example("test_y.npy"))).unwrap().data[0] as usize
}

// ----- the main job ---------------------------------------------------------------------------

#[test]
fn compile_run_eval_inspect_text_and_json() {
    let dir = tempdir();
    let d = dir.path();

    // compile
    let text = compile(d, "text.vouch", &[]);
    let stdout = text.ok();
    assert!(stdout.contains("wrote text.vouch"), "{stdout}");
    assert!(!text.stderr.contains("warning"), "{}", text.stderr);
    let digest = field(stdout, "digest").to_string();
    assert!(is_digest(&digest), "{digest}");
    assert!(stdout.contains("top-1 agreement"), "{stdout}");
    let c = compile(d, "model.vouch", &["--json"]).json();
    assert_eq!(c["digest"], digest.as_str());
    assert_eq!(c["output"], "model.vouch");
    assert_eq!(c["params"], 2410);
    assert!(c["nodes"].as_u64().unwrap() > 0);
    assert!(c["ops"].as_object().unwrap().contains_key("MatMul"));
    assert_eq!(c["calibration"]["source"], "file");
    assert_eq!(c["calibration"]["samples"], 64);
    assert_eq!(c["quantization"]["act_bits"], 8);
    assert!(c["report"]["top1_agreement"].as_f64().unwrap() >= 0.95);
    assert!(
        std::fs::read(d.join("text.vouch")).unwrap()
            == std::fs::read(d.join("model.vouch")).unwrap(),
        "--json changed the package"
    );

    // run: the example input is the first held-out sample.
    let input = example("input.npy");
    let x = npy::read(Path::new(&input)).unwrap();
    let test_x = npy::read(Path::new(&example("test_x.npy"))).unwrap();
    assert_eq!(
        x.data,
        test_x.data[..x.data.len()],
        "input.npy is not test_x[0]"
    );
    let out = vouch(d, &["run", "model.vouch", "--input", &input]);
    let stdout = out.ok();
    assert_eq!(field(stdout, "model"), digest);
    assert_eq!(field(stdout, "top-1 class"), label0().to_string());
    let r = vouch(d, &["run", "model.vouch", "--input", &input, "--json"]).json();
    assert_eq!(r["digest"], digest.as_str());
    assert_eq!(r["top1"], label0());
    let o = &r["outputs"][0];
    assert_eq!(o["name"], "logits");
    assert_eq!(o["shape"], serde_json::json!([1, 10]));
    let values: Vec<f32> = serde_json::from_value(o["values"].clone()).unwrap();
    let quantized: Vec<i64> = serde_json::from_value(o["quantized"].clone()).unwrap();
    let scale = o["scale"].as_f64().unwrap();
    assert_eq!(values.len(), 10);
    for (v, q) in values.iter().zip(&quantized) {
        assert!((f64::from(*v) - *q as f64 * scale).abs() <= 1e-5 * (1.0 + v.abs() as f64));
    }
    assert_eq!(argmax(&values), label0());

    // eval
    let (tx, ty, onnx) = (
        example("test_x.npy"),
        example("test_y.npy"),
        example("model.onnx"),
    );
    let eval = [
        "eval",
        "model.vouch",
        "--data",
        &tx,
        "--labels",
        &ty,
        "--onnx",
        &onnx,
    ];
    let stdout = vouch(d, &eval).ok().to_string();
    assert!(stdout.contains(&format!("model {digest}")), "{stdout}");
    assert!(stdout.contains("quantized top-1 accuracy"), "{stdout}");
    assert!(stdout.contains("on 359 samples"), "{stdout}");
    assert!(stdout.contains("float     top-1 accuracy"), "{stdout}");
    let mut eval_json = eval.to_vec();
    eval_json.push("--json");
    let e = vouch(d, &eval_json).json();
    let (q, f) = (
        e["quantized_accuracy"].as_f64().unwrap(),
        e["float_accuracy"].as_f64().unwrap(),
    );
    assert_eq!(e["samples"], 359);
    assert!(q > 0.9 && f > 0.9, "quantized {q}, float {f}");
    assert!((q - f).abs() <= 0.005, "quantized {q} vs float {f}");
    assert!(e["agreement"].as_f64().unwrap() > 0.98);
    // Without --onnx there is no float comparison.
    let e = vouch(
        d,
        &[
            "eval",
            "model.vouch",
            "--data",
            &tx,
            "--labels",
            &ty,
            "--json",
        ],
    )
    .json();
    assert_eq!(e["quantized_accuracy"].as_f64().unwrap(), q);
    assert!(e["float_accuracy"].is_null());

    // inspect
    let stdout = vouch(d, &["inspect", "model.vouch"]).ok().to_string();
    assert!(stdout.contains("model package"), "{stdout}");
    assert_eq!(field(&stdout, "digest"), digest);
    assert!(!stdout.contains("Some("), "{stdout}");
    let i = vouch(d, &["inspect", "model.vouch", "--json"]).json();
    assert_eq!(i["kind"], "model package");
    assert_eq!(i["program"]["digest"], digest.as_str());
    assert_eq!(i["program"]["params"], 2410);
    assert_eq!(i["meta"]["input_names"], serde_json::json!(["input"]));
    assert_eq!(i["meta"]["output_names"], serde_json::json!(["logits"]));
    assert_eq!(
        i["program"]["inputs"][0]["shape"],
        serde_json::json!([1, 64])
    );
    let listing = vouch(d, &["inspect", "model.vouch", "--listing"])
        .ok()
        .to_string();
    assert!(listing.lines().count() > stdout.lines().count());

    // inspect on the other kinds it knows
    let i = vouch(d, &["inspect", &onnx, "--json"]).json();
    assert_eq!(i["kind"], "ONNX model");
    assert_eq!(i["constants"], 2410);
    let i = vouch(d, &["inspect", &ty, "--json"]).json();
    assert_eq!(i["kind"], "numpy array");
    assert_eq!(i["shape"], serde_json::json!([359]));
    assert!(vouch(d, &["inspect", &ty]).ok().contains("numpy array"));
}

#[test]
fn run_compares_against_a_float_reference() {
    let dir = tempdir();
    let d = dir.path();
    let pkg = compiled(d, "m.vouch");
    let g = vouch::model::load_float(Path::new(&example("model.onnx"))).unwrap();
    let x = npy::read(Path::new(&example("input.npy"))).unwrap();
    let float = g.eval_outputs(&[x.data]).unwrap().remove(0);
    let reference = write(d, "ref.npy", &npy::to_bytes_f32(&[1, 10], &float));
    let input = example("input.npy");
    let r = vouch(
        d,
        &[
            "run",
            &pkg,
            "--input",
            &input,
            "--reference",
            &reference,
            "--json",
        ],
    )
    .json();
    let c = &r["reference"];
    assert_eq!(c["top1_agrees"], true);
    assert!(c["max_rel_error"].as_f64().unwrap() < 0.05, "{c}");
    let text = vouch(
        d,
        &["run", &pkg, "--input", &input, "--reference", &reference],
    );
    assert!(text.ok().contains("vs reference"));
    // A reference of the wrong size is an input error.
    let wrong = write(d, "wrong.npy", &npy::to_bytes_f32(&[3], &[1.0, 2.0, 3.0]));
    vouch(d, &["run", &pkg, "--input", &input, "--reference", &wrong])
        .input_error(&["wrong.npy", "3 values"]);
}

#[test]
fn json_input_matches_npy_input() {
    let dir = tempdir();
    let d = dir.path();
    let pkg = compiled(d, "m.vouch");
    // input.npy is an 8x8 image ([1, 1, 8, 8]); the MLP takes it as [1, 64].
    let x = npy::read(Path::new(&example("input.npy"))).unwrap();
    assert_eq!(x.data.len(), 64);
    let by_npy = vouch(
        d,
        &["run", &pkg, "--input", &example("input.npy"), "--json"],
    )
    .json();
    let nested = serde_json::json!([x.data]);
    let keyed = serde_json::json!({ "input": [x.data] });
    let rows: Vec<&[f32]> = x.data.chunks(8).collect();
    let image = serde_json::json!([[rows]]);
    for (name, v) in [
        ("nested.json", nested),
        ("keyed.json", keyed),
        ("image.json", image),
    ] {
        let path = write(d, name, v.to_string().as_bytes());
        let by_json = vouch(d, &["run", &pkg, "--input", &path, "--json"]).json();
        assert_eq!(by_json["outputs"], by_npy["outputs"], "{name}");
        assert_eq!(by_json["top1"], by_npy["top1"], "{name}");
        assert_eq!(by_json["digest"], by_npy["digest"], "{name}");
    }
}

// ----- output files ---------------------------------------------------------------------------

#[test]
fn compile_never_replaces_an_output_without_force() {
    let dir = tempdir();
    let d = dir.path();
    let precious = b"not a model package, but somebody's data".to_vec();
    std::fs::write(d.join("out.vouch"), &precious).unwrap();
    compile(d, "out.vouch", &[]).input_error(&["out.vouch", "already exists", "--force"]);
    compile(d, "out.vouch", &["--json"]).input_error(&["already exists"]);
    assert!(
        std::fs::read(d.join("out.vouch")).unwrap() == precious,
        "out.vouch changed"
    );

    compile(d, "out.vouch", &["--force"]).ok();
    let first = std::fs::read(d.join("out.vouch")).unwrap();
    assert!(first.starts_with(b"VOUCHPKG"));
    // A package is protected like any other file.
    compile(d, "out.vouch", &["--act-bits", "6"]).input_error(&["already exists"]);
    assert!(
        std::fs::read(d.join("out.vouch")).unwrap() == first,
        "out.vouch changed"
    );
    // A failing compile leaves the output alone even with --force.
    let bad = write(d, "bad.onnx", b"\x08\x07garbage");
    vouch(d, &["compile", &bad, "-o", "out.vouch", "--force"])
        .input_error(&["not a readable ONNX model"]);
    assert!(
        std::fs::read(d.join("out.vouch")).unwrap() == first,
        "out.vouch changed"
    );
    // --force replaces it.
    compile(d, "out.vouch", &["--act-bits", "6", "--force"]).ok();
    let second = std::fs::read(d.join("out.vouch")).unwrap();
    assert!(second != first, "--force did not replace the package");
    // No temporary files are left behind.
    let mut names: Vec<String> = std::fs::read_dir(d)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["bad.onnx", "out.vouch"]);
}

#[test]
fn compile_into_a_missing_directory_is_an_input_error() {
    let dir = tempdir();
    compile(dir.path(), "no/such/dir/m.vouch", &[])
        .input_error(&["no/such/dir/m.vouch", "no such file"]);
}

// ----- determinism ----------------------------------------------------------------------------

#[test]
fn compiling_is_deterministic_and_settings_change_the_digest() {
    let dir = tempdir();
    let d = dir.path();
    let a = compile(d, "a.vouch", &["--json"]).json();
    let b = compile(d, "b.vouch", &["--json"]).json();
    let one = vouch_env(
        d,
        &[
            "compile",
            &example("model.onnx"),
            "--calibration",
            &example("calibration.npy"),
            "-o",
            "c.vouch",
        ],
        &[("RAYON_NUM_THREADS", "1")],
    );
    one.ok();
    let bytes = |n: &str| std::fs::read(d.join(n)).unwrap();
    assert_eq!(a["digest"], b["digest"]);
    assert!(
        bytes("a.vouch") == bytes("b.vouch"),
        "two compilations differ"
    );
    assert!(
        bytes("a.vouch") == bytes("c.vouch"),
        "one thread vs many differ"
    );

    let mut digests = vec![a["digest"].as_str().unwrap().to_string()];
    for (name, flags) in [
        ("act6.vouch", &["--act-bits", "6"][..]),
        ("w6.vouch", &["--weight-bits", "6"][..]),
        ("tensor.vouch", &["--per-tensor"][..]),
        ("cal16.vouch", &["--calibration-samples", "16"][..]),
    ] {
        let mut f = flags.to_vec();
        f.push("--json");
        let j = compile(d, name, &f).json();
        let digest = j["digest"].as_str().unwrap().to_string();
        assert!(is_digest(&digest));
        assert!(
            !digests.contains(&digest),
            "{flags:?} did not change the digest"
        );
        digests.push(digest);
    }
    // Without calibration data: a warning, and seeded (so still deterministic) samples.
    let model = example("model.onnx");
    let w1 = vouch(d, &["compile", &model, "-o", "d1.vouch"]);
    w1.ok();
    assert!(w1.stderr.contains("warning"), "{}", w1.stderr);
    vouch(d, &["compile", &model, "-o", "d2.vouch"]).ok();
    assert!(
        bytes("d1.vouch") == bytes("d2.vouch"),
        "default calibration is not deterministic"
    );
}

// ----- bad input: ONNX models -----------------------------------------------------------------

/// `vouch compile FILE` where FILE holds `bytes`: an input error mentioning `needles`.
fn compile_rejects(bytes: &[u8], needles: &[&str]) -> String {
    let dir = tempdir();
    let d = dir.path();
    let model = write(d, "model.onnx", bytes);
    let out = vouch(d, &["compile", &model, "-o", "m.vouch"]);
    let stderr = out.input_error(needles).to_string();
    assert!(
        stderr.contains("model.onnx"),
        "the error does not name the file:\n{stderr}"
    );
    assert!(!d.join("m.vouch").exists(), "a package was written");
    stderr
}

#[test]
fn garbage_is_not_an_onnx_model() {
    compile_rejects(b"", &["not a readable ONNX model", "empty"]);
    compile_rejects(
        b"hello, I am not a protobuf at all \xff\xfe",
        &["not a readable ONNX model"],
    );
    compile_rejects(&[0xffu8; 4096], &["not a readable ONNX model"]);
    // Valid protobuf framing, nonsense content.
    compile_rejects(b"\x08\x07\x12\x03abc", &["no graph"]);
    let mut noise = Vec::new();
    let mut s = 0x1234_5678_9abc_def0u64;
    for _ in 0..10_000 {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        noise.push(s as u8);
    }
    compile_rejects(&noise, &["not a readable ONNX model"]);
}

#[test]
fn truncated_onnx_models_are_rejected() {
    let model = std::fs::read(example("model.onnx")).unwrap();
    let full = common::decode_model(&model);
    let dir = tempdir();
    let d = dir.path();
    let path = d.join("cut.onnx").display().to_string();
    let mut tried = 0;
    for cut in (0..model.len()).step_by(97) {
        std::fs::write(&path, &model[..cut]).unwrap();
        let out = vouch(d, &["compile", &path, "-o", "m.vouch"]);
        out.no_panic();
        if out.code == Some(0) {
            // Only a prefix holding the whole graph (missing trailing fields) may compile.
            let m = common::decode_model(&model[..cut]);
            assert_eq!(m.graph, full.graph, "a {cut}-byte prefix compiled");
            std::fs::remove_file(d.join("m.vouch")).unwrap();
        } else {
            out.input_error(&[]);
        }
        tried += 1;
    }
    assert!(tried >= 12, "only {tried} prefixes");
    // inspect reads ONNX too.
    std::fs::write(&path, &model[..model.len() / 2]).unwrap();
    vouch(d, &["inspect", &path]).input_error(&["truncated"]);
}

#[test]
fn unsupported_ops_are_named() {
    use common::{node, tiny_model};
    // Sanity: the hand-built model itself is fine.
    let dir = tempdir();
    let ok = write(
        dir.path(),
        "relu.onnx",
        &tiny_model(vec![node("Relu", "", &["x"], &["y"])], &[1, 4]),
    );
    vouch(dir.path(), &["compile", &ok, "-o", "relu.vouch"]).ok();

    let hardmax = tiny_model(vec![node("Hardmax", "", &["x"], &["y"])], &[1, 4]);
    compile_rejects(&hardmax, &["Hardmax"]);
    let custom = tiny_model(
        vec![node("Frobnicate", "com.example", &["x"], &["y"])],
        &[1, 4],
    );
    compile_rejects(&custom, &["Frobnicate"]);
    // inspect imports ONNX as well, and says the same.
    let d = dir.path();
    let p = write(d, "hardmax.onnx", &hardmax);
    vouch(d, &["inspect", &p]).input_error(&["hardmax.onnx", "unsupported op Hardmax"]);
}

#[test]
fn missing_node_input_is_named() {
    use common::{node, tiny_model};
    let m = tiny_model(vec![node("Add", "", &["x", "ghost"], &["y"])], &[1, 4]);
    compile_rejects(&m, &["ghost"]);
    // An output nothing produces.
    let m = tiny_model(vec![node("Relu", "", &["x"], &["z"])], &[1, 4]);
    compile_rejects(&m, &["'y'"]);
    // A cycle.
    let m = tiny_model(
        vec![
            node("Add", "", &["x", "b"], &["a"]),
            node("Relu", "", &["a"], &["b"]),
            node("Relu", "", &["a"], &["y"]),
        ],
        &[1, 4],
    );
    compile_rejects(&m, &[]);
}

#[test]
fn non_finite_weights_are_rejected() {
    // The message names the tensor and the element.
    let nan = common::example_with_weight(0, f32::NAN);
    compile_rejects(&nan, &["fc1.weight", "index 0 is NaN"]);
    compile_rejects(
        &common::example_with_weight(7, f32::INFINITY),
        &["index 7 is inf"],
    );
    compile_rejects(
        &common::example_with_weight(7, f32::NEG_INFINITY),
        &["index 7 is -inf"],
    );
}

#[test]
fn absurd_input_dimensions_are_rejected_before_allocation() {
    use common::example_with_input_dims as dims;
    compile_rejects(
        &dims(&[1, 1 << 40]),
        &["'input'", "1099511627776", "exceed the limit"],
    );
    compile_rejects(&dims(&[1 << 20, 1 << 20, 1 << 20]), &["exceed the limit"]);
    compile_rejects(&dims(&[i64::MAX, i64::MAX]), &["exceed the limit"]);
    compile_rejects(&dims(&[1, -64]), &["-64"]);
    // Wrong, but small: a shape error naming the mismatch.
    compile_rejects(&dims(&[1, 63]), &[]);
}

#[test]
fn bad_quantization_settings_are_input_errors() {
    let dir = tempdir();
    for flags in [
        ["--act-bits", "1"],
        ["--act-bits", "40"],
        ["--weight-bits", "0"],
        ["--weight-bits", "99"],
    ] {
        compile(dir.path(), "m.vouch", &flags).input_error(&["bits"]);
    }
    // A negative number is not a value: a clap usage error.
    compile(dir.path(), "m.vouch", &["--act-bits", "-3"]).input_error(&["-3"]);
}

#[test]
fn bad_calibration_data_is_an_input_error() {
    let dir = tempdir();
    let d = dir.path();
    let model = example("model.onnx");
    let mut data = vec![0.5f32; 2 * 64];
    data[70] = f32::NAN;
    let nan = write(d, "nan.npy", &npy::to_bytes_f32(&[2, 64], &data));
    vouch(
        d,
        &["compile", &model, "--calibration", &nan, "-o", "m.vouch"],
    )
    .input_error(&["nan.npy", "index 70 is NaN"]);
    let odd = write(d, "odd.npy", &npy::to_bytes_f32(&[2, 63], &[0.5; 126]));
    vouch(
        d,
        &["compile", &model, "--calibration", &odd, "-o", "m.vouch"],
    )
    .input_error(&["odd.npy", "whole samples"]);
    let junk = write(d, "junk.npy", b"\x93NUMPY\x01\x00\xff\xff{'descr': '<f4'");
    vouch(
        d,
        &["compile", &model, "--calibration", &junk, "-o", "m.vouch"],
    )
    .input_error(&["junk.npy", "not a valid .npy file"]);
    assert!(!d.join("m.vouch").exists());
}

// ----- bad input: run / eval ------------------------------------------------------------------

#[test]
fn run_rejects_inputs_of_the_wrong_shape() {
    let dir = tempdir();
    let d = dir.path();
    let pkg = compiled(d, "m.vouch");
    let short = write(d, "short.npy", &npy::to_bytes_f32(&[1, 63], &[0.5; 63]));
    vouch(d, &["run", &pkg, "--input", &short]).input_error(&["short.npy", "[1, 64]"]);
    let two = write(d, "two.npy", &npy::to_bytes_f32(&[2, 64], &[0.5; 128]));
    vouch(d, &["run", &pkg, "--input", &two]).input_error(&["2 samples"]);
    let empty = write(d, "empty.npy", &npy::to_bytes_f32(&[0, 64], &[]));
    vouch(d, &["run", &pkg, "--input", &empty]).input_error(&["empty.npy", "whole samples"]);
    for (name, text, needle) in [
        ("few.json", "[[1, 2, 3]]", "64 values"),
        ("words.json", "[[\"a\"]]", "expected numbers"),
        ("wrongkey.json", "{\"image\": [1]}", "'input'"),
        ("scalar.json", "3.5", "nested array"),
        ("notjson.json", "{not json", "neither"),
    ] {
        let p = write(d, name, text.as_bytes());
        vouch(d, &["run", &pkg, "--input", &p]).input_error(&[name, needle]);
    }
    // Deeply nested arrays: an error, not a stack overflow.
    let deep = format!("{}1{}", "[".repeat(100_000), "]".repeat(100_000));
    let p = write(d, "deep.json", deep.as_bytes());
    vouch(d, &["run", &pkg, "--input", &p]).input_error(&["deep.json", "valid JSON"]);
}

#[test]
fn run_rejects_non_finite_inputs() {
    let dir = tempdir();
    let d = dir.path();
    let pkg = compiled(d, "m.vouch");
    for (name, bad, needle) in [
        ("nan.npy", f32::NAN, "index 17 is NaN"),
        ("inf.npy", f32::INFINITY, "index 17 is inf"),
        ("neginf.npy", f32::NEG_INFINITY, "index 17 is -inf"),
    ] {
        let mut data = vec![0.25f32; 64];
        data[17] = bad;
        let p = write(d, name, &npy::to_bytes_f32(&[1, 64], &data));
        vouch(d, &["run", &pkg, "--input", &p]).input_error(&[name, needle]);
    }
    // JSON has no NaN, but a number beyond f32 would become infinite.
    let mut values = vec!["0.25".to_string(); 64];
    values[5] = "1e39".into();
    let p = write(
        d,
        "big.json",
        format!("[[{}]]", values.join(",")).as_bytes(),
    );
    vouch(d, &["run", &pkg, "--input", &p]).input_error(&["big.json", "float32 range"]);
    let p = write(d, "nan.json", b"[[NaN]]");
    vouch(d, &["run", &pkg, "--input", &p]).input_error(&["nan.json", "valid JSON"]);
}

#[test]
fn eval_rejects_mismatched_data() {
    let dir = tempdir();
    let d = dir.path();
    let pkg = compiled(d, "m.vouch");
    let tx = example("test_x.npy");
    let three = write(d, "three.npy", &npy::to_bytes_i64(&[3], &[1, 2, 3]));
    vouch(d, &["eval", &pkg, "--data", &tx, "--labels", &three]).input_error(&["3 labels"]);
    let mut labels = vec![0i64; 359];
    labels[9] = -1;
    let neg = write(d, "neg.npy", &npy::to_bytes_i64(&[359], &labels));
    vouch(d, &["eval", &pkg, "--data", &tx, "--labels", &neg]).input_error(&["label 9"]);
    let frac = write(d, "frac.npy", &npy::to_bytes_f32(&[359], &[0.5; 359]));
    vouch(d, &["eval", &pkg, "--data", &tx, "--labels", &frac]).input_error(&["class index"]);
    let ty = example("test_y.npy");
    vouch(d, &["eval", &pkg, "--data", &ty, "--labels", &ty]).input_error(&["[1, 64]"]);
    let not_onnx = write(d, "x.onnx", b"nope");
    vouch(
        d,
        &[
            "eval", &pkg, "--data", &tx, "--labels", &ty, "--onnx", &not_onnx,
        ],
    )
    .input_error(&["x.onnx", "not a readable ONNX model"]);
    // The float model of another network: its input does not take these samples.
    let relu = write(
        d,
        "relu.onnx",
        &common::tiny_model(vec![common::node("Relu", "", &["x"], &["y"])], &[1, 4]),
    );
    vouch(
        d,
        &[
            "eval", &pkg, "--data", &tx, "--labels", &ty, "--onnx", &relu,
        ],
    )
    .input_error(&[]);
}

// ----- bad input: packages and other files ----------------------------------------------------

#[test]
fn corrupt_packages_are_rejected() {
    let dir = tempdir();
    let d = dir.path();
    let pkg = compiled(d, "m.vouch");
    let bytes = std::fs::read(&pkg).unwrap();
    let input = example("input.npy");
    let digest = vouch(d, &["inspect", &pkg, "--json"]).json()["program"]["digest"].clone();
    let program_len = u64::from_le_bytes(bytes[12..20].try_into().unwrap()) as usize;
    let program = 20..20 + program_len;

    // The program's own magic.
    let mut b = bytes.clone();
    b[program.start + 1] ^= 0xff;
    let p = write(d, "magic.vouch", &b);
    vouch(d, &["run", &p, "--input", &input]).input_error(&["magic.vouch", "program"]);
    vouch(d, &["inspect", &p]).input_error(&["magic.vouch", "bad magic"]);
    // Truncated, at several places.
    for cut in [0, 7, 12, 19, 20, 100, bytes.len() / 2, bytes.len() - 1] {
        let p = write(d, "cut.vouch", &bytes[..cut]);
        vouch(d, &["run", &p, "--input", &input]).input_error(&["cut.vouch"]);
        vouch(d, &["inspect", &p, "--json"]).input_error(&[]);
    }
    // A sweep of single flipped bytes in the program: rejected, or a different model.
    let (mut rejected, mut other) = (0, 0);
    for pos in program.clone().step_by(29) {
        let mut b = bytes.clone();
        b[pos] ^= 0x5a;
        let p = write(d, "flip.vouch", &b);
        let out = vouch(d, &["inspect", &p, "--json"]);
        out.no_panic();
        if out.code == Some(0) {
            assert_ne!(
                out.json()["program"]["digest"],
                digest,
                "flip at {pos} kept the digest"
            );
            other += 1;
        } else {
            out.input_error(&["flip.vouch"]);
            rejected += 1;
        }
    }
    assert!(
        rejected > 0 && rejected + other >= 100,
        "{rejected} rejected, {other} other"
    );
    // Metadata that is not JSON.
    let mut b = bytes.clone();
    let n = b.len();
    b[n - 1] = b'#';
    let p = write(d, "meta.vouch", &b);
    vouch(
        d,
        &[
            "eval",
            &p,
            "--data",
            &example("test_x.npy"),
            "--labels",
            &example("test_y.npy"),
        ],
    )
    .input_error(&["meta.vouch", "metadata"]);
    // A package of a future format version.
    let mut b = bytes.clone();
    b[8] = 2;
    let p = write(d, "v2.vouch", &b);
    vouch(d, &["inspect", &p]).input_error(&["version 2"]);
    // Not a package at all.
    vouch(d, &["run", &input, "--input", &input]).input_error(&["not a Vouch model package"]);
}

/// Splits package bytes into (program section, metadata JSON).
fn sections(bytes: &[u8]) -> (&[u8], serde_json::Value) {
    let len = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap()) as usize;
    let p = len(12);
    let m = len(20 + p);
    (
        &bytes[20..20 + p],
        serde_json::from_slice(&bytes[28 + p..28 + p + m]).unwrap(),
    )
}

/// A package of `program` with metadata `meta` (the metadata is not covered by the digest).
fn package(program: &[u8], meta: &serde_json::Value) -> Vec<u8> {
    let meta = serde_json::to_vec(meta).unwrap();
    let mut out = b"VOUCHPKG".to_vec();
    out.extend_from_slice(&1u32.to_le_bytes());
    out.extend_from_slice(&(program.len() as u64).to_le_bytes());
    out.extend_from_slice(program);
    out.extend_from_slice(&(meta.len() as u64).to_le_bytes());
    out.extend_from_slice(&meta);
    out
}

#[test]
fn hostile_metadata_is_rejected() {
    let dir = tempdir();
    let d = dir.path();
    let bytes = std::fs::read(compiled(d, "m.vouch")).unwrap();
    let (program, meta) = sections(&bytes);
    let same = write(d, "same.vouch", &package(program, &meta));
    let original = vouch(d, &["inspect", "m.vouch", "--json"]).json();
    let rebuilt = vouch(d, &["inspect", &same, "--json"]).json();
    assert_eq!(rebuilt["program"]["digest"], original["program"]["digest"]);
    let x = npy::read(Path::new(&example("input.npy"))).unwrap();
    let input = write(
        d,
        "in.json",
        serde_json::json!({"input": [x.data], "extra": [1.0]})
            .to_string()
            .as_bytes(),
    );
    let mut edits: Vec<(&str, serde_json::Value)> = Vec::new();
    let mut m = meta.clone();
    m["input_names"] = serde_json::json!(["input", "extra"]);
    edits.push(("two_inputs.vouch", m));
    let mut m = meta.clone();
    m["input_names"] = serde_json::json!([]);
    edits.push(("no_inputs.vouch", m));
    let mut m = meta.clone();
    m["output_names"] = serde_json::json!(["a", "b", "c"]);
    edits.push(("three_outputs.vouch", m));
    let mut m = meta.clone();
    m["calibration"] = serde_json::json!("everything");
    edits.push(("bad_calibration.vouch", m));
    for (name, m) in edits {
        let p = write(d, name, &package(program, &m));
        vouch(d, &["run", &p, "--input", &input]).input_error(&[name, "metadata"]);
        vouch(d, &["inspect", &p, "--json"]).input_error(&[name, "metadata"]);
    }
    // Descriptive fields may say anything: the digest (the program) is unchanged.
    let mut m = meta.clone();
    m["source"] = serde_json::json!("something else.onnx");
    m["report"] = serde_json::Value::Null;
    let p = write(d, "renamed.vouch", &package(program, &m));
    let r = vouch(d, &["run", &p, "--input", &example("input.npy"), "--json"]).json();
    assert_eq!(r["digest"], original["program"]["digest"]);
}

#[test]
fn hostile_npy_headers_are_rejected_before_allocation() {
    let dir = tempdir();
    let d = dir.path();
    let pkg = compiled(d, "m.vouch");
    let npy_with = |shape: &str| {
        let mut header = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': {shape}, }}");
        header.push_str(&" ".repeat(63 - (10 + header.len()) % 64));
        header.push('\n');
        let mut b = b"\x93NUMPY\x01\x00".to_vec();
        b.extend_from_slice(&(header.len() as u16).to_le_bytes());
        b.extend_from_slice(header.as_bytes());
        b.extend_from_slice(&[0u8; 256]);
        b
    };
    assert!(
        npy::parse(&npy_with("(1, 64)")).is_ok(),
        "the test's .npy writer is off"
    );
    for (name, shape, needle) in [
        ("huge.npy", "(1099511627776,)", "too large"),
        (
            "overflow.npy",
            "(4294967296, 4294967296, 4294967296)",
            "too large",
        ),
        ("big.npy", "(1073741824,)", "truncated"),
        ("negative.npy", "(-1, 64)", "dimension"),
    ] {
        let p = write(d, name, &npy_with(shape));
        vouch(d, &["run", &pkg, "--input", &p]).input_error(&[name, needle]);
        vouch(d, &["inspect", &p]).input_error(&[name, needle]);
    }
    let mut fortran = npy_with("(1, 64)");
    let at = fortran.windows(5).position(|w| w == b"False").unwrap();
    fortran[at..at + 5].copy_from_slice(b"True ");
    let p = write(d, "fortran.npy", &fortran);
    vouch(d, &["run", &pkg, "--input", &p]).input_error(&["fortran.npy", "Fortran-order"]);
}

#[test]
fn inspect_rejects_unknown_files() {
    let dir = tempdir();
    let d = dir.path();
    for (name, bytes) in [
        ("text.txt", &b"just some text\n"[..]),
        ("empty.bin", &b""[..]),
        ("png.png", &b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"[..]),
    ] {
        let p = write(d, name, bytes);
        vouch(d, &["inspect", &p]).input_error(&[name, "not a Vouch file"]);
        vouch(d, &["inspect", &p, "--json"]).input_error(&[name]);
    }
    let p = write(d, "bad.npy", b"\x93NUMPY\x01\x00\x05\x00{'de");
    vouch(d, &["inspect", &p]).input_error(&["bad.npy", "not a valid .npy file"]);
    let sub = d.join("subdir");
    std::fs::create_dir(&sub).unwrap();
    vouch(d, &["inspect", "subdir"]).input_error(&["subdir", "cannot read"]);
}

#[test]
fn missing_files_are_input_errors() {
    let dir = tempdir();
    let d = dir.path();
    let pkg = compiled(d, "m.vouch");
    let (model, input) = (example("model.onnx"), example("input.npy"));
    let (tx, ty) = (example("test_x.npy"), example("test_y.npy"));
    vouch(d, &["compile", "nope.onnx", "-o", "x.vouch"])
        .input_error(&["nope.onnx", "no such file"]);
    vouch(
        d,
        &[
            "compile",
            &model,
            "--calibration",
            "nope.npy",
            "-o",
            "x.vouch",
        ],
    )
    .input_error(&["nope.npy", "no such file"]);
    vouch(d, &["run", "nope.vouch", "--input", &input])
        .input_error(&["nope.vouch", "no such file"]);
    vouch(d, &["run", &pkg, "--input", "nope.npy"]).input_error(&["nope.npy", "no such file"]);
    vouch(
        d,
        &["run", &pkg, "--input", &input, "--reference", "nope.npy"],
    )
    .input_error(&["nope.npy", "no such file"]);
    vouch(d, &["eval", "nope.vouch", "--data", &tx, "--labels", &ty])
        .input_error(&["nope.vouch", "no such file"]);
    vouch(d, &["eval", &pkg, "--data", "nope.npy", "--labels", &ty])
        .input_error(&["nope.npy", "no such file"]);
    vouch(d, &["eval", &pkg, "--data", &tx, "--labels", "nope.npy"])
        .input_error(&["nope.npy", "no such file"]);
    vouch(
        d,
        &[
            "eval",
            &pkg,
            "--data",
            &tx,
            "--labels",
            &ty,
            "--onnx",
            "nope.onnx",
        ],
    )
    .input_error(&["nope.onnx", "no such file"]);
    vouch(d, &["inspect", "nope.vouch"]).input_error(&["nope.vouch", "no such file"]);
    assert!(!d.join("x.vouch").exists());
}

#[test]
fn usage_errors_exit_2() {
    let dir = tempdir();
    let d = dir.path();
    let usage = |args: &[&str]| {
        let out = vouch(d, args);
        out.no_panic();
        assert_eq!(out.code, Some(2), "vouch {args:?}: {}", out.stderr);
        assert!(
            out.stderr.starts_with("error:") || out.stderr.contains("Usage"),
            "vouch {args:?}: {}",
            out.stderr
        );
        assert!(out.stdout.is_empty());
    };
    usage(&[]);
    usage(&["frobnicate"]);
    usage(&["compile", "--bogus"]);
    usage(&["compile", "model.onnx"]);
    usage(&["run", "m.vouch"]);
    usage(&["eval", "m.vouch", "--data", "x.npy"]);
    usage(&["inspect"]);
    usage(&["inspect", "a", "b"]);
    usage(&["compile", "m.onnx", "-o", "x", "--act-bits", "eight"]);
    usage(&["--json"]);
    // Help and version are successes.
    assert!(vouch(d, &["--help"]).ok().contains("compile"));
    assert!(vouch(d, &["compile", "--help"])
        .ok()
        .contains("--calibration"));
    assert!(vouch(d, &["--version"]).ok().starts_with("vouch "));
}
