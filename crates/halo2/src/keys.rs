//! Versioned byte formats of verifying keys, and proving keys re-derived from them.
//!
//! A verifying key file holds everything a verifier needs: the key metadata (program digest,
//! policy, circuit shape, public tensors, SRS digest, insecure flag), the halo2 verifying key
//! and the KZG parameters trimmed to the circuit size. Proving keys are not stored: they are
//! derived again from the program and the verifying key in a few seconds, which keeps key
//! directories small and impossible to get out of sync.

use std::sync::Arc;

use halo2_axiom::{
    halo2curves::bn256::{Bn256, G1Affine},
    plonk::{keygen_pk, VerifyingKey},
    poly::kzg::commitment::ParamsKZG,
    SerdeFormat,
};
use sha2::{Digest as _, Sha256};
use vouch_backend::{Visibility, VisibilityPolicy};
use vouch_ir::{Digest, Program, TensorId};

use crate::backend::{zero_values, Halo2ProvingKey, Halo2VerifyingKey, KeyInfo, PublicSpec, MAX_K};
use crate::circuit::VouchCircuit;
use crate::config::{Shape, MAX_LANES, MIN_LANES};
use crate::error::Halo2Error;
use crate::lower::lay_out;

const MAGIC: &[u8; 8] = b"VOUCHH2K";

/// Bytes of BN254 KZG parameters for `2^k` rows in halo2's `RawBytes` format: `k`, the
/// monomial and Lagrange G1 bases (64 bytes a point), then `g2` and `s_g2` (128 bytes each).
fn raw_params_len(k: u32) -> usize {
    4 + 2 * (1usize << k) * 64 + 2 * 128
}
/// 2: parameters stored uncompressed (reading compressed points cost a square root each).
/// 3: the lane count of the shape (chosen per program by the planner).
/// 4: public values packed many to an instance row (the circuit changed, not the file).
/// 5: commitments pack byte-aligned words, and inputs and outputs share one domain tag.
const VERSION: u32 = 5;

fn vis_tag(v: Visibility) -> u8 {
    match v {
        Visibility::Public => 0,
        Visibility::Hashed => 1,
        Visibility::Private => 2,
        Visibility::Fixed => 3,
    }
}

fn vis_from(t: u8) -> Option<Visibility> {
    Some(match t {
        0 => Visibility::Public,
        1 => Visibility::Hashed,
        2 => Visibility::Private,
        3 => Visibility::Fixed,
        _ => return None,
    })
}

impl Halo2VerifyingKey {
    /// The key file's bytes.
    pub fn encode(&self) -> Vec<u8> {
        let i = &self.info;
        let mut b = Vec::new();
        b.extend_from_slice(MAGIC);
        b.extend_from_slice(&VERSION.to_le_bytes());
        b.extend_from_slice(&i.program_digest.0);
        b.extend_from_slice(&[
            vis_tag(i.policy.input),
            vis_tag(i.policy.weights),
            vis_tag(i.policy.output),
            i.insecure_setup as u8,
        ]);
        b.extend_from_slice(&i.shape.range_bits.to_le_bytes());
        b.extend_from_slice(&i.shape.gates.to_le_bytes());
        b.extend_from_slice(&i.shape.range_lanes.to_le_bytes());
        b.extend_from_slice(&i.shape.lanes.to_le_bytes());
        b.extend_from_slice(&i.k.to_le_bytes());
        b.extend_from_slice(&i.srs_digest);
        b.extend_from_slice(&(i.public.len() as u32).to_le_bytes());
        for p in &i.public {
            b.extend_from_slice(&p.tensor.0.to_le_bytes());
            b.extend_from_slice(&(p.len as u64).to_le_bytes());
            b.extend_from_slice(&p.lo.to_le_bytes());
            b.extend_from_slice(&p.hi.to_le_bytes());
        }
        let vk = self.vk.to_bytes(SerdeFormat::Processed);
        b.extend_from_slice(&(vk.len() as u64).to_le_bytes());
        b.extend_from_slice(&vk);
        let mut params = Vec::new();
        // Writing into a Vec cannot fail.
        let _ = self.params.write_custom(&mut params, SerdeFormat::RawBytes);
        b.extend_from_slice(&(params.len() as u64).to_le_bytes());
        b.extend_from_slice(&params);
        // Integrity: a corrupted file fails to decode instead of holding subtly other
        // parameters the verifier happens not to read.
        let sum: [u8; 32] = Sha256::digest(&b).into();
        b.extend_from_slice(&sum);
        b
    }

    /// Parses a key file; hostile bytes give an error, never a panic.
    pub fn decode(bytes: &[u8]) -> Result<Self, Halo2Error> {
        if bytes.len() < 8 + 32 || &bytes[..8] != MAGIC {
            return Err(bad("not a Vouch halo2 verifying key (bad magic)"));
        }
        let (bytes, sum) = bytes.split_at(bytes.len() - 32);
        if Sha256::digest(bytes).as_slice() != sum {
            return Err(bad("checksum mismatch: the key file is corrupted"));
        }
        let mut r = Reader { b: bytes, at: 0 };
        if r.take(8)? != MAGIC {
            return Err(bad("not a Vouch halo2 verifying key (bad magic)"));
        }
        let version = r.u32()?;
        if version != VERSION {
            return Err(bad(&format!(
                "key format version {version}, this build reads {VERSION}"
            )));
        }
        let program_digest = Digest(r.array()?);
        let [vi, vw, vo, insecure] = r.array::<4>()?;
        let policy = VisibilityPolicy {
            input: vis_from(vi).ok_or_else(|| bad("bad visibility tag"))?,
            weights: vis_from(vw).ok_or_else(|| bad("bad visibility tag"))?,
            output: vis_from(vo).ok_or_else(|| bad("bad visibility tag"))?,
        };
        if insecure > 1 {
            return Err(bad("bad insecure flag"));
        }
        let range_bits = r.u32()?;
        if !(1..=20).contains(&range_bits) {
            return Err(bad("range table width out of bounds"));
        }
        let gates = r.u32()?;
        if gates & !crate::config::gate::ALL != 0 {
            return Err(bad("unknown gate flags"));
        }
        let range_lanes = r.u32()?;
        if !(1..=crate::config::RANGE_LANES as u32).contains(&range_lanes) {
            return Err(bad("range lane count out of bounds"));
        }
        let lanes = r.u32()?;
        if !(MIN_LANES as u32..=MAX_LANES as u32).contains(&lanes) {
            return Err(bad("lane count out of bounds"));
        }
        let k = r.u32()?;
        if !(1..=MAX_K).contains(&k) {
            return Err(bad("circuit size out of bounds"));
        }
        let srs_digest = r.array()?;
        let n = r.u32()? as usize;
        let mut public = Vec::with_capacity(n.min(1 << 16));
        for _ in 0..n {
            let tensor = TensorId(r.u32()?);
            let len = usize::try_from(r.u64()?).map_err(|_| bad("tensor length"))?;
            let lo = r.u64()? as i64;
            let hi = r.u64()? as i64;
            if lo > hi {
                return Err(bad("empty public range"));
            }
            public.push(PublicSpec {
                tensor,
                len,
                lo,
                hi,
            });
        }
        let vk_len = r.len()?;
        let vk_bytes = r.take(vk_len)?;
        let params_len = r.len()?;
        let params_bytes = r.take(params_len)?;
        if r.at != bytes.len() {
            return Err(bad("trailing bytes"));
        }
        let shape = Shape {
            range_bits,
            gates,
            range_lanes,
            lanes,
        };
        // halo2-axiom sizes its allocations from the `k` inside each part (`1 << k` domain
        // tables, `2^k` points) before reading any further: a hostile file naming a huge `k`
        // would exhaust memory or overflow the shift. Both must be the key's own, bounded `k`,
        // and the parameters exactly the length that `k` implies.
        // The verifying key starts with halo2's version byte, then `k`.
        if vk_bytes.get(1..5) != Some(&k.to_le_bytes()[..]) {
            return Err(bad("verifying key is for another circuit size"));
        }
        if params_bytes.get(..4) != Some(&k.to_le_bytes()[..]) {
            return Err(bad("parameters do not match the circuit size"));
        }
        if params_bytes.len() != raw_params_len(k) {
            return Err(bad(
                "KZG parameters have the wrong length for the circuit size",
            ));
        }
        let vk = guarded(|| {
            VerifyingKey::<G1Affine>::read::<_, VouchCircuit>(
                &mut &vk_bytes[..],
                SerdeFormat::Processed,
                shape,
            )
            .ok()
        })
        .ok_or_else(|| bad("malformed halo2 verifying key"))?;
        let params = guarded(|| {
            ParamsKZG::<Bn256>::read_custom(&mut &params_bytes[..], SerdeFormat::RawBytes).ok()
        })
        .ok_or_else(|| bad("malformed KZG parameters"))?;
        if halo2_axiom::poly::commitment::Params::k(&params) != k {
            return Err(bad("parameters do not match the circuit size"));
        }
        Ok(Halo2VerifyingKey {
            info: KeyInfo {
                program_digest,
                policy,
                shape,
                k,
                public,
                srs_digest,
                insecure_setup: insecure == 1,
            },
            params: Arc::new(params),
            vk,
        })
    }

    /// Derives the proving key for `program`, which must be the key's program.
    pub fn proving_key(&self, program: &Program) -> Result<Halo2ProvingKey, Halo2Error> {
        if program.digest() != self.info.program_digest {
            return Err(Halo2Error::Key(format!(
                "the key is for model {}, not {}",
                self.info.program_digest,
                program.digest()
            )));
        }
        let layout = lay_out(
            program,
            self.info.policy,
            &zero_values(program),
            self.info.shape,
            &crate::lower::Blindings::default(),
        )?;
        let circuit = VouchCircuit {
            layout: Arc::new(layout),
            shape: self.info.shape,
        };
        let pk = keygen_pk(self.params.as_ref(), self.vk.clone(), &circuit)?;
        Ok(Halo2ProvingKey {
            program: Arc::new(program.clone()),
            info: self.info.clone(),
            params: self.params.clone(),
            pk,
        })
    }
}

fn bad(m: &str) -> Halo2Error {
    Halo2Error::Key(m.to_string())
}

/// Runs a parser from the halo2 stack, turning a panic on hostile bytes into `None`.
fn guarded<T>(f: impl FnOnce() -> Option<T> + std::panic::UnwindSafe) -> Option<T> {
    std::panic::catch_unwind(f).ok().flatten()
}

struct Reader<'a> {
    b: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], Halo2Error> {
        let end = self.at.checked_add(n).filter(|&e| e <= self.b.len());
        let end = end.ok_or_else(|| bad("truncated key file"))?;
        let s = &self.b[self.at..end];
        self.at = end;
        Ok(s)
    }
    fn array<const N: usize>(&mut self) -> Result<[u8; N], Halo2Error> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }
    fn u32(&mut self) -> Result<u32, Halo2Error> {
        Ok(u32::from_le_bytes(self.array()?))
    }
    fn u64(&mut self) -> Result<u64, Halo2Error> {
        Ok(u64::from_le_bytes(self.array()?))
    }
    fn len(&mut self) -> Result<usize, Halo2Error> {
        let n = self.u64()?;
        usize::try_from(n)
            .ok()
            .filter(|&n| n <= self.b.len())
            .ok_or_else(|| bad("length field larger than the file"))
    }
}
