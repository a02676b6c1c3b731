//! Camera attestation: ECDSA P-256 sign / verify, PEM round trips and rejections.

use vouch_image::camera::{
    Attestation, CameraError, CameraKey, CameraPublicKey, PixelFormat, Signature, DOMAIN_TAG,
    MESSAGE_LEN, SIGNATURE_LEN,
};

fn attestation() -> Attestation {
    let mut commitment = [0u8; 32];
    for (i, b) in commitment.iter_mut().enumerate() {
        *b = (i as u8).wrapping_mul(37).wrapping_add(11);
    }
    Attestation {
        width: 1280,
        height: 720,
        format: PixelFormat::Rgb8,
        commitment,
    }
}

/// True when `bytes` do not form a signature that verifies `att` under `pk`.
fn rejected(pk: &CameraPublicKey, att: &Attestation, bytes: &[u8]) -> bool {
    match Signature::from_bytes(bytes) {
        Err(CameraError::MalformedSignature(_)) => true,
        Err(e) => panic!("unexpected error kind: {e}"),
        Ok(sig) => matches!(pk.verify(att, &sig), Err(CameraError::BadSignature)),
    }
}

#[test]
fn message_is_canonical() {
    let att = attestation();
    let m = att.message();
    assert_eq!(m.len(), MESSAGE_LEN);
    assert!(m.starts_with(b"vouch/camera-attestation/v1"));
    let mut expected = DOMAIN_TAG.to_vec();
    expected.extend_from_slice(&1280u32.to_le_bytes());
    expected.extend_from_slice(&720u32.to_le_bytes());
    expected.push(PixelFormat::Rgb8.code());
    expected.extend_from_slice(&att.commitment);
    assert_eq!(m, expected);
    assert_ne!(PixelFormat::Rgb8.code(), PixelFormat::Gray8.code());
}

#[test]
fn sign_verify_round_trip() {
    let key = CameraKey::generate();
    let pk = key.public();
    let att = attestation();
    let sig = key.sign(&att);
    pk.verify(&att, &sig).expect("valid signature verifies");
    // Encoding round trip.
    let bytes = sig.to_bytes();
    assert_eq!(bytes.len(), SIGNATURE_LEN);
    let back = Signature::from_bytes(&bytes).expect("own signature parses");
    assert_eq!(back, sig);
    pk.verify(&att, &back)
        .expect("re-parsed signature verifies");
    // Gray images too.
    let gray = Attestation {
        format: PixelFormat::Gray8,
        ..att
    };
    pk.verify(&gray, &key.sign(&gray)).expect("gray verifies");
}

#[test]
fn pem_round_trips() {
    let key = CameraKey::generate();
    let pem = key.to_pkcs8_pem().expect("encode private key");
    assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"));
    let key2 = CameraKey::from_pkcs8_pem(&pem).expect("decode private key");
    assert_eq!(key2.public(), key.public());

    let pub_pem = key.public().to_public_key_pem().expect("encode public key");
    assert!(pub_pem.starts_with("-----BEGIN PUBLIC KEY-----"));
    let pk = CameraPublicKey::from_public_key_pem(&pub_pem).expect("decode public key");
    assert_eq!(pk, key.public());
    assert_eq!(pk.fingerprint(), key.public().fingerprint());

    // A signature made by the reloaded key verifies under the reloaded public key.
    let att = attestation();
    pk.verify(&att, &key2.sign(&att))
        .expect("verifies after PEM");
}

#[test]
fn fingerprint_is_sha256_of_compressed_point() {
    use sha2::{Digest, Sha256};
    let pk = CameraKey::generate().public();
    let sec1 = pk.to_sec1_compressed();
    assert!(sec1[0] == 2 || sec1[0] == 3);
    let expected: [u8; 32] = Sha256::digest(sec1).into();
    assert_eq!(pk.fingerprint(), expected);
    assert_ne!(
        pk.fingerprint(),
        CameraKey::generate().public().fingerprint()
    );
}

#[test]
fn different_key_rejected() {
    let att = attestation();
    let sig = CameraKey::generate().sign(&att);
    let other = CameraKey::generate().public();
    assert!(matches!(
        other.verify(&att, &sig),
        Err(CameraError::BadSignature)
    ));
}

#[test]
fn changed_fields_rejected() {
    let key = CameraKey::generate();
    let pk = key.public();
    let att = attestation();
    let sig = key.sign(&att);
    let changed = [
        Attestation {
            width: att.width + 1,
            ..att
        },
        Attestation {
            height: att.height - 1,
            ..att
        },
        Attestation {
            width: att.height,
            height: att.width,
            ..att
        },
        Attestation {
            format: PixelFormat::Gray8,
            ..att
        },
    ];
    for c in &changed {
        assert!(
            matches!(pk.verify(c, &sig), Err(CameraError::BadSignature)),
            "{c:?} accepted"
        );
    }
    for i in 0..32 {
        for flip in [0x01u8, 0x80] {
            let mut c = att;
            c.commitment[i] ^= flip;
            assert!(
                matches!(pk.verify(&c, &sig), Err(CameraError::BadSignature)),
                "commitment byte {i} ^ {flip:#x} accepted"
            );
        }
    }
}

#[test]
fn mutated_signature_bytes_rejected() {
    let key = CameraKey::generate();
    let pk = key.public();
    let att = attestation();
    let bytes = key.sign(&att).to_bytes();
    for i in 0..SIGNATURE_LEN {
        for flip in [0x01u8, 0x80, 0xff] {
            let mut m = bytes;
            m[i] ^= flip;
            assert!(
                rejected(&pk, &att, &m),
                "byte {i} ^ {flip:#x} still verifies"
            );
        }
    }
}

#[test]
fn malformed_signature_bytes_error() {
    let key = CameraKey::generate();
    let pk = key.public();
    let att = attestation();
    let good = key.sign(&att).to_bytes();
    // Wrong lengths.
    for len in [0usize, 1, 32, 63, 65, 72, 128] {
        let v = vec![0x42u8; len];
        assert!(matches!(
            Signature::from_bytes(&v),
            Err(CameraError::MalformedSignature(_))
        ));
    }
    assert!(matches!(
        Signature::from_bytes(&good[..63]),
        Err(CameraError::MalformedSignature(_))
    ));
    let mut long = good.to_vec();
    long.push(0);
    assert!(matches!(
        Signature::from_bytes(&long),
        Err(CameraError::MalformedSignature(_))
    ));
    // Zero and out-of-range scalars.
    for bytes in [[0u8; 64], [0xffu8; 64]] {
        assert!(matches!(
            Signature::from_bytes(&bytes),
            Err(CameraError::MalformedSignature(_))
        ));
    }
    // High-S form (s -> n - s) of a valid signature is rejected as non-canonical.
    const N: [u8; 32] = [
        0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xff, 0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63,
        0x25, 0x51,
    ];
    let mut high = good;
    let mut borrow = 0i16;
    for i in (0..32).rev() {
        let d = N[i] as i16 - good[32 + i] as i16 - borrow;
        borrow = i16::from(d < 0);
        high[32 + i] = d.rem_euclid(256) as u8;
    }
    assert_eq!(borrow, 0);
    assert!(rejected(&pk, &att, &high));
    // Arbitrary junk never panics.
    let mut x = 0x1234_5678_9abc_def0u64;
    for _ in 0..200 {
        let mut junk = [0u8; 64];
        for b in junk.iter_mut() {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            *b = x as u8;
        }
        assert!(rejected(&pk, &att, &junk));
    }
}

#[test]
fn malformed_pem_errors() {
    let key = CameraKey::generate();
    let priv_pem = key.to_pkcs8_pem().expect("encode");
    let pub_pem = key.public().to_public_key_pem().expect("encode");

    let bad_inputs = [
        String::new(),
        "not a pem".to_string(),
        "-----BEGIN PRIVATE KEY-----\n!!!!\n-----END PRIVATE KEY-----\n".to_string(),
        "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n".to_string(),
        priv_pem[..priv_pem.len() / 2].to_string(),
        pub_pem[..pub_pem.len() / 2].to_string(),
        priv_pem.replace('A', "B"),
        pub_pem.replace('A', "B"),
    ];
    for s in &bad_inputs {
        assert!(
            matches!(
                CameraKey::from_pkcs8_pem(s),
                Err(CameraError::PrivateKey(_))
            ),
            "private accepted {s:?}"
        );
        // `pub_pem.replace('A', "B")` may by chance still decode to a valid point; skip exact
        // equality for it but never panic.
        let r = CameraPublicKey::from_public_key_pem(s);
        if s != &pub_pem.replace('A', "B") {
            assert!(
                matches!(r, Err(CameraError::PublicKey(_))),
                "public accepted {s:?}"
            );
        }
    }
    // Swapped kinds: a private key PEM is not a public key and vice versa.
    assert!(matches!(
        CameraPublicKey::from_public_key_pem(&priv_pem),
        Err(CameraError::PublicKey(_))
    ));
    assert!(matches!(
        CameraKey::from_pkcs8_pem(&pub_pem),
        Err(CameraError::PrivateKey(_))
    ));
    // Wrong curve: an Ed25519 PKCS#8 key and public key (RFC 8410 examples).
    let ed_priv = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEINTuctv5E1hK1bbY8fdp+K06/nwoy/HU++CXqI9EdVhC\n-----END PRIVATE KEY-----\n";
    let ed_pub = "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=\n-----END PUBLIC KEY-----\n";
    assert!(matches!(
        CameraKey::from_pkcs8_pem(ed_priv),
        Err(CameraError::PrivateKey(_))
    ));
    assert!(matches!(
        CameraPublicKey::from_public_key_pem(ed_pub),
        Err(CameraError::PublicKey(_))
    ));
}
