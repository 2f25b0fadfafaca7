//! The autotuner (`mlx_arm_wgpu::autotune`) on the GPU adapter at hand (lavapipe in CI, where it
//! is off unless switched on, as here): tuned kernels still give the reference's answers, one
//! search per problem and shape class, winners written to the cache file and read back by a
//! fresh tuner without searching again, a corrupt file or a cached label that names no
//! candidate ignored, and nothing searched or written when tuning is off. Its own test binary:
//! the tuner's settings are process-wide.

mod common;

use common::{devices, Rng};
use mlx_arm::{ops, with_default_device, Array, Device, Dtype};
use mlx_arm_wgpu::autotune::{configure, searches, winners};
use std::path::Path;

fn random(rng: &mut Rng, shape: &[usize]) -> (Vec<f64>, Array) {
    let v: Vec<f64> = (0..shape.iter().product::<usize>())
        .map(|_| rng.range(-1.0, 1.0))
        .collect();
    let a = common::array(&v, shape, Dtype::Float32);
    let v = common::stored(&v, Dtype::Float32);
    (v, a)
}

/// `a (m x k) @ b`, with `b` given as `n x k` when `b_nk`, in f64.
fn product(a: &[f64], b: &[f64], m: usize, k: usize, n: usize, b_nk: bool) -> Vec<f64> {
    let mut out = vec![0.0; m * n];
    for i in 0..m {
        for j in 0..n {
            out[i * n + j] = (0..k)
                .map(|p| a[i * k + p] * if b_nk { b[j * k + p] } else { b[p * n + j] })
                .sum();
        }
    }
    out
}

fn check_matmul(rng: &mut Rng, m: usize, k: usize, n: usize) {
    let (av, a) = random(rng, &[m, k]);
    let (bv, b) = random(rng, &[k, n]);
    let y = ops::matmul(&a, &b).unwrap();
    let want = product(&av, &bv, m, k, n, false);
    let tol = (1e-5, 1e-5 * (k as f64).sqrt());
    common::check("tuned matmul", &y, &want, &[m, n], Dtype::Float32, tol);
}

/// `x (m x k) @ dequantize(w).T` at 4 bits, group 64: the tiled kernel for m > 64, else the
/// mat-vec.
fn check_quantized(rng: &mut Rng, m: usize, k: usize, n: usize) {
    let (xv, x) = random(rng, &[m, k]);
    let (_, w) = random(rng, &[n, k]);
    let (wq, s, b) = ops::quantize(&w, 64, 4).unwrap();
    let deq = ops::dequantize(&wq, &s, &b, 64, 4).unwrap();
    let deq = with_default_device(Device::cpu(), || deq.to_f64_vec().unwrap());
    let y = ops::quantized_matmul(&x, &wq, &s, &b, true, 64, 4).unwrap();
    // on tensor cores the prefill kernel multiplies in f16
    let (xv, deq) = match m > 64 && common::quantized_prefill_in_f16(Device::gpu()) {
        true => (common::round_f16(&xv), common::round_f16(&deq)),
        false => (xv, deq),
    };
    let want = product(&xv, &deq, m, k, n, true);
    let tol = (2e-4, 2e-4 * (k as f64).sqrt());
    common::check(
        "tuned quantized_matmul",
        &y,
        &want,
        &[m, n],
        Dtype::Float32,
        tol,
    );
}

fn problems_for(kind: &str) -> Vec<(String, String)> {
    winners()
        .into_iter()
        .filter(|(_, p, _)| p.starts_with(kind))
        .map(|(_, p, pick)| (p, pick))
        .collect()
}

fn set_pick(path: &Path, problem_prefix: &str, pick: &str) {
    let text = std::fs::read_to_string(path).unwrap();
    let mut out = String::new();
    let mut in_problem = false;
    for line in text.lines() {
        if line
            .trim_start()
            .starts_with(&format!("\"{problem_prefix}"))
        {
            in_problem = true;
        }
        if in_problem && line.trim_start().starts_with("\"pick\"") {
            out.push_str(&format!("\"pick\": \"{pick}\","));
            in_problem = false;
        } else {
            out.push_str(line);
        }
        out.push('\n');
    }
    std::fs::write(path, out).unwrap();
}

#[test]
fn tuned_kernels_match_references_and_winners_are_cached() {
    let Some(gpu) = devices().into_iter().find(|d| *d != Device::cpu()) else {
        return;
    };
    // the mat-vec is searched only when asked (read once, before any product)
    std::env::set_var("MLX_ARM_AUTOTUNE_MATVEC", "1");
    let dir = std::env::temp_dir().join(format!("mlx-arm-autotune-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("autotune.json");
    std::fs::write(&path, "{ not json").unwrap();
    configure(Some(true), Some(path.clone()));
    let mut rng = Rng::new(5);
    with_default_device(gpu, || {
        check_matmul(&mut rng, 70, 300, 130);
        assert_eq!(searches(), 1, "the first f32 matmul searches");
        // another shape of the same class (m 65..128, k 257..512, n 129..256): no search
        check_matmul(&mut rng, 100, 400, 200);
        assert_eq!(
            searches(),
            1,
            "a shape of a searched class is not searched again"
        );
        check_quantized(&mut rng, 80, 256, 96);
        assert_eq!(searches(), 2, "the tiled quantized kernel searches");
        check_quantized(&mut rng, 1, 256, 96);
        assert_eq!(searches(), 3, "the mat-vec searches");
    });
    let matmul = problems_for("matmul");
    assert_eq!(matmul.len(), 1, "{matmul:?}");
    assert_eq!(matmul[0].0, "matmul Float32 m128 n256 k512 batch1 an bn");
    assert!(["tile64", "tile128"].contains(&matmul[0].1.as_str()));
    // f32 tiles, or on tensor cores the cooperative-matrix variants
    let qmm = problems_for("qmm");
    let coop = common::quantized_prefill_in_f16(Device::gpu());
    let tiled = ["tile64", "tile128"].contains(&qmm[0].1.as_str());
    assert!(qmm.len() == 1 && tiled != coop, "{qmm:?}");
    assert!(tiled || qmm[0].1.starts_with("rows"), "{qmm:?}");
    let qmv = problems_for("qmv");
    assert!(qmv[0].1.starts_with("rpw"), "{qmv:?}");

    // a fresh tuner (as in a new process) reads the winners from the file: no search
    configure(Some(true), Some(path.clone()));
    assert_eq!(winners().len(), 3, "{:?}", winners());
    with_default_device(gpu, || check_matmul(&mut rng, 128, 512, 256));
    assert_eq!(searches(), 3, "cached winners are used");

    // a cached label that names no candidate is searched again and replaced
    set_pick(&path, "matmul", "tile999");
    configure(Some(true), Some(path.clone()));
    assert!(winners().iter().any(|(_, _, pick)| pick == "tile999"));
    with_default_device(gpu, || check_matmul(&mut rng, 90, 260, 140));
    assert_eq!(searches(), 4);
    assert!(!winners().iter().any(|(_, _, pick)| pick == "tile999"));

    // off: defaults, no search, no file
    let off = dir.join("off.json");
    configure(Some(false), Some(off.clone()));
    with_default_device(gpu, || {
        check_matmul(&mut rng, 33, 20, 17);
        check_quantized(&mut rng, 2, 128, 40);
    });
    assert_eq!(searches(), 4);
    assert!(!off.exists());
    std::fs::remove_dir_all(&dir).unwrap();
}
