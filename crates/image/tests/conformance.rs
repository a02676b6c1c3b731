//! `interp::run(edit_program(..))` equals the reference implementation pixel for pixel.

use vouch_image::{apply_reference, edit_program, Edit, Image, ImageError, Rect};
use vouch_ir::interp;

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.below(hi - lo + 1)
    }
}

fn random_image(rng: &mut Rng, w: usize, h: usize, c: usize) -> Image {
    let data = (0..w * h * c).map(|_| rng.next() as u8).collect();
    Image::new(w, h, c, data).expect("sized")
}

fn run_ir(img: &Image, edits: &[Edit]) -> Image {
    let p = edit_program(img.width, img.height, img.channels, edits).expect("program");
    let trace = interp::run(&p, &[img.to_tensor()]).expect("run");
    let out = trace.outputs().remove(0);
    let [h, w, c] = out.shape[..] else {
        panic!("rank")
    };
    Image::new(
        w,
        h,
        c,
        out.data
            .iter()
            .map(|&v| u8::try_from(v).expect("u8"))
            .collect(),
    )
    .expect("sized")
}

fn check(img: &Image, edits: &[Edit]) {
    let want = apply_reference(img, edits).expect("reference");
    let got = run_ir(img, edits);
    assert_eq!(
        (got.width, got.height, got.channels),
        (want.width, want.height, want.channels),
        "{edits:?}"
    );
    if got.data != want.data {
        let i = got
            .data
            .iter()
            .zip(&want.data)
            .position(|(a, b)| a != b)
            .unwrap_or(0);
        panic!(
            "{edits:?} on {}x{}x{}: first difference at byte {i}: ir {} ref {}",
            img.width, img.height, img.channels, got.data[i], want.data[i]
        );
    }
}

fn random_edit(rng: &mut Rng, w: usize, h: usize, c: usize) -> Edit {
    let rect = |rng: &mut Rng| {
        let rw = rng.range(1, w);
        let rh = rng.range(1, h);
        Rect {
            x: rng.below(w - rw + 1),
            y: rng.below(h - rh + 1),
            w: rw,
            h: rh,
        }
    };
    match rng.below(20) {
        0 => {
            let r = rect(rng);
            Edit::Crop {
                x: r.x,
                y: r.y,
                w: r.w,
                h: r.h,
            }
        }
        1 => Edit::FlipH,
        2 => Edit::FlipV,
        3 => Edit::Rotate90,
        4 => Edit::Rotate180,
        5 => Edit::Rotate270,
        6 => Edit::ResizeNearest {
            w: rng.range(1, 2 * w),
            h: rng.range(1, 2 * h),
        },
        7 => Edit::ResizeBilinear {
            w: rng.range(1, 2 * w),
            h: rng.range(1, 2 * h),
        },
        8 => Edit::ResizeArea {
            w: rng.range(1, 2 * w),
            h: rng.range(1, 2 * h),
        },
        9 => Edit::Grayscale,
        10 => Edit::Brightness {
            delta: rng.range(0, 510) as i32 - 255,
        },
        11 => Edit::Contrast {
            factor: rng.range(0, 4 << 14) as u32,
        },
        12 => Edit::Gamma {
            gamma_milli: rng.range(100, 3000) as u32,
        },
        13 => {
            let a = rng.range(0, 254) as u8;
            let b = rng.range(a as usize + 1, 255) as u8;
            Edit::Levels {
                in_lo: a,
                in_hi: b,
                out_lo: rng.below(256) as u8,
                out_hi: rng.below(256) as u8,
            }
        }
        14 => {
            let n = if rng.below(2) == 0 { 1 } else { c };
            Edit::Curves {
                tables: (0..n)
                    .map(|_| (0..256).map(|_| rng.next() as u8).collect())
                    .collect(),
            }
        }
        15 if c == 3 => {
            let mut m = [[0i32; 3]; 3];
            for v in m.iter_mut().flatten() {
                *v = rng.range(0, 3 << 14) as i32 - (1 << 14);
            }
            Edit::ColorMatrix {
                m,
                offset: [0, 1, 2].map(|_| rng.range(0, 1 << 20) as i32 - (1 << 19)),
            }
        }
        16 => Edit::BoxBlur {
            radius: rng.range(1, 4) as u32,
        },
        17 => Edit::GaussianBlur {
            sigma_milli: rng.range(100, 2500) as u32,
        },
        18 => Edit::Sharpen,
        _ => Edit::Redact {
            rects: (0..rng.range(1, 3)).map(|_| rect(rng)).collect(),
            fill: [rng.next() as u8, rng.next() as u8, rng.next() as u8],
        },
    }
}

fn dims_after(img: &Image, edits: &[Edit]) -> (usize, usize, usize) {
    let d = vouch_image::check_edits(img.width, img.height, img.channels, edits).expect("valid");
    *d.last().expect("nonempty")
}

#[test]
fn each_op_matches_reference() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for _ in 0..3000 {
        let c = if rng.below(3) == 0 { 1 } else { 3 };
        let (w, h) = (rng.range(1, 13), rng.range(1, 13));
        let img = random_image(&mut rng, w, h, c);
        let e = random_edit(&mut rng, img.width, img.height, c);
        check(&img, &[e]);
    }
}

#[test]
fn compositions_match_reference() {
    let mut rng = Rng(0x1234_5678_9abc_def1);
    for _ in 0..800 {
        let c = if rng.below(4) == 0 { 1 } else { 3 };
        let (w, h) = (rng.range(2, 16), rng.range(2, 16));
        let img = random_image(&mut rng, w, h, c);
        let mut edits = Vec::new();
        for _ in 0..rng.range(2, 5) {
            let (w, h, c) = dims_after(&img, &edits);
            edits.push(random_edit(&mut rng, w, h, c));
        }
        check(&img, &edits);
    }
}

#[test]
fn crop_resize_grayscale_chain() {
    let mut rng = Rng(7);
    let img = random_image(&mut rng, 64, 36, 3);
    check(
        &img,
        &[
            Edit::Crop {
                x: 4,
                y: 2,
                w: 48,
                h: 30,
            },
            Edit::ResizeBilinear { w: 24, h: 15 },
            Edit::Grayscale,
            Edit::Redact {
                rects: vec![Rect {
                    x: 1,
                    y: 1,
                    w: 5,
                    h: 5,
                }],
                fill: [0, 0, 0],
            },
        ],
    );
    check(
        &img,
        &[
            Edit::ResizeArea { w: 16, h: 9 },
            Edit::GaussianBlur { sigma_milli: 1500 },
            Edit::Sharpen,
        ],
    );
}

#[test]
fn geometry_conventions() {
    // 2x1 image [a b]: rotate90 clockwise gives a column [a; b].
    let img = Image::new(2, 1, 1, vec![10, 20]).expect("sized");
    let r = apply_reference(&img, &[Edit::Rotate90]).expect("ok");
    assert_eq!((r.width, r.height, r.data.clone()), (1, 2, vec![10, 20]));
    let r = apply_reference(&img, &[Edit::Rotate270]).expect("ok");
    assert_eq!((r.width, r.height, r.data.clone()), (1, 2, vec![20, 10]));
    check(&img, &[Edit::Rotate90]);
    check(&img, &[Edit::Rotate270]);
    // Grayscale of pure white is 255, of pure red round(0.299 * 255).
    let px = Image::new(2, 1, 3, vec![255, 255, 255, 255, 0, 0]).expect("sized");
    let g = apply_reference(&px, &[Edit::Grayscale]).expect("ok");
    assert_eq!(g.data, vec![255, 76]);
    check(&px, &[Edit::Grayscale]);
}

#[test]
fn bad_parameters_are_typed_errors() {
    let bad: Vec<(usize, usize, usize, Vec<Edit>)> = vec![
        (0, 4, 3, vec![]),
        (4, 4, 2, vec![]),
        (1 << 17, 1, 3, vec![]),
        (8192, 8193, 1, vec![]),
        (
            4,
            4,
            3,
            vec![Edit::Crop {
                x: 1,
                y: 0,
                w: 4,
                h: 4,
            }],
        ),
        (
            4,
            4,
            3,
            vec![Edit::Crop {
                x: usize::MAX,
                y: 0,
                w: 4,
                h: 4,
            }],
        ),
        (
            4,
            4,
            3,
            vec![Edit::Crop {
                x: 0,
                y: 0,
                w: 0,
                h: 4,
            }],
        ),
        (4, 4, 3, vec![Edit::ResizeBilinear { w: 0, h: 4 }]),
        (
            4,
            4,
            3,
            vec![Edit::ResizeNearest {
                w: 1 << 20,
                h: 1 << 20,
            }],
        ),
        (
            4,
            4,
            3,
            vec![Edit::ResizeNearest {
                w: 1 << 16,
                h: 1 << 11,
            }],
        ),
        (1024, 4, 3, vec![Edit::ResizeArea { w: 1, h: 4 }]),
        (4, 4, 3, vec![Edit::Brightness { delta: 256 }]),
        (4, 4, 3, vec![Edit::Contrast { factor: u32::MAX }]),
        (4, 4, 3, vec![Edit::Gamma { gamma_milli: 0 }]),
        (
            4,
            4,
            3,
            vec![Edit::Levels {
                in_lo: 9,
                in_hi: 9,
                out_lo: 0,
                out_hi: 255,
            }],
        ),
        (
            4,
            4,
            3,
            vec![Edit::Curves {
                tables: vec![vec![0; 256]; 2],
            }],
        ),
        (
            4,
            4,
            3,
            vec![Edit::Curves {
                tables: vec![vec![0; 255]],
            }],
        ),
        (
            4,
            4,
            1,
            vec![Edit::ColorMatrix {
                m: [[0; 3]; 3],
                offset: [0; 3],
            }],
        ),
        (
            4,
            4,
            3,
            vec![Edit::ColorMatrix {
                m: [[i32::MIN; 3]; 3],
                offset: [0; 3],
            }],
        ),
        (
            4,
            4,
            3,
            vec![
                Edit::Grayscale,
                Edit::ColorMatrix {
                    m: [[0; 3]; 3],
                    offset: [0; 3],
                },
            ],
        ),
        (4, 4, 3, vec![Edit::BoxBlur { radius: 0 }]),
        (4, 4, 3, vec![Edit::BoxBlur { radius: 1000 }]),
        (
            4,
            4,
            3,
            vec![Edit::GaussianBlur {
                sigma_milli: 99_999,
            }],
        ),
        (
            4,
            4,
            3,
            vec![Edit::Redact {
                rects: vec![],
                fill: [0; 3],
            }],
        ),
        (
            4,
            4,
            3,
            vec![Edit::Redact {
                rects: vec![Rect {
                    x: 3,
                    y: 3,
                    w: 2,
                    h: 1,
                }],
                fill: [0; 3],
            }],
        ),
        (
            4,
            4,
            3,
            vec![Edit::Redact {
                rects: vec![Rect {
                    x: 0,
                    y: 0,
                    w: 0,
                    h: 1,
                }],
                fill: [0; 3],
            }],
        ),
        (
            4,
            4,
            3,
            vec![
                Edit::Rotate90,
                Edit::Crop {
                    x: 0,
                    y: 0,
                    w: 4,
                    h: 5,
                },
            ],
        ),
        (4, 4, 3, vec![Edit::FlipH; 65]),
    ];
    for (w, h, c, edits) in bad {
        let e = edit_program(w, h, c, &edits).expect_err("must fail");
        assert!(!matches!(e, ImageError::Ir(_)), "{e}");
        if w * h * c <= 1 << 12 && w * h * c > 0 {
            let img = Image::new(w, h, c, vec![0; w * h * c]).expect("sized");
            assert!(apply_reference(&img, &edits).is_err());
        }
    }
    assert!(matches!(
        Image::new(2, 2, 3, vec![0; 5]),
        Err(ImageError::DataLength { .. })
    ));
}

#[test]
fn redaction_is_a_solid_fill() {
    let mut rng = Rng(99);
    let img = random_image(&mut rng, 10, 8, 3);
    let out = run_ir(
        &img,
        &[Edit::Redact {
            rects: vec![Rect {
                x: 2,
                y: 3,
                w: 4,
                h: 2,
            }],
            fill: [1, 2, 3],
        }],
    );
    for y in 3..5 {
        for x in 2..6 {
            assert_eq!(
                [out.get(x, y, 0), out.get(x, y, 1), out.get(x, y, 2)],
                [1, 2, 3]
            );
        }
    }
}
