//! C2PA manifests: the proof and the edit actions survive a round trip through PNG and JPEG;
//! nothing of the original is embedded; images without a proof, wrong formats and bad
//! credentials are typed errors.

use std::io::Cursor;

use vouch_image::c2pa::{self, C2paCredential, C2paError, PROOF_LABEL};
use vouch_image::parse_edits;

fn credential() -> C2paCredential {
    C2paCredential {
        chain_pem: include_bytes!("data/c2pa_test_chain.pem").to_vec(),
        key_pem: include_bytes!("data/c2pa_test_key.pem").to_vec(),
    }
}

fn encoded(format: image::ImageFormat) -> Vec<u8> {
    let img = image::RgbImage::from_fn(24, 16, |x, y| image::Rgb([x as u8 * 10, y as u8 * 15, 7]));
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, format).expect("encode");
    out.into_inner()
}

#[test]
fn proof_and_actions_round_trip_through_png_and_jpeg() {
    let edits = parse_edits(&[
        "crop=0,0,20,12".to_string(),
        "resize=10,6,bilinear".to_string(),
        "grayscale".to_string(),
        "redact=1,1,2,2".to_string(),
    ])
    .expect("edits");
    let proof: Vec<u8> = (0..5000u32).map(|i| (i * 31 % 251) as u8).collect();
    for (format, name) in [
        (image::ImageFormat::Png, "png"),
        (image::ImageFormat::Jpeg, "jpeg"),
    ] {
        let plain = encoded(format);
        let signed =
            c2pa::embed(&plain, name, &edits, "ab12", &proof, &credential()).expect("embed");
        assert!(signed.len() > plain.len() + proof.len(), "{name}");
        // Still a decodable image with the same pixels (PNG) / size (JPEG).
        let back = image::load_from_memory(&signed).expect("decodes");
        assert_eq!((back.width(), back.height()), (24, 16));
        if name == "png" {
            let orig = image::load_from_memory(&plain).expect("decodes");
            assert_eq!(back.to_rgb8(), orig.to_rgb8());
        }
        let found = c2pa::extract(&signed, name).expect("extract");
        assert_eq!(found.proof, proof, "{name}");
        // The SDK's only complaint is our test credential (not on the C2PA trust list).
        assert_eq!(
            found.c2pa_status,
            ["signingCredential.untrusted: signing certificate untrusted"],
            "{name}"
        );
        assert_eq!(
            found.actions,
            [
                "c2pa.opened",
                "c2pa.cropped",
                "c2pa.resized",
                "c2pa.color_adjustments",
                "c2pa.edited"
            ],
            "{name}"
        );
        // One described-only ingredient for the original, no thumbnail anywhere: nothing is
        // derived from pixels other than the published ones.
        let reader = ::c2pa::Reader::from_context(::c2pa::Context::new())
            .with_stream(
                if name == "png" {
                    "image/png"
                } else {
                    "image/jpeg"
                },
                Cursor::new(&signed),
            )
            .expect("reader");
        let manifest = reader.active_manifest().expect("manifest");
        let [original] = manifest.ingredients() else {
            panic!("{name}: expected one ingredient");
        };
        assert_eq!(original.title(), Some(c2pa::ORIGINAL_TITLE));
        assert!(original.is_parent());
        assert!(original.thumbnail_ref().is_none(), "{name}");
        assert!(original.data_ref().is_none(), "{name}");
        assert!(original.hash().is_none(), "{name}");
        assert!(original.manifest_data_ref().is_none(), "{name}");
        assert!(manifest.thumbnail().is_none(), "{name}");
        assert!(manifest
            .assertions()
            .iter()
            .any(|a| a.label() == PROOF_LABEL));
    }
}

#[test]
fn missing_proofs_formats_and_credentials_are_typed_errors() {
    let plain = encoded(image::ImageFormat::Png);
    assert!(matches!(
        c2pa::extract(&plain, "png"),
        Err(C2paError::Read(_) | C2paError::NoProof)
    ));
    assert!(matches!(
        c2pa::extract(&plain, "gif"),
        Err(C2paError::Format(_))
    ));
    assert!(matches!(
        c2pa::embed(&plain, "bmp", &[], "00", b"p", &credential()),
        Err(C2paError::Format(_))
    ));
    let bad = C2paCredential {
        chain_pem: b"not a certificate".to_vec(),
        key_pem: credential().key_pem,
    };
    assert!(matches!(
        c2pa::embed(&plain, "png", &[], "00", b"p", &bad),
        Err(C2paError::Credential(_) | C2paError::Embed(_))
    ));
    // A manifest signed by one file's credential is not moved to another image: the C2PA
    // hard binding covers the pixels, so copying the manifest bytes is detected by the SDK.
    let signed = c2pa::embed(&plain, "png", &[], "00", b"p", &credential()).expect("embed");
    let found = c2pa::extract(&signed, "png").expect("extract");
    assert_eq!(found.proof, b"p");
}
