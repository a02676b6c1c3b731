//! The model digest names the program: it is stable across compilations of the same model and
//! changes when any single weight of the source model changes.

#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};

use common::{decode_model, edit_weight, example, float_initializers, float_values};
use vouch::ir::codec::Digest;
use vouch::model::{compile, CompileOptions};

fn options() -> CompileOptions {
    CompileOptions {
        calibration: Some(example("calibration.npy")),
        ..CompileOptions::default()
    }
}

fn digest_of(onnx: &Path) -> Digest {
    compile(onnx, &options()).unwrap().package.digest()
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

#[test]
fn digest_is_stable_across_compilations() {
    let a = compile(&example("model.onnx"), &options()).unwrap();
    let b = compile(&example("model.onnx"), &options()).unwrap();
    assert_eq!(a.package.digest(), b.package.digest());
    assert_eq!(a.package.to_bytes().unwrap(), b.package.to_bytes().unwrap());
    // The digest is the SHA-256 of the canonical program bytes, and survives a round trip.
    let bytes = a.package.program.encode();
    let back = vouch::ir::Program::decode(&bytes).unwrap();
    assert_eq!(back.digest(), a.package.digest());
    assert_eq!(back.encode(), bytes);
    // The same model under another file name compiles to the same program.
    let dir = tempfile::tempdir().unwrap();
    let copy = write(
        dir.path(),
        "renamed.onnx",
        &std::fs::read(example("model.onnx")).unwrap(),
    );
    assert_eq!(digest_of(&copy), a.package.digest());
}

#[test]
fn digest_changes_when_any_single_weight_changes() {
    let model = std::fs::read(example("model.onnx")).unwrap();
    let base = digest_of(&example("model.onnx"));
    let m = decode_model(&model);
    let inits = float_initializers(&m);
    assert!(!inits.is_empty(), "the example has no float initializers");
    let dir = tempfile::tempdir().unwrap();
    let mut seen = vec![base];
    let mut checked = 0;
    for &init in &inits {
        let t = &m.graph.as_ref().unwrap().initializer[init];
        let values = float_values(t);
        let n = values.len();
        let abs_max = values.iter().fold(0f32, |a, v| a.max(v.abs()));
        // A change of a quarter of the tensor's range moves the quantized weight by many steps
        // (or, past the range, changes the scale): either way the program must change.
        let delta = (0.25 * abs_max).max(0.1);
        let mut picks: Vec<usize> = (0..8).map(|k| k * (n - 1) / 7).collect();
        picks.dedup();
        for (k, index) in picks.into_iter().enumerate() {
            // Up for even picks, down for odd ones.
            let step = if k % 2 == 0 { delta } else { -delta };
            let edited = edit_weight(&model, init, index, |w| w + step);
            let path = write(dir.path(), &format!("w{init}_{index}.onnx"), &edited);
            let d = digest_of(&path);
            assert!(
                !seen.contains(&d),
                "changing '{}'[{index}] by {step} gave an already seen digest {d}",
                t.name
            );
            seen.push(d);
            checked += 1;
        }
    }
    eprintln!(
        "{checked} single-weight edits over {} initializers: all digests distinct",
        inits.len()
    );
}
