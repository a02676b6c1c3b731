//! Attested image edit benchmark: capture (commit + sign) a photo scaled to each size, prove
//! an edit recipe with the original hidden and the result published, verify, and print one
//! table row per size: circuit size, the cost split (commitment vs the rest), times, proof size
//! and peak RSS. Each size runs in its own child process so the RSS is its own. Uses a locally
//! generated (insecure) SRS; parameter generation is kept out of the times.
//!
//!     cargo bench -p vouch --bench image [-- WxH ...]      # default 160x90 320x180

use std::path::Path;
use std::time::Instant;

use vouch::halo2::Srs;
use vouch::image::{capture, edit_publish, pixels, verify};
use vouch::image_ops::camera::CameraKey;
use vouch::image_ops::{apply_reference, parse_edits, Edit, Image};

mod common;
use common::peak_rss_mb;

const DEFAULT_SIZES: &[&str] = &["160x90", "320x180"];

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(i) = args.iter().position(|a| a == "--one") {
        one(&args[i + 1]);
        return;
    }
    let sizes: Vec<String> = {
        let given: Vec<String> = args
            .iter()
            .filter(|a| a.contains('x') && !a.starts_with('-'))
            .cloned()
            .collect();
        if given.is_empty() {
            DEFAULT_SIZES.iter().map(|s| s.to_string()).collect()
        } else {
            given
        }
    };
    println!("| original | recipe | k | rows | capture ms | setup s | prove s | verify s | proof B | peak RSS MB | output = reference |");
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    let exe = std::env::current_exe().expect("bench executable");
    for size in &sizes {
        let out = std::process::Command::new(&exe)
            .args(["--one", size])
            .output()
            .expect("child run");
        print!("{}", String::from_utf8_lossy(&out.stdout));
        if !out.status.success() {
            let err = String::from_utf8_lossy(&out.stderr);
            println!("| {size} | failed: {} |", err.lines().last().unwrap_or(""));
        }
    }
}

/// The bundled 40x30 photo scaled to `w x h` with the op spec's own bilinear resize.
fn photo(w: usize, h: usize) -> Image {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/astronaut_40x30.png");
    let small = pixels::decode(&std::fs::read(path).expect("photo"), "photo").expect("decode");
    apply_reference(&small, &[Edit::ResizeBilinear { w, h }]).expect("scale")
}

fn one(size: &str) {
    let (w, h, recipe) = common::edit_recipe(size);
    let edits = parse_edits(&recipe).expect("recipe");
    let img = photo(w, h);
    let key = CameraKey::generate();
    let t0 = Instant::now();
    let signed = capture(img, &key).expect("capture");
    let capture_ms = t0.elapsed().as_secs_f64() * 1e3;
    let srs = Srs::InsecureDev;
    // Generate the parameters once, outside the timed setup (a ceremony's job).
    let program = vouch::image_ops::edit_program(w, h, 3, &edits).expect("program");
    let policy = vouch::backend::VisibilityPolicy {
        input: vouch::backend::Visibility::Hashed,
        weights: vouch::backend::Visibility::Fixed,
        output: vouch::backend::Visibility::Public,
    };
    let k = vouch::halo2::plan(&program, policy).expect("plan").k;
    srs.params(k).expect("params");
    let p = edit_publish(&signed, &edits, &srs).expect("prove");
    let t0 = Instant::now();
    let v = verify(&p.proof, &p.image, &key.public(), None).expect("verify");
    let verify_s = t0.elapsed().as_secs_f64();
    assert!(v.is_valid(), "{:?}", v.rejection);
    let same = p.image == apply_reference(&signed.image, &edits).expect("reference");
    let s = &p.stats;
    println!(
        "| {w}x{h} RGB | {} | {} | {} | {capture_ms:.0} | {:.2} | {:.2} | {verify_s:.2} | {} | {:.0} | {} |",
        recipe.join(" "),
        s.k,
        s.rows,
        s.setup.as_secs_f64(),
        s.prove.as_secs_f64(),
        s.proof_bytes,
        peak_rss_mb(),
        if same { "yes" } else { "NO" }
    );
}
