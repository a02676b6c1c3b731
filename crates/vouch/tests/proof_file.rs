//! Proof files under corruption, without proving anything: every cut or garbled file is a
//! typed format error (never a panic), the encoding round-trips, and policies resolve from
//! presets and overrides as documented.

#![allow(clippy::unwrap_used)]

use vouch::artifact::{
    from_hex, hex, sniff, FileKind, ProofFile, ProofMeta, TensorSummary, PROOF_MAGIC,
};
use vouch::backend::{Commitment, PublicTensor, Role, Statement, Visibility, VisibilityPolicy};
use vouch::ir::{Digest, TensorId};
use vouch::prove::{describe_policy, parse_visibility, PolicyChoice, Preset};
use vouch::VouchError;

fn sample() -> ProofFile {
    ProofFile {
        statement: Statement {
            program_digest: Digest([7; 32]),
            backend: "halo2".into(),
            params_digest: [9; 32],
            visibility: VisibilityPolicy {
                input: Visibility::Public,
                weights: Visibility::Fixed,
                output: Visibility::Public,
            },
            public: vec![
                PublicTensor {
                    tensor: TensorId(0),
                    values: vec![1, -2, 3],
                },
                PublicTensor {
                    tensor: TensorId(5),
                    values: vec![i64::MIN, i64::MAX],
                },
            ],
            commitments: vec![Commitment {
                role: Role::Weights,
                bytes: vec![0xab; 32],
            }],
            insecure_setup: true,
        },
        proof: (0..=255u8).cycle().take(1500).collect(),
        meta: ProofMeta {
            k: 12,
            outputs: vec![TensorSummary {
                tensor: TensorId(5),
                role: Role::Output,
                name: "logits".into(),
                shape: vec![1, 2],
                scale: Some(0.125),
            }],
            vouch_version: "0.1.0".into(),
        },
    }
}

#[test]
fn round_trip() {
    let p = sample();
    let bytes = p.to_bytes().unwrap();
    assert!(bytes.starts_with(PROOF_MAGIC));
    assert_eq!(sniff(&bytes), FileKind::Proof);
    let back = ProofFile::from_bytes(&bytes).unwrap();
    assert_eq!(back, p);
    assert!(
        back.to_bytes().unwrap() == bytes,
        "re-encoding changed the file"
    );
}

#[test]
fn every_truncation_and_extension_is_a_format_error() {
    let bytes = sample().to_bytes().unwrap();
    for cut in 0..bytes.len() {
        match ProofFile::from_bytes(&bytes[..cut]) {
            Err(VouchError::Format { .. }) => {}
            other => panic!("a {cut}-byte prefix of {}: {other:?}", bytes.len()),
        }
    }
    let mut long = bytes.clone();
    long.push(0);
    assert!(matches!(
        ProofFile::from_bytes(&long),
        Err(VouchError::Format { msg, .. }) if msg.contains("trailing")
    ));
}

#[test]
fn garbled_headers_and_sections_are_format_errors() {
    let bytes = sample().to_bytes().unwrap();
    let statement_len = u64::from_le_bytes(bytes[12..20].try_into().unwrap()) as usize;
    let mut cases: Vec<(&str, Vec<u8>)> = Vec::new();
    let mut b = bytes.clone();
    b[0] = b'X';
    cases.push(("magic", b));
    let mut b = bytes.clone();
    b[8] = 2;
    cases.push(("version", b));
    for (name, len) in [("huge length", u64::MAX), ("long length", 1 << 40)] {
        let mut b = bytes.clone();
        b[12..20].copy_from_slice(&len.to_le_bytes());
        cases.push((name, b));
    }
    let mut b = bytes.clone();
    b[20] = b'[';
    cases.push(("statement json", b));
    let mut b = bytes.clone();
    let at = 20 + statement_len;
    b[at..at + 8].copy_from_slice(&0u64.to_le_bytes());
    cases.push(("empty proof", b));
    let mut p = sample();
    p.statement.backend = "plonky9".into();
    cases.push(("backend", p.to_bytes().unwrap()));
    for (name, b) in cases {
        assert!(
            matches!(ProofFile::from_bytes(&b), Err(VouchError::Format { .. })),
            "{name} accepted"
        );
    }
    // Every single flipped byte either fails to decode or decodes to a different file.
    let p = sample();
    for at in 0..bytes.len() {
        let mut b = bytes.clone();
        b[at] ^= 0x20;
        if let Ok(q) = ProofFile::from_bytes(&b) {
            assert_ne!(q, p, "flipping byte {at} changed nothing");
        }
    }
}

#[test]
fn hex_round_trips_and_rejects_non_hex() {
    assert_eq!(hex(&[0, 0xab, 0xff]), "00abff");
    assert_eq!(from_hex("00abFF"), Some(vec![0, 0xab, 0xff]));
    for bad in ["abc", "zz", "0x00", "é0", "+1"] {
        assert_eq!(from_hex(bad), None, "{bad}");
    }
    assert_eq!(from_hex(""), Some(vec![]));
}

#[test]
fn policies_from_presets_and_overrides() {
    assert_eq!(
        PolicyChoice::default().resolve(),
        VisibilityPolicy::provider()
    );
    let client = PolicyChoice {
        preset: Some(Preset::Client),
        ..PolicyChoice::default()
    };
    assert_eq!(client.resolve(), VisibilityPolicy::client());
    let custom = PolicyChoice {
        preset: None,
        input: None,
        weights: Some(Visibility::Fixed),
        output: Some(Visibility::Private),
    }
    .resolve();
    assert_eq!(
        custom,
        VisibilityPolicy {
            input: Visibility::Public,
            weights: Visibility::Fixed,
            output: Visibility::Private,
        }
    );
    assert_eq!(Preset::of(custom), None);
    assert_eq!(Preset::of(VisibilityPolicy::client()), Some(Preset::Client));
    assert_eq!(
        describe_policy(custom),
        "input public, weights fixed, output private"
    );
    assert!(describe_policy(VisibilityPolicy::provider()).starts_with("provider ("));
    for name in ["public", "hashed", "private", "fixed"] {
        let v = parse_visibility(name).unwrap();
        assert_eq!(vouch::prove::visibility_name(v), name);
    }
    assert_eq!(parse_visibility("Public"), None);
    assert_eq!(Preset::parse("client"), Some(Preset::Client));
    assert_eq!(Preset::parse("server"), None);
}
