//! Attested image edits end to end: capture a real photo, prove edits (alone, composed and
//! chained through hidden intermediates), verify, and reject every forgery the issue lists.

use std::path::Path;
use std::sync::OnceLock;

use vouch::halo2::Srs;
use vouch::image::{
    capture, edit_hidden, edit_publish, pixel_commitment, pixels, verify, EditProof, ImageCheck,
    PrivateImage,
};
use vouch::image_ops::camera::{CameraKey, CameraPublicKey};
use vouch::image_ops::{apply_reference, parse_edits, Edit, Image};

fn photo(name: &str) -> Image {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name);
    let bytes = std::fs::read(&path).expect("test photo");
    pixels::decode(&bytes, name).expect("decodes")
}

fn edits(list: &[&str]) -> Vec<Edit> {
    parse_edits(&list.iter().map(|s| s.to_string()).collect::<Vec<_>>()).expect("edit syntax")
}

fn camera() -> &'static CameraKey {
    static KEY: OnceLock<CameraKey> = OnceLock::new();
    KEY.get_or_init(CameraKey::generate)
}

/// The astronaut photo, captured by the test camera.
fn captured() -> &'static PrivateImage {
    static SIGNED: OnceLock<PrivateImage> = OnceLock::new();
    SIGNED.get_or_init(|| capture(photo("astronaut_40x30.png"), camera()).expect("capture"))
}

const RECIPE: [&str; 3] = ["crop=4,2,32,24", "resize=16,12,bilinear", "grayscale"];

/// One published proof of [`RECIPE`], shared by the rejection tests.
fn published() -> &'static (Image, EditProof) {
    static P: OnceLock<(Image, EditProof)> = OnceLock::new();
    P.get_or_init(|| {
        let p = edit_publish(captured(), &edits(&RECIPE), &Srs::InsecureDev).expect("prove");
        (p.image, p.proof)
    })
}

fn check_of(proof: &EditProof, image: &Image, camera: &CameraPublicKey) -> Option<ImageCheck> {
    let v = verify(proof, image, camera, None).expect("verifier can judge");
    v.rejection.map(|r| r.check)
}

#[test]
fn a_captured_photo_edited_and_published_verifies_and_equals_the_reference() {
    let (image, proof) = published();
    let want = apply_reference(&captured().image, &edits(&RECIPE)).expect("reference");
    assert_eq!(*image, want, "published pixels are the specification's");
    assert_eq!((image.width, image.height, image.channels), (16, 12, 1));
    let v = verify(proof, image, &camera().public(), None).expect("judged");
    assert!(v.is_valid(), "{:?}", v.rejection);
    assert!(v.insecure_setup, "a local setup is reported insecure");
    assert_eq!(v.steps.len(), 1);
    assert_eq!(v.steps[0].edits, RECIPE.to_vec());
    assert_eq!(v.original, (40, 30, 3));
    // The proof file round-trips and names no pixel of the original.
    let bytes = proof.to_bytes().expect("encode");
    assert_eq!(EditProof::from_bytes(&bytes).expect("decode"), *proof);
    let original = &captured().image.data;
    assert!(
        !bytes
            .windows(64)
            .any(|w| original.windows(64).any(|o| o == w)),
        "no 64-byte run of the original's pixels appears in the proof file"
    );
}

#[test]
fn each_op_alone_round_trips_on_a_gray_photo_and_an_rgb_photo() {
    let gray = capture(photo("astronaut_gray_24x18.png"), camera()).expect("capture");
    let rgb = capture(photo("astronaut_40x30.jpg"), camera()).expect("capture jpeg");
    let ops: &[(&PrivateImage, &str)] = &[
        (&gray, "crop=3,2,10,8"),
        (&gray, "flip_h"),
        (&gray, "flip_v"),
        (&gray, "rotate90"),
        (&gray, "rotate180"),
        (&gray, "rotate270"),
        (&gray, "resize=9,7,nearest"),
        (&gray, "resize=13,9,bilinear"),
        (&gray, "resize=8,6,area"),
        (&rgb, "grayscale"),
        (&gray, "brightness=-40"),
        (&gray, "contrast=24576"),
        (&gray, "gamma=2200"),
        (&gray, "levels=16,235,0,255"),
        (&rgb, "color_matrix=17000,0,0,0,16384,0,0,0,14000,0,0,0"),
        (&gray, "box_blur=1"),
        (&gray, "gaussian_blur=800"),
        (&gray, "sharpen"),
        (&rgb, "redact=5,5,10,8;fill=0,0,0"),
    ];
    for &(src, op) in ops {
        let e = edits(&[op]);
        let p =
            edit_publish(src, &e, &Srs::InsecureDev).unwrap_or_else(|err| panic!("{op}: {err}"));
        assert_eq!(
            p.image,
            apply_reference(&src.image, &e).expect("reference"),
            "{op}"
        );
        let v = verify(&p.proof, &p.image, &camera().public(), None).expect("judged");
        assert!(v.is_valid(), "{op}: {:?}", v.rejection);
    }
}

#[test]
fn a_four_step_chain_through_hidden_intermediates_verifies() {
    let steps = [
        edits(&["crop=0,0,36,28"]),
        edits(&["resize=18,14,area"]),
        edits(&["brightness=25"]),
        edits(&["grayscale"]),
    ];
    let srs = Srs::InsecureDev;
    let (a, _) = edit_hidden(captured(), &steps[0], &srs).expect("step 1");
    let (b, _) = edit_hidden(&a, &steps[1], &srs).expect("step 2");
    let (c, _) = edit_hidden(&b, &steps[2], &srs).expect("step 3");
    // Intermediates are re-openable bundles: their commitment opens with their own blinding.
    assert_eq!(
        pixel_commitment(&c.image, &c.blinding).expect("commit"),
        c.commitment().expect("c")
    );
    let bytes = c.to_bytes().expect("encode");
    assert_eq!(PrivateImage::from_bytes(&bytes).expect("decode"), c);
    let out = edit_publish(&c, &steps[3], &srs).expect("step 4");
    let all: Vec<Edit> = steps.concat();
    assert_eq!(
        out.image,
        apply_reference(&captured().image, &all).expect("reference")
    );
    let v = verify(&out.proof, &out.image, &camera().public(), None).expect("judged");
    assert!(v.is_valid(), "{:?}", v.rejection);
    assert_eq!(v.steps.len(), 4);
    assert!(v.steps[..3].iter().all(|s| s.hidden_output) && !v.steps[3].hidden_output);

    let cam = camera().public();
    // A step removed: step 3's input commitment is not step 1's output.
    let mut removed = out.proof.clone();
    removed.links.remove(1);
    assert!(
        check_of(&removed, &out.image, &cam).is_some(),
        "a removed step is rejected"
    );
    // Two steps swapped.
    let mut swapped = out.proof.clone();
    swapped.links.swap(1, 2);
    assert!(
        check_of(&swapped, &out.image, &cam).is_some(),
        "reordered steps are rejected"
    );
    // The hidden steps' order kept but the first step dropped.
    let mut headless = out.proof.clone();
    headless.links.remove(0);
    assert!(
        check_of(&headless, &out.image, &cam).is_some(),
        "a chain must start at the signed original"
    );
}

#[test]
fn an_edit_of_other_pixels_under_the_signed_commitment_is_rejected() {
    // The editor holds a valid signature for photo A but proves an edit of photo B: it can only
    // make a proof whose input commitment is B's, and splices in A's signed origin.
    let b_pixels = photo("astronaut_40x30.jpg");
    assert_ne!(b_pixels, captured().image);
    let b = capture(b_pixels, &CameraKey::generate()).expect("capture B");
    let forged = edit_publish(&b, &edits(&RECIPE), &Srs::InsecureDev).expect("prove B");
    let mut proof = forged.proof.clone();
    proof.origin = captured().origin.clone();
    assert_eq!(
        check_of(&proof, &forged.image, &camera().public()),
        Some(ImageCheck::Proof)
    );

    // The honest path refuses a bundle whose pixels do not open its commitment.
    let mut swapped = captured().clone();
    swapped.image = b.image.clone();
    let err = edit_publish(&swapped, &edits(&RECIPE), &Srs::InsecureDev).expect_err("refused");
    assert!(
        err.to_string().contains("do not open its commitment"),
        "{err}"
    );
}

#[test]
fn a_changed_pixel_or_another_image_is_rejected() {
    let (image, proof) = published();
    let cam = camera().public();
    let mut one = image.clone();
    one.data[7] ^= 1;
    assert_eq!(check_of(proof, &one, &cam), Some(ImageCheck::Proof));
    let other = Image::new(16, 12, 1, vec![128; 16 * 12]).expect("image");
    assert_eq!(check_of(proof, &other, &cam), Some(ImageCheck::Proof));
    let wrong_size = Image::new(12, 16, 1, image.data.clone()).expect("image");
    assert_eq!(check_of(proof, &wrong_size, &cam), Some(ImageCheck::Image));
}

#[test]
fn another_camera_or_a_signature_over_another_commitment_is_rejected() {
    let (image, proof) = published();
    let cam = camera().public();
    // The verifier trusts another camera.
    assert_eq!(
        check_of(proof, image, &CameraKey::generate().public()),
        Some(ImageCheck::Camera)
    );
    // The commitment changed under the camera's signature.
    let mut p = proof.clone();
    p.origin.attestation.commitment[0] ^= 1;
    assert_eq!(check_of(&p, image, &cam), Some(ImageCheck::Signature));
    // A genuine signature, but over another photo's commitment.
    let other = capture(photo("astronaut_40x30.jpg"), camera()).expect("capture");
    let mut p = proof.clone();
    p.origin = other.origin.clone();
    assert_eq!(check_of(&p, image, &cam), Some(ImageCheck::Proof));
    // A signature by another key claiming to be this camera's.
    let mut p = proof.clone();
    p.origin.signature = CameraKey::generate().sign(&p.origin.attestation);
    assert_eq!(check_of(&p, image, &cam), Some(ImageCheck::Signature));
}

#[test]
fn an_op_list_edited_after_proving_is_rejected() {
    let (image, proof) = published();
    let cam = camera().public();
    for changed in [
        ["crop=4,2,32,24", "resize=16,12,nearest", "grayscale"],
        ["crop=5,2,32,24", "resize=16,12,bilinear", "grayscale"],
        ["crop=4,2,32,24", "resize=16,12,area", "grayscale"],
    ] {
        let mut p = proof.clone();
        p.links[0].edits = edits(&changed);
        assert_eq!(
            check_of(&p, image, &cam),
            Some(ImageCheck::Proof),
            "{changed:?}"
        );
    }
    let mut p = proof.clone();
    p.links[0].edits.pop();
    assert_eq!(
        check_of(&p, image, &cam),
        Some(ImageCheck::Image),
        "dropping grayscale changes the output size"
    );
}

#[test]
fn mutated_proof_bytes_are_rejected() {
    let (image, proof) = published();
    let cam = camera().public();
    let n = proof.links[0].proof.len();
    let mut rejected = 0;
    for i in (0..n).step_by(n.div_ceil(24)) {
        let mut p = proof.clone();
        p.links[0].proof[i] ^= 0x40;
        assert!(check_of(&p, image, &cam).is_some(), "byte {i} flipped");
        rejected += 1;
    }
    assert!(rejected >= 20);
    // Truncated and extended proofs, and a proof file cut anywhere.
    let mut p = proof.clone();
    p.links[0].proof.pop();
    assert!(check_of(&p, image, &cam).is_some());
    let mut p = proof.clone();
    p.links[0].proof.push(0);
    assert!(check_of(&p, image, &cam).is_some());
    let bytes = proof.to_bytes().expect("encode");
    for cut in (0..bytes.len()).step_by(97) {
        assert!(
            EditProof::from_bytes(&bytes[..cut]).is_err(),
            "cut at {cut}"
        );
    }
}

#[test]
fn ceremony_parameters_are_required_to_verify_a_ceremony_proof() {
    // A parameter file plays the ceremony here; the proof then carries no parameters.
    let dir = tempfile::tempdir().expect("tmp");
    let srs_path = dir.path().join("ceremony.srs");
    let params = vouch::halo2::srs::decode_params(
        published().1.links[0]
            .insecure_params
            .as_deref()
            .expect("insecure params"),
    )
    .expect("params");
    std::fs::write(&srs_path, vouch::halo2::srs::encode_params(&params)).expect("write");
    let srs = Srs::file(&srs_path, None);
    let p = edit_publish(captured(), &edits(&RECIPE), &srs).expect("prove");
    assert!(p.proof.links[0].insecure_params.is_none());
    let cam = camera().public();
    assert!(
        verify(&p.proof, &p.image, &cam, None).is_err(),
        "no parameters: cannot judge"
    );
    let v = verify(&p.proof, &p.image, &cam, Some(&srs)).expect("judged");
    assert!(v.is_valid() && !v.insecure_setup, "{:?}", v.rejection);
}
