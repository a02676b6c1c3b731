//! Hashed (linked) inputs on the gkr backend: the input lives in its own commitment
//! (`vouch_gkr::link`), named by the statement, which a camera can sign and several proofs can
//! share; proofs are zero-knowledge. A proof from another input under the published
//! commitment, another commitment in the statement, and flipped proof bytes are rejected.
#![allow(clippy::unwrap_used)]

use vouch_backend::{Backend, Role, Statement, Visibility, VisibilityPolicy, Witness};
use vouch_gkr::backend::{GkrBackend, GkrKey};
use vouch_gkr::link::{self, LinkSecret};
use vouch_gkr::program::{protocol, witness, ProgramProof};
use vouch_gkr::transcript::Transcript;
use vouch_ir::{interp, Op, Program, ProgramBuilder, Range, Tensor};

mod common;

fn hashed() -> VisibilityPolicy {
    VisibilityPolicy {
        input: Visibility::Hashed,
        weights: Visibility::Fixed,
        output: Visibility::Public,
    }
}

/// u8 image [12, 16, 3] → crop → two weighted taps along the width → requant (an image edit's
/// shape; its input is the linked commitment, range-checked where it is committed).
fn edit() -> Program {
    common::filter_chain().0
}

fn image(seed: i64) -> Tensor {
    let xs: Vec<i64> = (0..12 * 16 * 3).map(|i| (i * 97 + seed) % 256).collect();
    Tensor::new(vec![12, 16, 3], xs).unwrap()
}

fn key() -> GkrKey {
    GkrBackend.setup(&edit(), hashed()).unwrap().0
}

fn witness_of(p: &Program, x: &Tensor) -> Witness {
    interp::run(p, std::slice::from_ref(x)).unwrap().into()
}

#[test]
fn a_hashed_input_proves_against_its_commitment_and_stays_out_of_the_statement() {
    let key = key();
    assert!(key.plan.zk);
    let col = key.plan.linked_input.unwrap();
    // A u8 linked input is range-checked where it is committed: it is its own region.
    assert!(key
        .plan
        .ranges
        .iter()
        .any(|r| r.region == col && r.bits == 8));
    assert!(key.plan.columns[col].loc.is_none());
    let p = edit();
    let x = image(0);
    let secret = LinkSecret([3; 32]);
    let w = witness_of(&p, &x);
    let (st, proof) = GkrBackend
        .prove_with_links(&key, &w, Some(&secret), None)
        .unwrap();
    let published = link::commit(&x.data, &secret).unwrap().commitment;
    assert_eq!(st.commitments.len(), 1);
    assert_eq!(st.commitments[0].role, Role::Input);
    assert_eq!(st.commitments[0].bytes, published.0.to_vec());
    assert!(st.public.iter().all(|t| !p.inputs.contains(&t.tensor)));
    let parsed = ProgramProof::from_bytes(&proof.to_bytes()).unwrap();
    GkrBackend.verify(&key, &st, &parsed).unwrap();
    let out = interp::run(&p, std::slice::from_ref(&x)).unwrap().outputs();
    assert_eq!(st.public.last().unwrap().values, out[0].data);
    // A second proof against the same commitment (another edit of the same photo) verifies
    // and differs.
    let (st2, proof2) = GkrBackend
        .prove_with_links(&key, &w, Some(&secret), None)
        .unwrap();
    assert_eq!(st2.commitments, st.commitments);
    GkrBackend.verify(&key, &st2, &proof2).unwrap();
    assert_ne!(proof.to_bytes(), proof2.to_bytes());
    // The trait's prove draws a fresh commitment.
    let (st3, proof3) = GkrBackend.prove(&key, &w).unwrap();
    assert_ne!(st3.commitments, st.commitments);
    GkrBackend.verify(&key, &st3, &proof3).unwrap();
}

/// Honest columns of input `x` and the statement naming `commitment` with `x`'s outputs.
fn columns_and_statement(
    key: &GkrKey,
    x: &Tensor,
    named: &Statement,
) -> (Vec<Vec<i64>>, Statement) {
    let p = edit();
    let w = witness_of(&p, x);
    let cols = witness::column_values(&key.plan, &w.values).unwrap();
    let mut st = named.clone();
    let out = interp::run(&p, std::slice::from_ref(x)).unwrap().outputs();
    st.public.last_mut().unwrap().values = out[0].data.clone();
    (cols, st)
}

#[test]
fn an_edit_of_another_image_under_the_signed_commitment_is_rejected() {
    let key = key();
    let p = edit();
    let (a, b) = (image(0), image(1));
    let secret = LinkSecret([5; 32]);
    let (st_a, _) = GkrBackend
        .prove_with_links(&key, &witness_of(&p, &a), Some(&secret), None)
        .unwrap();
    // The editor holds A's signed commitment (and its secret) and proves an edit of B.
    let (cols_b, st) = columns_and_statement(&key, &b, &st_a);
    let linked_a = link::commit(&a.data, &secret).unwrap();
    let proof = protocol::prove_columns_unchecked(
        &key.plan,
        cols_b,
        vec![linked_a],
        &mut Transcript::new(&st),
    )
    .unwrap();
    assert!(GkrBackend.verify(&key, &st, &proof).is_err());
    // The honest prover refuses outright.
    let linked_a = link::commit(&a.data, &secret).unwrap();
    let w = witness_of(&p, &b);
    let err = vouch_gkr::program::prove_linked(
        &key.plan,
        &w.values,
        vec![linked_a],
        &mut Transcript::new(&st),
    )
    .unwrap_err();
    assert!(err.to_string().contains("differs from the tensor"), "{err}");
}

#[test]
fn another_commitment_in_the_statement_and_flipped_bytes_are_rejected() {
    let key = key();
    let p = edit();
    let w = witness_of(&p, &image(2));
    let (st, proof) = GkrBackend
        .prove_with_links(&key, &w, Some(&LinkSecret([9; 32])), None)
        .unwrap();
    let mut other = st.clone();
    other.commitments[0].bytes[0] ^= 1;
    assert!(GkrBackend.verify(&key, &other, &proof).is_err());
    let mut none = st.clone();
    none.commitments.clear();
    assert!(GkrBackend.verify(&key, &none, &proof).is_err());
    let mut short = st.clone();
    short.commitments[0].bytes.pop();
    assert!(GkrBackend.verify(&key, &short, &proof).is_err());
    // A commitment to the same image under another secret is another statement.
    let mut resecret = st.clone();
    resecret.commitments[0].bytes = link::commit(&image(2).data, &LinkSecret([10; 32]))
        .unwrap()
        .commitment
        .0
        .to_vec();
    assert!(GkrBackend.verify(&key, &resecret, &proof).is_err());
    let bytes = proof.to_bytes();
    let mut parsed = 0;
    for k in 0..120 {
        let mut b = bytes.clone();
        let at = (k * 7919 + 101) % b.len();
        b[at] ^= 1 << (k % 8);
        if let Ok(pr) = ProgramProof::from_bytes(&b) {
            parsed += 1;
            assert!(
                GkrBackend.verify(&key, &st, &pr).is_err(),
                "byte {at} flipped and accepted"
            );
        }
    }
    assert!(parsed >= 100, "only {parsed} mutations parsed");
    // Without its secret a hashed input cannot be proven.
    assert!(GkrBackend.prove_with_links(&key, &w, None, None).is_err());
}

/// Flips a [10, 6, 3] u8 image left to right (the second edit of a chain).
fn flip() -> Program {
    let mut b = ProgramBuilder::new();
    let x = b
        .input("mid", vec![10, 6, 3], Range::new(0, 255), None)
        .unwrap();
    let f = Op::Slice {
        starts: vec![0, 5, 0],
        lens: vec![10, 6, 3],
        steps: vec![1, -1, 1],
    };
    let y = b.node("flip", f, &[x], None).unwrap();
    b.output(y);
    b.finish().unwrap()
}

#[test]
fn a_chain_links_through_a_hidden_intermediate() {
    let both = VisibilityPolicy {
        input: Visibility::Hashed,
        weights: Visibility::Fixed,
        output: Visibility::Hashed,
    };
    let (p1, p2) = (edit(), flip());
    let k1 = GkrBackend.setup(&p1, both).unwrap().0;
    let k2 = GkrBackend.setup(&p2, hashed()).unwrap().0;
    let x = image(4);
    let (camera, mid) = (LinkSecret([1; 32]), LinkSecret([2; 32]));
    let w1 = witness_of(&p1, &x);
    let (st1, pr1) = GkrBackend
        .prove_with_links(&k1, &w1, Some(&camera), Some(&mid))
        .unwrap();
    // Step 1 publishes nothing but two commitments: the camera's and the intermediate's.
    assert!(st1.public.is_empty());
    assert_eq!(
        st1.commitments.iter().map(|c| c.role).collect::<Vec<_>>(),
        [Role::Input, Role::Output]
    );
    GkrBackend.verify(&k1, &st1, &pr1).unwrap();
    let hidden = interp::run(&p1, std::slice::from_ref(&x))
        .unwrap()
        .outputs()[0]
        .clone();
    let w2 = witness_of(&p2, &hidden);
    let (st2, pr2) = GkrBackend
        .prove_with_links(&k2, &w2, Some(&mid), None)
        .unwrap();
    GkrBackend.verify(&k2, &st2, &pr2).unwrap();
    // The link: step 2's input commitment is step 1's output commitment.
    assert_eq!(st2.commitments[0].bytes, st1.commitments[1].bytes);
    // A forged intermediate (one pixel changed) cannot continue the chain under the
    // published commitment: its own commitment differs, and proving it under the published
    // one is rejected.
    let mut forged = hidden.clone();
    forged.data[0] = (forged.data[0] + 1) % 256;
    let (st_f, _) = GkrBackend
        .prove_with_links(&k2, &witness_of(&p2, &forged), Some(&mid), None)
        .unwrap();
    assert_ne!(st_f.commitments[0].bytes, st1.commitments[1].bytes);
    let (cols, st) = {
        let w = witness_of(&p2, &forged);
        let cols = witness::column_values(&k2.plan, &w.values).unwrap();
        let mut st = st2.clone();
        st.public.last_mut().unwrap().values = interp::run(&p2, std::slice::from_ref(&forged))
            .unwrap()
            .outputs()[0]
            .data
            .clone();
        (cols, st)
    };
    let published = link::commit(&hidden.data, &mid).unwrap();
    let proof = protocol::prove_columns_unchecked(
        &k2.plan,
        cols,
        vec![published],
        &mut Transcript::new(&st),
    )
    .unwrap();
    assert!(GkrBackend.verify(&k2, &st, &proof).is_err());
    // Step 1's output commitment swapped for another is rejected.
    let mut swapped = st1.clone();
    swapped.commitments[1].bytes = st_f.commitments[0].bytes.clone();
    assert!(GkrBackend.verify(&k1, &swapped, &pr1).is_err());
}
