//! Tests of `vouch setup`, `prove` and `verify` on the bundled example with an insecure dev
//! setup (input public, weights fixed, output public): the main job in text and `--json`, one
//! test per attack on the proof file (flipped proof bytes and edited statements exit 1, cut or
//! garbage files exit 2), keys for another model, expected digests and commitments, malformed
//! keys directories, and output-file safety.
//!
//! The model, keys and proof are made once for the whole file (a few seconds of proving) in
//! `CARGO_TARGET_TMPDIR`; each test copies what it edits into its own temporary directory.

#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use common::{example, vouch, write, Output};
use vouch::artifact::ProofFile;

/// Setup flags of the policy every test uses: input public, weights fixed, output public.
const POLICY: [&str; 6] = [
    "--input-vis",
    "public",
    "--weights-vis",
    "fixed",
    "--output-vis",
    "public",
];

/// What is built once: two models (the example and one with a changed weight), keys for
/// each, and a proof for the example.
struct Fixture {
    dir: PathBuf,
    model: String,
    other_model: String,
    keys: String,
    other_keys: String,
    proof: String,
    setup_json: serde_json::Value,
    prove_json: serde_json::Value,
}

fn setup_args<'a>(model: &'a str, keys: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "setup",
        model,
        "--backend",
        "halo2",
        "--insecure-dev-setup",
        "-o",
        keys,
    ];
    args.extend_from_slice(&POLICY);
    args.extend_from_slice(extra);
    args
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let dir = common::fixture_dir("prove-fixture");
        let d = dir.as_path();
        let path = |n: &str| d.join(n).display().to_string();
        common::compile_example_and_other(d);
        let mut args = setup_args("model.vouch", "keys", &[]);
        args.push("--json");
        let setup_json = vouch(d, &args).json();
        vouch(d, &setup_args("other.vouch", "other-keys", &[])).ok();
        let prove_json = vouch(
            d,
            &[
                "prove",
                "model.vouch",
                "--keys",
                "keys",
                "--input",
                &example("input.npy"),
                "-o",
                "model.proof",
                "--json",
            ],
        )
        .json();
        Fixture {
            model: path("model.vouch"),
            other_model: path("other.vouch"),
            keys: path("keys"),
            other_keys: path("other-keys"),
            proof: path("model.proof"),
            dir,
            setup_json,
            prove_json,
        }
    })
}

fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

/// `vouch verify PROOF --keys KEYS EXTRA...` in `dir`.
fn verify(dir: &Path, proof: &str, keys: &str, extra: &[&str]) -> Output {
    let mut args = vec!["verify", proof, "--keys", keys];
    args.extend_from_slice(extra);
    vouch(dir, &args)
}

/// Asserts exit status 1 (a proof that is not accepted) with `needle` in the reason.
fn invalid(out: &Output, needle: &str) {
    out.no_panic();
    assert_eq!(
        out.code,
        Some(1),
        "vouch {:?}: expected exit status 1\nstdout:\n{}\nstderr:\n{}",
        out.args,
        out.stdout,
        out.stderr
    );
    let line = out
        .stdout
        .lines()
        .find(|l| l.starts_with("INVALID: "))
        .unwrap_or_else(|| panic!("vouch {:?}: no INVALID line:\n{}", out.args, out.stdout));
    assert!(
        line.to_lowercase().contains(&needle.to_lowercase()),
        "vouch {:?}: '{line}' does not mention '{needle}'",
        out.args
    );
    assert!(!out.stdout.contains("VALID "), "{}", out.stdout);
}

/// Byte range of the proof section inside a proof file.
fn proof_section(bytes: &[u8]) -> std::ops::Range<usize> {
    let s = u64::from_le_bytes(bytes[12..20].try_into().unwrap()) as usize;
    let at = 20 + s;
    let p = u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap()) as usize;
    at + 8..at + 8 + p
}

// ----- the main job ---------------------------------------------------------------------------

#[test]
fn setup_prove_verify_text_and_json() {
    let f = fixture();
    let d = f.dir.as_path();

    let s = &f.setup_json;
    let digest = s["digest"].as_str().unwrap().to_string();
    assert_eq!(digest.len(), 64);
    assert_eq!(s["backend"], "halo2");
    assert_eq!(
        s["policy"],
        serde_json::json!({"input": "public", "weights": "fixed", "output": "public"})
    );
    assert_eq!(s["insecure_setup"], true);
    let k = s["k"].as_u64().unwrap();
    assert!((8..=20).contains(&k), "k = {k}");
    assert!(s["rows"].as_u64().unwrap() > 0);
    assert!(s["setup_ms"].as_f64().unwrap() > 0.0);
    let public: Vec<&str> = s["public"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["role"].as_str().unwrap())
        .collect();
    assert_eq!(public, ["input", "output"]);
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(Path::new(&f.keys).join("keys.json")).unwrap())
            .unwrap();
    assert_eq!(summary["model_digest"], digest.as_str());
    assert_eq!(summary["k"], k);
    assert_eq!(summary["insecure_setup"], true);
    assert_eq!(summary["format"], "vouch-keys");

    // prove: the proven outputs are the interpreter's.
    let p = &f.prove_json;
    assert_eq!(p["digest"], digest.as_str());
    assert_eq!(p["k"], k);
    assert_eq!(p["insecure_setup"], true);
    assert!(p["prove_ms"].as_f64().unwrap() > 0.0);
    let size = std::fs::metadata(&f.proof).unwrap().len();
    assert_eq!(p["proof_bytes"], size);
    let run = vouch(
        d,
        &["run", &f.model, "--input", &example("input.npy"), "--json"],
    )
    .json();
    assert_eq!(p["outputs"][0]["values"], run["outputs"][0]["values"]);
    assert_eq!(p["outputs"][0]["quantized"], run["outputs"][0]["quantized"]);
    assert_eq!(p["outputs_int"][0], run["outputs"][0]["quantized"]);
    assert_eq!(p["outputs"][0]["name"], "logits");

    // verify, text: valid, insecure, the outputs shown.
    let out = verify(d, &f.proof, &f.keys, &[]);
    let stdout = out.ok();
    assert!(stdout.contains("VALID"), "{stdout}");
    assert!(!stdout.contains("INVALID"), "{stdout}");
    assert!(stdout.contains("INSECURE dev setup"), "{stdout}");
    assert!(out.stderr.contains("INSECURE"), "{}", out.stderr);
    assert!(stdout.contains(&digest), "{stdout}");
    assert!(stdout.contains("logits [1, 10]"), "{stdout}");

    // verify, JSON: the public outputs are the proven ones.
    let v = verify(d, &f.proof, &f.keys, &["--json"]).json();
    assert_eq!(v["valid"], true);
    assert!(v["reason"].is_null());
    assert_eq!(v["digest"], digest.as_str());
    assert_eq!(v["insecure_setup"], true);
    assert_eq!(v["outputs"][0]["name"], "logits");
    assert_eq!(v["outputs"][0]["quantized"], run["outputs"][0]["quantized"]);
    let real: Vec<f64> = serde_json::from_value(v["outputs"][0]["values"].clone()).unwrap();
    let want: Vec<f64> = serde_json::from_value(run["outputs"][0]["values"].clone()).unwrap();
    for (a, b) in real.iter().zip(&want) {
        assert!((a - b).abs() <= 1e-5 * (1.0 + b.abs()), "{a} vs {b}");
    }

    // The expected model digest passes; a keys.json path names its directory.
    let keys_json = Path::new(&f.keys).join("keys.json").display().to_string();
    verify(d, &f.proof, &keys_json, &["--model-digest", &digest]).ok();

    // inspect knows keys directories, verifying keys and proofs.
    let i = vouch(d, &["inspect", &f.keys, "--json"]).json();
    assert_eq!(i["kind"], "keys directory");
    assert_eq!(i["digest"], digest.as_str());
    assert_eq!(i["k"], k);
    assert_eq!(i["insecure_setup"], true);
    assert_eq!(vouch(d, &["inspect", &keys_json, "--json"]).json(), i);
    let vk = Path::new(&f.keys).join("halo2.vk").display().to_string();
    let i = vouch(d, &["inspect", &vk, "--json"]).json();
    assert_eq!(i["kind"], "halo2 verifying key");
    assert_eq!(i["digest"], digest.as_str());
    assert_eq!(i["k"], k);
    let i = vouch(d, &["inspect", &f.proof, "--json"]).json();
    assert_eq!(i["kind"], "proof");
    assert_eq!(i["backend"], "halo2");
    assert_eq!(i["digest"], digest.as_str());
    assert_eq!(i["k"], k);
    assert_eq!(i["insecure_setup"], true);
    let text = vouch(d, &["inspect", &f.proof]).ok().to_string();
    assert!(text.contains("proof") && text.contains(&digest), "{text}");
    assert!(text.contains("INSECURE"), "{text}");
    let text = vouch(d, &["inspect", &f.keys]).ok().to_string();
    assert!(
        text.contains("keys directory") && text.contains(&digest),
        "{text}"
    );
}

// ----- attacks on the proof --------------------------------------------------------------------

#[test]
fn flipped_proof_bytes_are_invalid() {
    let f = fixture();
    let dir = tempdir();
    let d = dir.path();
    let bytes = std::fs::read(&f.proof).unwrap();
    let r = proof_section(&bytes);
    assert!(r.len() > 100, "proof of {} bytes", r.len());
    let positions = [
        r.start,
        r.start + 31,
        r.start + r.len() / 3,
        r.start + r.len() / 2 + 7,
        r.end - 33,
        r.end - 1,
    ];
    for (n, at) in positions.into_iter().enumerate() {
        let mut b = bytes.clone();
        b[at] ^= 0x01;
        let p = write(d, &format!("flip{n}.proof"), &b);
        invalid(&verify(d, &p, &f.keys, &[]), "");
        let v = verify(d, &p, &f.keys, &["--json"]);
        assert_eq!(v.code, Some(1), "{}", v.stderr);
        let v: serde_json::Value = serde_json::from_str(&v.stdout).unwrap();
        assert_eq!(v["valid"], false);
        assert_eq!(v["check"], "proof");
        assert!(v["outputs"].is_null(), "an invalid proof's outputs shown");
    }
}

#[test]
fn edited_statements_are_invalid() {
    let f = fixture();
    let dir = tempdir();
    let d = dir.path();
    let original = ProofFile::read(Path::new(&f.proof)).unwrap();
    let edit = |name: &str, change: &dyn Fn(&mut ProofFile)| {
        let mut p = original.clone();
        change(&mut p);
        write(d, name, &p.to_bytes().unwrap())
    };
    // Another output than the one computed.
    let p = edit("output.proof", &|p| {
        let last = p.statement.public.last_mut().unwrap();
        last.values[0] += 1;
    });
    invalid(&verify(d, &p, &f.keys, &[]), "");
    // Another input.
    let p = edit("input.proof", &|p| p.statement.public[0].values[3] ^= 1);
    invalid(&verify(d, &p, &f.keys, &[]), "");
    // Claiming a secure setup.
    let p = edit("secure.proof", &|p| p.statement.insecure_setup = false);
    invalid(&verify(d, &p, &f.keys, &[]), "insecure");
    // A statement about another model.
    let other = vouch::artifact::ModelPackage::read(Path::new(&f.other_model)).unwrap();
    let p = edit("model.proof", &|p| {
        p.statement.program_digest = other.digest()
    });
    invalid(&verify(d, &p, &f.keys, &[]), "keys are for model");
    // Outputs dropped from the statement.
    let p = edit("dropped.proof", &|p| {
        p.statement.public.pop();
    });
    invalid(&verify(d, &p, &f.keys, &[]), "public");
    // The descriptive metadata is not proven: editing it changes nothing.
    let p = edit("meta.proof", &|p| p.meta.vouch_version = "9.9.9".into());
    verify(d, &p, &f.keys, &[]).ok();
}

#[test]
fn malformed_proof_files_exit_2() {
    let f = fixture();
    let dir = tempdir();
    let d = dir.path();
    let bytes = std::fs::read(&f.proof).unwrap();
    let r = proof_section(&bytes);
    let mut cases: Vec<(String, Vec<u8>)> = [
        0,
        5,
        12,
        19,
        40,
        r.start - 1,
        r.start + 10,
        r.end,
        bytes.len() - 1,
    ]
    .into_iter()
    .map(|cut| (format!("cut{cut}.proof"), bytes[..cut].to_vec()))
    .collect();
    let mut long = bytes.clone();
    long.push(0);
    cases.push(("long.proof".into(), long));
    cases.push(("garbage.proof".into(), b"definitely not a proof".to_vec()));
    let mut version = bytes.clone();
    version[8] = 2;
    cases.push(("version.proof".into(), version));
    let mut json = bytes.clone();
    json[21] = b'#';
    cases.push(("json.proof".into(), json));
    let mut huge = bytes.clone();
    huge[12..20].copy_from_slice(&u64::MAX.to_le_bytes());
    cases.push(("huge.proof".into(), huge));
    cases.push(("model.proof".into(), std::fs::read(&f.model).unwrap()));
    for (name, b) in &cases {
        let p = write(d, name, b);
        verify(d, &p, &f.keys, &[]).input_error(&[name]);
        verify(d, &p, &f.keys, &["--json"]).input_error(&[name]);
    }
    verify(d, "missing.proof", &f.keys, &[]).input_error(&["missing.proof", "no such file"]);
    // A proof of an unknown backend is a file this build cannot read.
    let mut p = ProofFile::read(Path::new(&f.proof)).unwrap();
    p.statement.backend = "plonky9".into();
    let path = write(d, "plonky9.proof", &p.to_bytes().unwrap());
    verify(d, &path, &f.keys, &[]).input_error(&["plonky9.proof", "backend"]);
    // One of another backend than the keys' is a proof no check applies to.
    p.statement.backend = "gkr".into();
    let path = write(d, "gkr.proof", &p.to_bytes().unwrap());
    verify(d, &path, &f.keys, &[]).input_error(&["gkr.proof", "gkr backend", "halo2 keys"]);
}

// ----- what the verifier expects ---------------------------------------------------------------

#[test]
fn expected_digest_and_commitment() {
    let f = fixture();
    let d = f.dir.as_path();
    let other = vouch(d, &["inspect", &f.other_model, "--json"]).json()["program"]["digest"]
        .as_str()
        .unwrap()
        .to_string();
    invalid(
        &verify(d, &f.proof, &f.keys, &["--model-digest", &other]),
        "not the expected",
    );
    let v = verify(d, &f.proof, &f.keys, &["--model-digest", &other, "--json"]);
    assert_eq!(v.code, Some(1));
    let v: serde_json::Value = serde_json::from_str(&v.stdout).unwrap();
    assert_eq!(v["check"], "model_digest");
    verify(d, &f.proof, &f.keys, &["--model-digest", "abc"]).input_error(&["--model-digest"]);
    // This policy commits to nothing, so no commitment can be found.
    invalid(
        &verify(d, &f.proof, &f.keys, &["--commitment", "deadbeef"]),
        "no commitments",
    );
    invalid(
        &verify(d, &f.proof, &f.keys, &["--commitment", "weights:deadbeef"]),
        "weights commitment",
    );
    verify(d, &f.proof, &f.keys, &["--commitment", "xyz"]).input_error(&["--commitment"]);
    verify(d, &f.proof, &f.keys, &["--commitment", "bias:00"]).input_error(&["bias"]);
}

#[test]
fn keys_for_another_model() {
    let f = fixture();
    let d = f.dir.as_path();
    invalid(
        &verify(d, &f.proof, &f.other_keys, &[]),
        "keys are for model",
    );
    let dir = tempdir();
    vouch(
        dir.path(),
        &[
            "prove",
            &f.model,
            "--keys",
            &f.other_keys,
            "--input",
            &example("input.npy"),
            "-o",
            "x.proof",
        ],
    )
    .input_error(&["made for model", "vouch setup"]);
    assert!(!dir.path().join("x.proof").exists());
}

// ----- setup arguments -------------------------------------------------------------------------

#[test]
fn setup_needs_exactly_one_source_of_parameters() {
    let f = fixture();
    let dir = tempdir();
    let d = dir.path();
    let base = ["setup", &f.model, "--backend", "halo2", "-o", "k"];
    let run = |extra: &[&str]| {
        let mut args = base.to_vec();
        args.extend_from_slice(extra);
        vouch(d, &args)
    };
    let usage = |out: Output| {
        out.no_panic();
        assert_eq!(out.code, Some(2), "{:?}: {}", out.args, out.stderr);
        assert!(out.stderr.contains("error"), "{}", out.stderr);
        assert!(out.stdout.is_empty());
    };
    usage(run(&[]));
    let garbage = write(d, "garbage.srs", &[7u8; 300]);
    usage(run(&["--srs", &garbage, "--insecure-dev-setup"]));
    usage(run(&[
        "--srs-sha256",
        &"0".repeat(64),
        "--insecure-dev-setup",
    ]));
    usage(vouch(
        d,
        &["setup", &f.model, "-o", "k", "--insecure-dev-setup"],
    ));
    usage(run(&["--insecure-dev-setup", "--preset", "server"]));
    usage(run(&["--insecure-dev-setup", "--weights-vis", "secret"]));
    run(&["--srs", "missing.srs"]).input_error(&["missing.srs"]);
    run(&["--srs", &garbage]).input_error(&["garbage.srs", "not a halo2 KZG parameter file"]);
    run(&["--srs", &garbage, "--srs-sha256", &"0".repeat(64)])
        .input_error(&["garbage.srs", "expected"]);
    run(&["--srs", &garbage, "--srs-sha256", "00ff"]).input_error(&["--srs-sha256"]);
    assert!(!d.join("k").exists(), "a failed setup left keys behind");
}

/// `vouch setup --preset PRESET` of the fixture's model into `d/out`, as JSON.
fn setup_preset(d: &Path, model: &str, preset: &str, out: &str) -> serde_json::Value {
    vouch(
        d,
        &[
            "setup",
            model,
            "--backend",
            "halo2",
            "--preset",
            preset,
            "--insecure-dev-setup",
            "-o",
            out,
            "--json",
        ],
    )
    .json()
}

/// `vouch prove` of the example input with `keys` into `d/out`.
fn prove_with(d: &Path, model: &str, keys: &str, out: &str) -> Output {
    vouch(
        d,
        &[
            "prove",
            model,
            "--keys",
            keys,
            "--input",
            &example("input.npy"),
            "-o",
            out,
            "--json",
        ],
    )
}

/// The hex of the commitment for `role` in a prove or verify JSON report.
fn commitment(report: &serde_json::Value, role: &str) -> String {
    report["commitments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["role"] == role)
        .unwrap_or_else(|| panic!("no {role} commitment in {report}"))["hex"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn provider_preset_publishes_one_weights_commitment() {
    let f = fixture();
    let dir = tempdir();
    let d = dir.path();
    let s = setup_preset(d, &f.model, "provider", "pk");
    assert_eq!(s["preset"], "provider");
    assert_eq!(s["policy"]["weights"], "hashed");
    let published = s["weights_commitment"].as_str().unwrap().to_string();
    assert_eq!(published.len(), 64);
    // `vouch commit` gives the same commitment before any proof exists.
    let c = vouch(d, &["commit", &f.model, "--keys", "pk", "--json"]).json();
    assert_eq!(c["weights_commitment"].as_str().unwrap(), published);
    let blinding = d.join("pk/weights.blinding");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&blinding).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "weights.blinding is readable by others");
    }
    // Every proof carries the published commitment.
    let p1 = prove_with(d, &f.model, "pk", "1.proof").json();
    let p2 = prove_with(d, &f.model, "pk", "2.proof").json();
    assert_eq!(commitment(&p1, "weights"), published);
    assert_eq!(commitment(&p2, "weights"), published);
    // Verifiers need only keys.json and halo2.vk.
    let public = d.join("public");
    std::fs::create_dir(&public).unwrap();
    for file in ["keys.json", "halo2.vk"] {
        std::fs::copy(d.join("pk").join(file), public.join(file)).unwrap();
    }
    let v = verify(d, "1.proof", "public", &["--json"]).json();
    assert_eq!(v["valid"], true);
    assert_eq!(commitment(&v, "weights"), published);
    let pinned = format!("weights:{published}");
    verify(d, "2.proof", "public", &["--commitment", &pinned]).ok();
    verify(d, "2.proof", "public", &["--commitment", &published]).ok();
    invalid(
        &verify(
            d,
            "2.proof",
            "public",
            &["--commitment", &format!("input:{published}")],
        ),
        "input commitment",
    );
    // Without the secret blinding nobody can prove under the published commitment.
    prove_with(d, &f.model, "public", "x.proof").input_error(&["weights.blinding"]);
    // A wrong blinding does not open the commitment; a garbled one is malformed.
    std::fs::write(&blinding, format!("{}\n", "11".repeat(32))).unwrap();
    prove_with(d, &f.model, "pk", "x.proof").input_error(&["weights.blinding", "commitment"]);
    std::fs::write(&blinding, "not hex").unwrap();
    prove_with(d, &f.model, "pk", "x.proof").input_error(&["weights.blinding", "hex"]);
    assert!(!d.join("x.proof").exists());
    // Keys that publish another commitment turn down proofs about these weights.
    let mut summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(public.join("keys.json")).unwrap()).unwrap();
    summary["weights_commitment"] = serde_json::json!("22".repeat(32));
    std::fs::write(public.join("keys.json"), summary.to_string()).unwrap();
    invalid(&verify(d, "1.proof", "public", &[]), "weights commitment");
}

#[test]
fn client_preset_hides_the_input_behind_a_fresh_commitment() {
    let f = fixture();
    let dir = tempdir();
    let d = dir.path();
    let s = setup_preset(d, &f.model, "client", "ck");
    assert_eq!(s["preset"], "client");
    assert!(s["weights_commitment"].is_null());
    assert!(!d.join("ck/weights.blinding").exists());
    let p1 = prove_with(d, &f.model, "ck", "1.proof").json();
    let p2 = prove_with(d, &f.model, "ck", "2.proof").json();
    // The same input gives unlinkable commitments (fresh blinding per proof).
    assert_ne!(commitment(&p1, "input"), commitment(&p2, "input"));
    for proof in ["1.proof", "2.proof"] {
        let v = verify(d, proof, "ck", &["--json"]).json();
        assert_eq!(v["valid"], true);
        assert_eq!(v["outputs"][0]["quantized"], p1["outputs_int"][0]);
        let public: Vec<&str> = v["public"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["role"].as_str().unwrap())
            .collect();
        assert_eq!(public, ["output"], "the input is not public under client");
    }
    let c1 = format!("input:{}", commitment(&p1, "input"));
    verify(d, "1.proof", "ck", &["--commitment", &c1]).ok();
    invalid(
        &verify(d, "2.proof", "ck", &["--commitment", &c1]),
        "input commitment",
    );
}

// ----- malformed keys and output safety --------------------------------------------------------

/// A copy of the fixture's keys directory in `d/name`.
fn copy_keys(f: &Fixture, d: &Path, name: &str) -> PathBuf {
    let to = d.join(name);
    std::fs::create_dir(&to).unwrap();
    for file in ["keys.json", "halo2.vk"] {
        std::fs::copy(Path::new(&f.keys).join(file), to.join(file)).unwrap();
    }
    to
}

#[test]
fn malformed_keys_directories_exit_2() {
    let f = fixture();
    let dir = tempdir();
    let d = dir.path();
    let input = example("input.npy");
    let check = |keys: &Path, needles: &[&str]| {
        let k = keys.display().to_string();
        verify(d, &f.proof, &k, &[]).input_error(needles);
        vouch(
            d,
            &[
                "prove", &f.model, "--keys", &k, "--input", &input, "-o", "x.proof",
            ],
        )
        .input_error(needles);
    };
    check(&d.join("nowhere"), &["nowhere"]);
    let k = copy_keys(f, d, "no-summary");
    std::fs::remove_file(k.join("keys.json")).unwrap();
    check(&k, &["no-summary", "keys.json"]);
    let k = copy_keys(f, d, "no-vk");
    std::fs::remove_file(k.join("halo2.vk")).unwrap();
    check(&k, &["no-vk", "halo2.vk"]);
    let k = copy_keys(f, d, "bad-summary");
    std::fs::write(k.join("keys.json"), b"{not json").unwrap();
    check(&k, &["bad-summary", "keys.json"]);
    let vk = std::fs::read(Path::new(&f.keys).join("halo2.vk")).unwrap();
    for (name, bytes) in [
        ("cut-vk", vk[..vk.len() / 2].to_vec()),
        ("empty-vk", Vec::new()),
        ("garbage-vk", b"VOUCHH2K\x01\x00\x00\x00garbage".to_vec()),
    ] {
        let k = copy_keys(f, d, name);
        std::fs::write(k.join("halo2.vk"), bytes).unwrap();
        check(&k, &[name, "halo2.vk"]);
    }
    // A summary that no longer describes the key.
    let k = copy_keys(f, d, "edited-summary");
    let mut s: serde_json::Value =
        serde_json::from_slice(&std::fs::read(k.join("keys.json")).unwrap()).unwrap();
    s["insecure_setup"] = serde_json::json!(false);
    std::fs::write(k.join("keys.json"), s.to_string()).unwrap();
    check(&k, &["edited-summary", "insecure"]);
    // The other model's key file under this model's summary.
    let k = copy_keys(f, d, "swapped-vk");
    std::fs::copy(
        Path::new(&f.other_keys).join("halo2.vk"),
        k.join("halo2.vk"),
    )
    .unwrap();
    check(&k, &["swapped-vk", "disagrees"]);
    // A plain file.
    let p = write(d, "file-keys", b"hello");
    check(Path::new(&p), &["file-keys", "not a keys directory"]);
    assert!(!d.join("x.proof").exists());
}

#[test]
fn outputs_are_not_overwritten_without_force() {
    let f = fixture();
    let dir = tempdir();
    let d = dir.path();
    let input = example("input.npy");

    // prove: an existing file stays as it was, --force replaces it.
    let taken = write(d, "taken.proof", b"precious");
    let prove = |extra: &[&str]| {
        let mut args = vec![
            "prove", &f.model, "--keys", &f.keys, "--input", &input, "-o", &taken,
        ];
        args.extend_from_slice(extra);
        vouch(d, &args)
    };
    prove(&[]).input_error(&["taken.proof", "--force"]);
    assert_eq!(std::fs::read(&taken).unwrap(), b"precious");
    prove(&["--force"]).ok();
    verify(d, &taken, &f.keys, &[]).ok();

    // setup: a non-empty directory needs --force; one holding other files is never replaced;
    // a plain file is never replaced.
    let keys = copy_keys(f, d, "keys");
    let before = std::fs::read(keys.join("halo2.vk")).unwrap();
    vouch(d, &setup_args(&f.model, "keys", &[])).input_error(&["keys", "--force"]);
    assert_eq!(std::fs::read(keys.join("halo2.vk")).unwrap(), before);
    let mixed = copy_keys(f, d, "mixed");
    std::fs::write(mixed.join("notes.txt"), b"mine").unwrap();
    vouch(d, &setup_args(&f.model, "mixed", &["--force"])).input_error(&["mixed", "notes.txt"]);
    assert_eq!(std::fs::read(mixed.join("notes.txt")).unwrap(), b"mine");
    write(d, "plain", b"mine");
    vouch(d, &setup_args(&f.model, "plain", &["--force"]))
        .input_error(&["plain", "not a directory"]);
    assert_eq!(std::fs::read(d.join("plain")).unwrap(), b"mine");

    // --force replaces a keys directory: new keys (fresh dev parameters), still usable.
    vouch(d, &setup_args(&f.model, "keys", &["--force"])).ok();
    assert_ne!(std::fs::read(keys.join("halo2.vk")).unwrap(), before);
    let leftovers: Vec<_> = std::fs::read_dir(d)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
    // The old proof was made with other parameters: it does not verify with the new keys.
    invalid(&verify(d, &taken, &keys.display().to_string(), &[]), "");
}

#[test]
fn usage_errors_exit_2() {
    let dir = tempdir();
    let d = dir.path();
    for args in [
        &["setup"][..],
        &[
            "setup",
            "m.vouch",
            "--backend",
            "gkr",
            "--insecure-dev-setup",
            "-o",
            "k",
        ],
        &["prove", "m.vouch", "--input", "x.npy", "-o", "p"],
        &["prove", "m.vouch", "--keys", "k", "-o", "p"],
        &["prove", "m.vouch", "--keys", "k", "--input", "x.npy"],
        &["verify", "p.proof"],
        &["verify", "--keys", "k"],
    ] {
        let out = vouch(d, args);
        out.no_panic();
        assert_eq!(out.code, Some(2), "vouch {args:?}: {}", out.stderr);
        assert!(out.stdout.is_empty());
    }
    let help = vouch(d, &["--help"]).ok().to_string();
    for c in ["setup", "prove", "verify"] {
        assert!(help.contains(c), "{help}");
    }
}
