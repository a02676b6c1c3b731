//! Tests of `vouch setup --backend gkr`, `prove` and `verify` on the bundled example: the main
//! job in text and `--json` (the default policy and the same policy spelled out), `inspect` on
//! gkr keys and proofs (backend, parameters digest, security level), a flipped proof byte
//! (exit 1), keys for another model (exit 1 to verify, exit 2 to prove, as for halo2), a keys
//! directory holding another model's program (exit 2), policies and flags gkr refuses (exit 2
//! naming the problem), and a gkr proof checked with halo2 keys (exit 2).
//!
//! The models, keys and proof are made once for the whole file in `CARGO_TARGET_TMPDIR`.

#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use common::{example, vouch, write, Output};

struct Fixture {
    dir: PathBuf,
    model: String,
    keys: String,
    other_keys: String,
    proof: String,
    setup_json: serde_json::Value,
    prove_json: serde_json::Value,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let dir = common::fixture_dir("gkr-fixture");
        let d = dir.as_path();
        let path = |n: &str| d.join(n).display().to_string();
        common::compile_example_and_other(d);
        let setup_json = vouch(
            d,
            &[
                "setup",
                "model.vouch",
                "--backend",
                "gkr",
                "-o",
                "keys",
                "--json",
            ],
        )
        .json();
        vouch(
            d,
            &[
                "setup",
                "other.vouch",
                "--backend",
                "gkr",
                "-o",
                "other-keys",
            ],
        )
        .ok();
        let prove_json = prove(d, "model.vouch", "keys", "model.proof").json();
        Fixture {
            model: path("model.vouch"),
            keys: path("keys"),
            other_keys: path("other-keys"),
            proof: path("model.proof"),
            dir,
            setup_json,
            prove_json,
        }
    })
}

/// `vouch prove MODEL --keys KEYS --input <example> -o OUT --json` in `d`.
fn prove(d: &Path, model: &str, keys: &str, out: &str) -> Output {
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

fn verify(dir: &Path, proof: &str, keys: &str, extra: &[&str]) -> Output {
    let mut args = vec!["verify", proof, "--keys", keys];
    args.extend_from_slice(extra);
    vouch(dir, &args)
}

/// Asserts exit status 1 with `needle` in the INVALID line.
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
}

/// Byte range of the proof section inside a proof file.
fn proof_section(bytes: &[u8]) -> std::ops::Range<usize> {
    let s = u64::from_le_bytes(bytes[12..20].try_into().unwrap()) as usize;
    let at = 20 + s;
    let p = u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap()) as usize;
    at + 8..at + 8 + p
}

const SECURITY: &str =
    "~100-bit (WHIR 100 bits per error term, 16 PoW bits; sumcheck/LogUp over a 2^192 field)";

#[test]
fn setup_prove_verify_inspect() {
    let f = fixture();
    let d = f.dir.as_path();
    let s = &f.setup_json;
    let digest = s["digest"].as_str().unwrap().to_string();
    assert_eq!(s["backend"], "gkr");
    // Without --preset or role flags, gkr takes the one policy it proves.
    assert_eq!(
        s["policy"],
        serde_json::json!({"input": "public", "weights": "fixed", "output": "public"})
    );
    assert_eq!(s["insecure_setup"], false);
    assert_eq!(s["security"], SECURITY);
    let params = s["params_digest"].as_str().unwrap().to_string();
    assert_eq!(params.len(), 64);
    assert_eq!(s["vk_file"], "gkr.program");
    let mut files: Vec<String> = std::fs::read_dir(&f.keys)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(files, ["gkr.program", "keys.json"]);

    // The same policy spelled out gives the same keys.
    let dir = tempfile::tempdir().unwrap();
    vouch(
        dir.path(),
        &[
            "setup",
            &f.model,
            "--backend",
            "gkr",
            "--input-vis",
            "public",
            "--weights-vis",
            "fixed",
            "--output-vis",
            "public",
            "-o",
            "k",
        ],
    )
    .ok();
    for file in ["gkr.program", "keys.json"] {
        assert_eq!(
            std::fs::read(dir.path().join("k").join(file)).unwrap(),
            std::fs::read(Path::new(&f.keys).join(file)).unwrap(),
            "{file}"
        );
    }

    // prove: the proven outputs are the interpreter's.
    let p = &f.prove_json;
    assert_eq!(p["backend"], "gkr");
    assert_eq!(p["digest"], digest.as_str());
    assert_eq!(p["insecure_setup"], false);
    let run = vouch(
        d,
        &["run", &f.model, "--input", &example("input.npy"), "--json"],
    )
    .json();
    assert_eq!(p["outputs_int"][0], run["outputs"][0]["quantized"]);

    // verify: text and JSON.
    let out = verify(d, &f.proof, &f.keys, &[]);
    let stdout = out.ok();
    assert!(
        stdout.contains("VALID") && !stdout.contains("INVALID"),
        "{stdout}"
    );
    assert!(stdout.contains("(gkr, "), "{stdout}");
    assert!(!stdout.contains("INSECURE") && !out.stderr.contains("INSECURE"));
    assert!(stdout.contains("logits [1, 10]"), "{stdout}");
    let v = verify(d, &f.proof, &f.keys, &["--json", "--model-digest", &digest]).json();
    assert_eq!(v["valid"], true);
    assert_eq!(v["backend"], "gkr");
    assert_eq!(v["insecure_setup"], false);
    assert_eq!(v["outputs"][0]["quantized"], run["outputs"][0]["quantized"]);

    // inspect: backend, parameters digest and security level of keys and proofs.
    let i = vouch(d, &["inspect", &f.keys, "--json"]).json();
    assert_eq!(i["kind"], "keys directory");
    assert_eq!(i["backend"], "gkr");
    assert_eq!(i["digest"], digest.as_str());
    assert_eq!(i["params_digest"], params.as_str());
    assert_eq!(i["security"], SECURITY);
    let i = vouch(d, &["inspect", &f.proof, "--json"]).json();
    assert_eq!(i["kind"], "proof");
    assert_eq!(i["backend"], "gkr");
    assert_eq!(i["params_digest"], params.as_str());
    assert_eq!(i["security"], SECURITY);
    for file in [&f.keys, &f.proof] {
        let text = vouch(d, &["inspect", file]).ok().to_string();
        for needle in ["gkr", &params, SECURITY] {
            assert!(text.contains(needle), "{needle} not in {text}");
        }
    }
    // The key file is the model's program.
    let program = Path::new(&f.keys).join("gkr.program").display().to_string();
    let i = vouch(d, &["inspect", &program, "--json"]).json();
    assert_eq!(i["kind"], "IR program");
    assert_eq!(i["program"]["digest"], digest.as_str());
}

#[test]
fn flipped_proof_byte_is_invalid() {
    let f = fixture();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let bytes = std::fs::read(&f.proof).unwrap();
    let r = proof_section(&bytes);
    assert!(r.len() > 1000, "proof of {} bytes", r.len());
    for (n, at) in [r.start, r.start + r.len() / 2, r.end - 1]
        .into_iter()
        .enumerate()
    {
        let mut b = bytes.clone();
        b[at] ^= 0x01;
        let p = write(d, &format!("flip{n}.proof"), &b);
        invalid(&verify(d, &p, &f.keys, &[]), "");
        let v = verify(d, &p, &f.keys, &["--json"]);
        assert_eq!(v.code, Some(1), "{}", v.stderr);
        let v: serde_json::Value = serde_json::from_str(&v.stdout).unwrap();
        assert_eq!(v["check"], "proof");
        assert!(v["outputs"].is_null());
    }
}

#[test]
fn keys_for_another_model() {
    let f = fixture();
    let d = f.dir.as_path();
    // As for halo2: verifying against another model's keys is a "no" (exit 1) ...
    invalid(
        &verify(d, &f.proof, &f.other_keys, &[]),
        "keys are for model",
    );
    // ... and proving with them an input error (exit 2).
    let dir = tempfile::tempdir().unwrap();
    prove(dir.path(), &f.model, &f.other_keys, "x.proof").input_error(&["made for model"]);
    assert!(!dir.path().join("x.proof").exists());
    // A keys directory holding another model's program under this model's summary.
    let k = dir.path().join("swapped");
    std::fs::create_dir(&k).unwrap();
    std::fs::copy(Path::new(&f.keys).join("keys.json"), k.join("keys.json")).unwrap();
    std::fs::copy(
        Path::new(&f.other_keys).join("gkr.program"),
        k.join("gkr.program"),
    )
    .unwrap();
    let ks = k.display().to_string();
    verify(dir.path(), &f.proof, &ks, &[]).input_error(&["swapped", "disagrees"]);
}

#[test]
fn refused_policies_and_flags_exit_2() {
    let f = fixture();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let setup = |extra: &[&str]| {
        let mut args = vec!["setup", &f.model, "--backend", "gkr", "-o", "k"];
        args.extend_from_slice(extra);
        vouch(d, &args)
    };
    setup(&["--preset", "provider"]).input_error(&[
        "visibility",
        "weights",
        "--weights-vis fixed",
        "--backend halo2",
    ]);
    setup(&["--output-vis", "private"]).input_error(&["visibility", "output"]);
    setup(&["--insecure-dev-setup"]).input_error(&["no trusted setup", "--insecure-dev-setup"]);
    let srs = write(d, "params.srs", &[7u8; 64]);
    setup(&["--srs", &srs]).input_error(&["no trusted setup", "--srs"]);
    assert!(!d.join("k").exists(), "a refused setup left keys behind");
}

#[test]
fn gkr_proof_with_halo2_keys_exits_2() {
    let f = fixture();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    vouch(
        d,
        &[
            "setup",
            &f.model,
            "--backend",
            "halo2",
            "--insecure-dev-setup",
            "--input-vis",
            "public",
            "--weights-vis",
            "fixed",
            "--output-vis",
            "public",
            "-o",
            "hk",
        ],
    )
    .ok();
    verify(d, &f.proof, "hk", &[]).input_error(&["gkr", "halo2", "backend"]);
}

/// Sets up gkr keys with `policy` (setup arguments), whose input is `input_vis`, proves and
/// verifies: the statement holds outputs only, and the proof byte at `flip_at` (a fraction of
/// the proof section) XORed with `mask` is invalid.
fn hidden_input_round_trip(policy: &[&str], input_vis: &str, flip_at: (usize, usize), mask: u8) {
    let f = fixture();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut args = vec!["setup", &f.model, "--backend", "gkr"];
    args.extend_from_slice(policy);
    args.extend_from_slice(&["-o", "keys", "--json"]);
    let setup = vouch(d, &args).json();
    assert_eq!(setup["policy"]["input"], input_vis, "{setup}");
    prove(d, &f.model, "keys", "x.proof").ok();
    let v = verify(d, "x.proof", "keys", &["--json"]);
    v.ok();
    let v: serde_json::Value = serde_json::from_str(&v.stdout).unwrap();
    assert_eq!(v["valid"], true, "{v}");
    let public = v["public"].as_array().unwrap();
    assert!(!public.is_empty(), "{v}");
    assert!(
        public.iter().all(|t| t["role"] == "output"),
        "the statement shows the input: {v}"
    );
    let mut bytes = std::fs::read(d.join("x.proof")).unwrap();
    let r = proof_section(&bytes);
    bytes[r.start + r.len() * flip_at.0 / flip_at.1] ^= mask;
    let bad = write(d, "x-flip.proof", &bytes);
    invalid(&verify(d, &bad, "keys", &[]), "");
}

/// `--preset client` (input hashed): the input is committed on its own (a linkable commitment
/// in the statement), the proof is zero-knowledge, and verification passes.
#[test]
fn client_preset_commits_to_the_input_and_verifies() {
    hidden_input_round_trip(&["--preset", "client"], "hashed", (1, 2), 0x10);
}

/// `--input-vis private`: the proof is zero-knowledge, the statement holds the output only,
/// verification passes, and a flipped proof byte is invalid.
#[test]
fn private_input_proves_in_zero_knowledge() {
    hidden_input_round_trip(&["--input-vis", "private"], "private", (1, 3), 0x04);
}
