//! Measures how vouch-image's ops differ from the `image` crate's (max absolute difference per
//! channel) on synthetic test images, and writes raw inputs/outputs for a Pillow comparison.
//! Run: `cargo run --release -p vouch-image --example compare [OUT_DIR]`.

use image::{imageops, imageops::FilterType, GrayImage, Rgb, RgbImage};
use vouch_image::{apply_reference, Edit, Image};

fn synthetic(kind: usize, w: u32, h: u32) -> RgbImage {
    let mut s = 0x2545_f491_4f6c_dd1du64;
    RgbImage::from_fn(w, h, |x, y| {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        let n = (s & 0xff) as f64;
        let (xf, yf) = (x as f64 / w as f64, y as f64 / h as f64);
        let f = |v: f64| v.clamp(0.0, 255.0) as u8;
        match kind {
            // Smooth gradient with soft structure and mild noise ("photo-like").
            0 => Rgb([
                f(255.0 * xf + 8.0 * (n / 255.0 - 0.5)),
                f(128.0 + 100.0 * (6.0 * xf + 4.0 * yf).sin()),
                f(255.0 * yf * (1.0 - 0.5 * xf)),
            ]),
            // Uniform noise (worst case for filters).
            _ => Rgb([(s >> 8) as u8, (s >> 16) as u8, (s >> 24) as u8]),
        }
    })
}

fn ours(img: &RgbImage, edits: &[Edit]) -> Image {
    let src = Image::new(
        img.width() as usize,
        img.height() as usize,
        3,
        img.as_raw().clone(),
    )
    .expect("sized");
    apply_reference(&src, edits).expect("valid")
}

fn maxdiff(a: &Image, w: u32, h: u32, c: usize, b: &[u8]) -> String {
    if (a.width, a.height, a.channels) != (w as usize, h as usize, c) {
        return format!(
            "shape differs: {}x{}x{} vs {w}x{h}x{c}",
            a.width, a.height, a.channels
        );
    }
    let mut m = vec![0u8; c];
    let mut differ = 0usize;
    for (i, (x, y)) in a.data.iter().zip(b).enumerate() {
        let d = x.abs_diff(*y);
        m[i % c] = m[i % c].max(d);
        differ += usize::from(d != 0);
    }
    format!(
        "max |diff| per channel {m:?}, {:.2}% of values differ",
        100.0 * differ as f64 / b.len() as f64
    )
}

fn main() {
    let out_dir = std::env::args().nth(1);
    for kind in 0..2 {
        let img = synthetic(kind, 160, 120);
        let name = ["gradient", "noise"][kind];
        println!("== {name} 160x120 RGB");
        if let Some(d) = &out_dir {
            std::fs::write(format!("{d}/{name}.rgb"), img.as_raw()).expect("write");
        }
        let rgb = |label: &str, edits: Vec<Edit>, theirs: RgbImage| {
            let a = ours(&img, &edits);
            println!(
                "{label:>28}: {}",
                maxdiff(&a, theirs.width(), theirs.height(), 3, theirs.as_raw())
            );
            if let Some(d) = &out_dir {
                std::fs::write(format!("{d}/{name}.{label}.ours"), &a.data).expect("write");
            }
        };
        let gray = |label: &str, edits: Vec<Edit>, theirs: GrayImage| {
            let a = ours(&img, &edits);
            println!(
                "{label:>28}: {}",
                maxdiff(&a, theirs.width(), theirs.height(), 1, theirs.as_raw())
            );
            if let Some(d) = &out_dir {
                std::fs::write(format!("{d}/{name}.{label}.ours"), &a.data).expect("write");
            }
        };
        rgb(
            "crop",
            vec![Edit::Crop {
                x: 10,
                y: 20,
                w: 100,
                h: 50,
            }],
            imageops::crop_imm(&img, 10, 20, 100, 50).to_image(),
        );
        rgb("flip_h", vec![Edit::FlipH], imageops::flip_horizontal(&img));
        rgb("flip_v", vec![Edit::FlipV], imageops::flip_vertical(&img));
        rgb("rotate90", vec![Edit::Rotate90], imageops::rotate90(&img));
        rgb(
            "rotate180",
            vec![Edit::Rotate180],
            imageops::rotate180(&img),
        );
        rgb(
            "rotate270",
            vec![Edit::Rotate270],
            imageops::rotate270(&img),
        );
        for (w, h) in [(80, 60), (53, 37), (320, 240)] {
            rgb(
                &format!("nearest_{w}x{h}"),
                vec![Edit::ResizeNearest { w, h }],
                imageops::resize(&img, w as u32, h as u32, FilterType::Nearest),
            );
            rgb(
                &format!("bilinear_{w}x{h}"),
                vec![Edit::ResizeBilinear { w, h }],
                imageops::resize(&img, w as u32, h as u32, FilterType::Triangle),
            );
            rgb(
                &format!("area_{w}x{h}"),
                vec![Edit::ResizeArea { w, h }],
                imageops::thumbnail(&img, w as u32, h as u32),
            );
        }
        gray(
            "grayscale",
            vec![Edit::Grayscale],
            imageops::grayscale(&img),
        );
        rgb(
            "brightness_+40",
            vec![Edit::Brightness { delta: 40 }],
            imageops::brighten(&img, 40),
        );
        rgb(
            "brightness_-40",
            vec![Edit::Brightness { delta: -40 }],
            imageops::brighten(&img, -40),
        );
        // image's contrast(c): factor = ((100 + c) / 100)^2 around 128 (on the 0..1 scale: 0.5).
        rgb(
            "contrast_1.44",
            vec![Edit::Contrast {
                factor: (1.44 * 16384.0) as u32,
            }],
            imageops::contrast(&img, 20.0),
        );
        rgb(
            "gaussian_sigma1.5",
            vec![Edit::GaussianBlur { sigma_milli: 1500 }],
            imageops::blur(&img, 1.5),
        );
        rgb(
            "box_r2_vs_fast_blur",
            vec![Edit::BoxBlur { radius: 2 }],
            imageops::fast_blur(&img, 2.0),
        );
        rgb(
            "sharpen",
            vec![Edit::Sharpen],
            imageops::filter3x3(
                &img,
                &[
                    -2.0 / 16.0,
                    -2.0 / 16.0,
                    -2.0 / 16.0,
                    -2.0 / 16.0,
                    32.0 / 16.0,
                    -2.0 / 16.0,
                    -2.0 / 16.0,
                    -2.0 / 16.0,
                    -2.0 / 16.0,
                ],
            ),
        );
        rgb(
            "sharpen_vs_unsharpen",
            vec![Edit::Sharpen],
            imageops::unsharpen(&img, 1.0, 0),
        );
        for (label, e) in [
            ("gamma_0.5", Edit::Gamma { gamma_milli: 500 }),
            ("gamma_2.2", Edit::Gamma { gamma_milli: 2200 }),
            (
                "levels_16_235",
                Edit::Levels {
                    in_lo: 16,
                    in_hi: 235,
                    out_lo: 0,
                    out_hi: 255,
                },
            ),
            ("box_r2", Edit::BoxBlur { radius: 2 }),
            ("contrast_1.5", Edit::Contrast { factor: 3 << 13 }),
            (
                "color_matrix_sepia",
                Edit::ColorMatrix {
                    m: [[6443, 12599, 3096], [5718, 11224, 2753], [4456, 8749, 2146]],
                    offset: [0; 3],
                },
            ),
        ] {
            // Written for the Pillow comparison only.
            let a = ours(&img, &[e]);
            if let Some(d) = &out_dir {
                std::fs::write(format!("{d}/{name}.{label}.ours"), &a.data).expect("write");
            }
        }
    }
}
