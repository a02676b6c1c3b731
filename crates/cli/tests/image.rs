//! `vouch image`: keygen, capture, edit (published and hidden steps), verify, and the exit
//! statuses and messages of bad input.

mod common;

use std::path::Path;

use common::{vouch, Output};

fn photo(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../vouch/tests/data")
        .join(name)
        .canonicalize()
        .expect("test photo")
        .display()
        .to_string()
}

/// Asserts exit status 1 with an INVALID line mentioning `needle`.
fn invalid(out: &Output, needle: &str) {
    out.no_panic();
    assert_eq!(
        out.code,
        Some(1),
        "{:?}\n{}\n{}",
        out.args,
        out.stdout,
        out.stderr
    );
    let line = out
        .stdout
        .lines()
        .find(|l| l.starts_with("INVALID: "))
        .unwrap_or_else(|| panic!("no INVALID line:\n{}", out.stdout));
    assert!(
        line.contains(needle),
        "'{line}' does not mention '{needle}'"
    );
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .expect("metadata")
        .permissions()
        .mode()
        & 0o777
}

#[test]
fn keygen_capture_edit_verify_and_a_hidden_chain() {
    let tmp = tempfile::tempdir().expect("tmp");
    let d = tmp.path();
    let out = vouch(d, &["image", "keygen", "-o", "cam"]);
    assert!(out.ok().contains("fingerprint"));
    assert!(std::fs::read_to_string(d.join("cam.key"))
        .expect("key")
        .contains("BEGIN PRIVATE KEY"));
    assert!(std::fs::read_to_string(d.join("cam.pub"))
        .expect("pub")
        .contains("BEGIN PUBLIC KEY"));
    #[cfg(unix)]
    assert_eq!(mode(&d.join("cam.key")), 0o600);
    // Nothing is overwritten without --force.
    let before = std::fs::read(d.join("cam.key")).expect("key");
    vouch(d, &["image", "keygen", "-o", "cam"]).input_error(&["already exists", "--force"]);
    assert_eq!(std::fs::read(d.join("cam.key")).expect("key"), before);
    vouch(d, &["image", "keygen", "-o", "other"]).ok();

    let photo = photo("astronaut_40x30.png");
    let cap = vouch(
        d,
        &[
            "image",
            "capture",
            &photo,
            "--camera-key",
            "cam.key",
            "-o",
            "signed.vimg",
            "--json",
        ],
    )
    .json();
    assert_eq!(
        (cap["width"].as_u64(), cap["height"].as_u64()),
        (Some(40), Some(30))
    );
    assert_eq!(cap["format"], "rgb8");
    #[cfg(unix)]
    assert_eq!(
        mode(&d.join("signed.vimg")),
        0o600,
        "the bundle holds the original"
    );

    let ops = [
        "--op",
        "crop=4,2,32,24",
        "--op",
        "resize=16,12,bilinear",
        "--op",
        "grayscale",
    ];
    let mut args = vec![
        "image",
        "edit",
        "signed.vimg",
        "-o",
        "out.png",
        "--proof",
        "out.proof",
        "--insecure-dev-setup",
        "--json",
    ];
    args.extend_from_slice(&ops);
    let e = vouch(d, &args);
    let ej = e.json();
    assert_eq!(
        (
            ej["width"].as_u64(),
            ej["height"].as_u64(),
            ej["channels"].as_u64()
        ),
        (Some(16), Some(12), Some(1))
    );
    assert!(e.stderr.contains("INSECURE"));
    // A second run refuses to overwrite the published files.
    let png = std::fs::read(d.join("out.png")).expect("png");
    vouch(d, &args).input_error(&["already exists"]);
    assert_eq!(std::fs::read(d.join("out.png")).expect("png"), png);

    let v = vouch(
        d,
        &[
            "image",
            "verify",
            "out.png",
            "--proof",
            "out.proof",
            "--camera-pubkey",
            "cam.pub",
        ],
    );
    let text = v.ok();
    assert!(text.contains("VALID"), "{text}");
    assert!(
        text.contains(
            "step 1   crop=4,2,32,24 resize=16,12,bilinear grayscale -> 16x12x1 (published)"
        ),
        "{text}"
    );
    assert!(text.contains("original 40x30"), "{text}");
    let vj = vouch(
        d,
        &[
            "image",
            "verify",
            "out.png",
            "--proof",
            "out.proof",
            "--camera-pubkey",
            "cam.pub",
            "--json",
        ],
    )
    .json();
    assert_eq!(vj["valid"], true);
    assert_eq!(vj["insecure_setup"], true);

    // Another camera, and an image with one pixel changed.
    invalid(
        &vouch(
            d,
            &[
                "image",
                "verify",
                "out.png",
                "--proof",
                "out.proof",
                "--camera-pubkey",
                "other.pub",
            ],
        ),
        "camera",
    );
    let mut img = vouch::image::pixels::decode(&png, "out.png").expect("decode");
    img.data[5] = img.data[5].wrapping_add(1);
    std::fs::write(
        d.join("changed.png"),
        vouch::image::pixels::encode_png(&img).expect("png"),
    )
    .expect("write");
    invalid(
        &vouch(
            d,
            &[
                "image",
                "verify",
                "changed.png",
                "--proof",
                "out.proof",
                "--camera-pubkey",
                "cam.pub",
            ],
        ),
        "does not verify",
    );

    // A chain: a hidden crop, then a published resize of it.
    let h = vouch(
        d,
        &[
            "image",
            "edit",
            "signed.vimg",
            "--op",
            "crop=0,0,36,28",
            "--hidden",
            "-o",
            "step1.vimg",
            "--insecure-dev-setup",
        ],
    );
    assert!(h.ok().contains("hidden"));
    #[cfg(unix)]
    assert_eq!(mode(&d.join("step1.vimg")), 0o600);
    vouch(
        d,
        &[
            "image",
            "edit",
            "step1.vimg",
            "--op",
            "resize=18,14,area",
            "-o",
            "chain.png",
            "--proof",
            "chain.proof",
            "--insecure-dev-setup",
        ],
    )
    .ok();
    let v = vouch(
        d,
        &[
            "image",
            "verify",
            "chain.png",
            "--proof",
            "chain.proof",
            "--camera-pubkey",
            "cam.pub",
        ],
    );
    let text = v.ok();
    assert!(
        text.contains("step 1   crop=0,0,36,28 -> 36x28x3 (hidden)"),
        "{text}"
    );
    assert!(
        text.contains("step 2   resize=18,14,area -> 18x14x3 (published)"),
        "{text}"
    );
    // The chain's proof does not fit the single-step image, nor the other way round.
    invalid(
        &vouch(
            d,
            &[
                "image",
                "verify",
                "out.png",
                "--proof",
                "chain.proof",
                "--camera-pubkey",
                "cam.pub",
            ],
        ),
        "published image",
    );
}

#[test]
fn bad_input_exits_2_with_a_message() {
    let tmp = tempfile::tempdir().expect("tmp");
    let d = tmp.path();
    vouch(d, &["image", "keygen", "-o", "cam"]).ok();
    let photo = photo("astronaut_gray_24x18.png");
    std::fs::write(d.join("broken.png"), b"\x89PNG\r\n\x1a\nnot really").expect("write");
    std::fs::write(d.join("notes.txt"), b"hello").expect("write");
    vouch(
        d,
        &[
            "image",
            "capture",
            "broken.png",
            "--camera-key",
            "cam.key",
            "-o",
            "s.vimg",
        ],
    )
    .input_error(&["broken.png", "decode"]);
    vouch(
        d,
        &[
            "image",
            "capture",
            "notes.txt",
            "--camera-key",
            "cam.key",
            "-o",
            "s.vimg",
        ],
    )
    .input_error(&["notes.txt", "not a png or jpeg"]);
    vouch(
        d,
        &[
            "image",
            "capture",
            &photo,
            "--camera-key",
            "cam.pub",
            "-o",
            "s.vimg",
        ],
    )
    .input_error(&["cam.pub", "private key"]);
    assert!(!d.join("s.vimg").exists());
    vouch(
        d,
        &[
            "image",
            "capture",
            &photo,
            "--camera-key",
            "cam.key",
            "-o",
            "s.vimg",
        ],
    )
    .ok();
    let edit = |ops: &[&str]| {
        let mut a = vec![
            "image",
            "edit",
            "s.vimg",
            "-o",
            "o.png",
            "--proof",
            "o.proof",
            "--insecure-dev-setup",
        ];
        for op in ops {
            a.extend_from_slice(&["--op", op]);
        }
        vouch(d, &a)
    };
    edit(&["crop=10,10,20,20"]).input_error(&["crop", "outside"]);
    edit(&["resize=0,5"]).input_error(&["empty"]);
    edit(&["sharpen=3"]).input_error(&["--op", "sharpen"]);
    edit(&["blur=2"]).input_error(&["unknown"]);
    assert!(!d.join("o.png").exists() && !d.join("o.proof").exists());
    vouch(
        d,
        &[
            "image", "edit", "s.vimg", "--op", "flip_h", "-o", "o.png", "--proof", "o.proof",
        ],
    )
    .input_error(&["--srs", "--insecure-dev-setup"]);
    vouch(
        d,
        &[
            "image",
            "edit",
            "s.vimg",
            "--op",
            "flip_h",
            "-o",
            "o.png",
            "--insecure-dev-setup",
        ],
    )
    .input_error(&["--proof", "--hidden"]);
    vouch(
        d,
        &[
            "image",
            "edit",
            "notes.txt",
            "--op",
            "flip_h",
            "-o",
            "o.png",
            "--proof",
            "o.proof",
            "--insecure-dev-setup",
        ],
    )
    .input_error(&["notes.txt", "magic"]);
    edit(&["flip_h"]).ok();
    let proof = std::fs::read(d.join("o.proof")).expect("proof");
    std::fs::write(d.join("cut.proof"), &proof[..proof.len() / 2]).expect("write");
    vouch(
        d,
        &[
            "image",
            "verify",
            "o.png",
            "--proof",
            "cut.proof",
            "--camera-pubkey",
            "cam.pub",
        ],
    )
    .input_error(&["cut.proof", "truncated"]);
    vouch(
        d,
        &[
            "image",
            "verify",
            "o.png",
            "--proof",
            "o.proof",
            "--camera-pubkey",
            "cam.key",
        ],
    )
    .input_error(&["cam.key", "public key"]);
    vouch(
        d,
        &[
            "image",
            "verify",
            "notes.txt",
            "--proof",
            "o.proof",
            "--camera-pubkey",
            "cam.pub",
        ],
    )
    .input_error(&["notes.txt"]);
    // Proof made with a local setup, verified as is: valid but flagged.
    let v = vouch(
        d,
        &[
            "image",
            "verify",
            "o.png",
            "--proof",
            "o.proof",
            "--camera-pubkey",
            "cam.pub",
        ],
    );
    assert!(v.ok().contains("INSECURE"));
}

fn c2pa_file(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../image/tests/data")
        .join(name)
        .display()
        .to_string()
}

#[test]
fn c2pa_manifest_carries_the_proof_and_verify_reads_it() {
    let tmp = tempfile::tempdir().expect("tmp");
    let d = tmp.path();
    vouch(d, &["image", "keygen", "-o", "cam"]).ok();
    let photo = photo("astronaut_40x30.png");
    vouch(
        d,
        &[
            "image",
            "capture",
            &photo,
            "--camera-key",
            "cam.key",
            "-o",
            "signed.vimg",
        ],
    )
    .ok();
    let (cert, key) = (
        c2pa_file("c2pa_test_chain.pem"),
        c2pa_file("c2pa_test_key.pem"),
    );
    // No --proof file: the manifest is the only carrier.
    let edit = vouch(
        d,
        &[
            "image",
            "edit",
            "signed.vimg",
            "-o",
            "out.png",
            "--op",
            "crop=4,2,32,24",
            "--op",
            "redact=0,0,4,4",
            "--insecure-dev-setup",
            "--c2pa-cert",
            &cert,
            "--c2pa-key",
            &key,
        ],
    );
    let text = edit.ok();
    assert!(text.contains("c2pa     manifest signed"), "{text}");
    assert!(!d.join("out.proof").exists());
    let verify = |image: &str| {
        vouch(
            d,
            &[
                "image",
                "verify",
                image,
                "--camera-pubkey",
                "cam.pub",
                "--json",
            ],
        )
    };
    let v = verify("out.png").json();
    assert_eq!(v["valid"], true, "{v}");
    assert_eq!(
        v["c2pa"]["actions"],
        serde_json::json!(["c2pa.opened", "c2pa.cropped", "c2pa.edited"])
    );
    // The C2PA signer is a test credential: the SDK says so, verification does not depend on it.
    assert!(v["c2pa"]["status"].to_string().contains("untrusted"), "{v}");

    // One pixel changed (the manifest copied along): the proof rejects it.
    let png = std::fs::read(d.join("out.png")).expect("png");
    let mut img = vouch::image::pixels::decode(&png, "out.png").expect("decode");
    img.data[40] ^= 1;
    let changed = vouch::image::pixels::encode_png(&img).expect("png");
    let found = vouch::image_ops::c2pa::extract(&png, "png").expect("manifest");
    std::fs::write(d.join("plain.png"), &changed).expect("write");
    let out = verify("plain.png");
    out.no_panic();
    assert_eq!(
        out.code,
        Some(2),
        "no manifest, no --proof: unreadable input"
    );
    std::fs::write(d.join("proof.bin"), &found.proof).expect("write");
    invalid(
        &vouch(
            d,
            &[
                "image",
                "verify",
                "plain.png",
                "--proof",
                "proof.bin",
                "--camera-pubkey",
                "cam.pub",
            ],
        ),
        "does not verify",
    );
    // --hidden writes no image, so it takes no C2PA credential.
    vouch(
        d,
        &[
            "image",
            "edit",
            "signed.vimg",
            "-o",
            "next.vimg",
            "--hidden",
            "--op",
            "grayscale",
            "--insecure-dev-setup",
            "--c2pa-cert",
            &cert,
            "--c2pa-key",
            &key,
        ],
    )
    .input_error(&["--hidden", "--c2pa-cert"]);
}
