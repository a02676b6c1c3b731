//! Integers to BN254 scalars: IR values are signed 64-bit, products stay far below p/2.

use halo2_axiom::halo2curves::{
    bn256::Fr,
    ff::{Field, PrimeField},
};

/// The field element of a signed integer (negatives map to `p - |v|`).
pub fn fr(v: i128) -> Fr {
    let a = v.unsigned_abs();
    // `from_u128` doubles 64 times; almost every IR value fits one limb.
    let mag = match u64::try_from(a) {
        Ok(small) => Fr::from(small),
        Err(_) => Fr::from_u128(a),
    };
    if v < 0 {
        -mag
    } else {
        mag
    }
}

/// `2^e` as a field element.
pub fn pow2(e: u32) -> Fr {
    // Below the modulus' 254 bits the power is one set bit of the canonical encoding
    // (`pow_vartime` would square 64 times whatever the exponent).
    if e < 254 {
        let mut b = [0u8; 32];
        b[(e / 8) as usize] = 1 << (e % 8);
        if let Some(v) = from_bytes(&b) {
            return v;
        }
    }
    Fr::from(2).pow_vartime([e as u64])
}

/// Bits needed to hold every integer in `[0, n]`.
pub fn bits_for(n: u128) -> u32 {
    128 - n.leading_zeros()
}

/// The 32 little-endian bytes of a field element.
pub fn to_bytes(f: &Fr) -> [u8; 32] {
    f.to_repr()
}

/// A canonical field element from 32 little-endian bytes, or `None` when not below p.
pub fn from_bytes(b: &[u8; 32]) -> Option<Fr> {
    Option::from(Fr::from_repr(*b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pow2_matches_repeated_doubling() {
        let mut p = Fr::one();
        for e in 0..300 {
            assert_eq!(pow2(e), p, "2^{e}");
            p = p.double();
        }
    }
}
