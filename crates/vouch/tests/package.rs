//! Model package files under corruption: every malformed package is a typed error (never a
//! panic), and a corrupted package that still decodes names a different program (its digest
//! changes), so a flipped byte can never pass as the original model.

#![allow(clippy::unwrap_used)]

mod common;

use common::example;
use vouch::artifact::{sniff, FileKind, ModelPackage, PACKAGE_MAGIC};
use vouch::model::{compile, CompileOptions};
use vouch::VouchError;

fn package() -> ModelPackage {
    let opts = CompileOptions {
        calibration: Some(example("calibration.npy")),
        ..CompileOptions::default()
    };
    compile(&example("model.onnx"), &opts).unwrap().package
}

/// Byte range of the program section inside the package bytes.
fn program_section(bytes: &[u8]) -> std::ops::Range<usize> {
    let len = u64::from_le_bytes(bytes[12..20].try_into().unwrap()) as usize;
    20..20 + len
}

#[test]
fn round_trip() {
    let pkg = package();
    let bytes = pkg.to_bytes().unwrap();
    assert_eq!(sniff(&bytes), FileKind::ModelPackage);
    assert!(bytes.starts_with(PACKAGE_MAGIC));
    let back = ModelPackage::from_bytes(&bytes).unwrap();
    assert_eq!(back.digest(), pkg.digest());
    assert!(
        back.to_bytes().unwrap() == bytes,
        "re-encoding changed the package"
    );
    assert!(&bytes[program_section(&bytes)] == pkg.program.encode().as_slice());
}

#[test]
fn every_truncation_is_an_error() {
    let bytes = package().to_bytes().unwrap();
    for cut in 0..bytes.len() {
        let r = ModelPackage::from_bytes(&bytes[..cut]);
        assert!(r.is_err(), "a {cut}-byte prefix of {} decoded", bytes.len());
    }
    let mut long = bytes.clone();
    long.push(0);
    assert!(
        ModelPackage::from_bytes(&long).is_err(),
        "trailing byte accepted"
    );
}

#[test]
fn every_flipped_program_byte_is_rejected_or_changes_the_digest() {
    let pkg = package();
    let bytes = pkg.to_bytes().unwrap();
    let section = program_section(&bytes);
    let (mut rejected, mut changed) = (0, 0);
    for pos in section.clone() {
        for mask in [0x01u8, 0x80, 0xff] {
            let mut b = bytes.clone();
            b[pos] ^= mask;
            match ModelPackage::from_bytes(&b) {
                Err(e) => {
                    assert!(!e.to_string().is_empty());
                    rejected += 1;
                }
                Ok(p) => {
                    assert_ne!(
                        p.digest(),
                        pkg.digest(),
                        "flipping byte {pos} (mask {mask:#x}) of the program kept the digest"
                    );
                    // The decoder accepts only canonical bytes: re-encoding gives them back.
                    assert!(
                        p.program.encode().as_slice() == &b[section.clone()],
                        "byte {pos}: accepted a non-canonical program"
                    );
                    changed += 1;
                }
            }
        }
    }
    eprintln!(
        "{} program bytes x 3 masks: {rejected} rejected, {changed} decoded to another digest",
        section.len()
    );
    assert!(rejected > 0);
}

#[test]
fn header_corruptions_are_format_errors() {
    let bytes = package().to_bytes().unwrap();
    let mut bad_magic = bytes.clone();
    bad_magic[0] ^= 0xff;
    let mut bad_version = bytes.clone();
    bad_version[8] = 99;
    let mut huge_len = bytes.clone();
    huge_len[12..20].copy_from_slice(&u64::MAX.to_le_bytes());
    let mut bad_meta = bytes.clone();
    let last = bad_meta.len() - 1;
    bad_meta[last] = b'!';
    for (what, b) in [
        ("magic", bad_magic),
        ("version", bad_version),
        ("program length", huge_len),
        ("metadata JSON", bad_meta),
    ] {
        match ModelPackage::from_bytes(&b) {
            Err(VouchError::Format { what: w, msg }) => {
                assert!(!msg.is_empty(), "{what}: empty message ({w})")
            }
            other => panic!("corrupt {what}: expected a format error, got {other:?}"),
        }
    }
}

#[test]
fn read_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = package().to_bytes().unwrap();
    let section = program_section(&bytes);
    let path = dir.path().join("corrupt.vouch");
    // Flip the program's own magic: the package frame is intact, the program is not.
    let mut b = bytes.clone();
    b[section.start] ^= 0xff;
    std::fs::write(&path, &b).unwrap();
    let e = ModelPackage::read(&path).unwrap_err().to_string();
    assert!(
        e.contains("corrupt.vouch"),
        "error does not name the file: {e}"
    );
    std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
    let e = ModelPackage::read(&path).unwrap_err().to_string();
    assert!(
        e.contains("corrupt.vouch"),
        "error does not name the file: {e}"
    );
}

#[test]
fn metadata_must_match_the_program() {
    let pkg = package();
    for (inputs, outputs) in [(2, 1), (0, 1), (1, 0), (1, 3)] {
        let mut p = pkg.clone();
        p.meta.input_names = (0..inputs).map(|i| format!("in{i}")).collect();
        p.meta.output_names = (0..outputs).map(|i| format!("out{i}")).collect();
        let bytes = p.to_bytes().unwrap();
        match ModelPackage::from_bytes(&bytes) {
            Err(VouchError::Format { msg, .. }) => assert!(msg.contains("metadata"), "{msg}"),
            other => panic!("{inputs} input and {outputs} output names accepted: {other:?}"),
        }
    }
}
