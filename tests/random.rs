//! MLX-ARM's `random` module against MLX itself: every sampler, for keys 0 and 42, must give
//! the numbers MLX 0.32 gives (tests/fixtures/random/mlx_random.txt, written by
//! tests/fixtures/make_random_fixtures.py), on every device (`common::devices()`: the CPU, and
//! the GPU when there is an adapter). Samplers that go through transcendental kernels (erfinv,
//! log, log1p) are compared with a few-ulp tolerance; everything else must match exactly, on the
//! GPU too (its threefry bits are the CPU's, bit for bit).

mod common;

use mlx_arm::{ops, random, Array, Device, Dtype, Result};
use std::collections::BTreeMap;

/// One fixture line: dtype name, shape and the values as f64 (exact for every dtype used).
struct Expected {
    dtype: String,
    shape: Vec<usize>,
    values: Vec<f64>,
}

fn fixtures() -> BTreeMap<String, Expected> {
    let text = include_str!("fixtures/random/mlx_random.txt");
    let mut out = BTreeMap::new();
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        let mut it = line.split_whitespace();
        let name = it.next().unwrap().to_string();
        let dtype = it.next().unwrap().to_string();
        let shape_s = it.next().unwrap();
        let shape = if shape_s == "-" {
            vec![]
        } else {
            shape_s.split(',').map(|d| d.parse().unwrap()).collect()
        };
        let values = it.map(|v| v.parse::<f64>().unwrap()).collect();
        out.insert(
            name,
            Expected {
                dtype,
                shape,
                values,
            },
        );
    }
    out
}

/// A fixture case, run with its device as the default device (and passed to the `_device`
/// variants); `dtype` is the widest dtype it touches, for `common::runs`.
type Case = Box<dyn Fn(Device) -> Result<Array>>;

fn k(seed: u64) -> Array {
    random::key(seed).unwrap()
}

/// The MLX-ARM call behind each fixture case (same arguments as the Python lambdas).
fn cases() -> Vec<(String, Case)> {
    let mut v: Vec<(String, Case)> = Vec::new();
    let logits = || Array::from_slice(&[0.0f32, 1.0, 2.0, 2.0, 1.0, 0.5], &[2, 3]);
    let logits7 = || Array::from_slice(&[0.5f32, -1.0, 2.0, 0.0, 1.5, -0.5, 1.0], &[7]);
    let p3 = || Array::from_slice(&[0.1f32, 0.5, 0.9], &[3]);
    for s in [0u64, 42] {
        for w in [1, 2, 4] {
            for shape in [&[1][..], &[2], &[3], &[5], &[7], &[8], &[2, 3]] {
                let sh: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
                let shape = shape.to_vec();
                v.push((
                    format!("bits_w{w}_{}_k{s}", sh.join("x")),
                    Box::new(move |d| random::bits_device(&shape, w, Some(&k(s)), d)),
                ));
            }
        }
        let mut add = |name: &str, f: Case| v.push((format!("{name}_k{s}"), f));
        add("key", Box::new(move |_| random::key(s)));
        add("split2", Box::new(move |_| random::split(&k(s), 2)));
        add("split3", Box::new(move |_| random::split(&k(s), 3)));
        add("split1", Box::new(move |_| random::split(&k(s), 1)));
        add(
            "uniform_f32_5",
            Box::new(move |_| random::uniform(0.0, 1.0, &[5], Dtype::Float32, Some(&k(s)))),
        );
        add(
            "uniform_f32_7",
            Box::new(move |_| random::uniform(0.0, 1.0, &[7], Dtype::Float32, Some(&k(s)))),
        );
        add(
            "uniform_f32_2x3",
            Box::new(move |_| random::uniform(0.0, 1.0, &[2, 3], Dtype::Float32, Some(&k(s)))),
        );
        add(
            "uniform_f32_m2_3_7",
            Box::new(move |_| random::uniform(-2.0, 3.0, &[7], Dtype::Float32, Some(&k(s)))),
        );
        add(
            "uniform_f32_arr",
            Box::new(move |d| {
                let low = Array::from_slice(&[0.0f32, 10.0, -5.0], &[3]);
                random::uniform_device(&low, 20.0, &[2, 3], Dtype::Float32, Some(&k(s)), d)
            }),
        );
        add(
            "uniform_f16_5",
            Box::new(move |_| random::uniform(0, 1, &[5], Dtype::Float16, Some(&k(s)))),
        );
        add(
            "uniform_bf16_7",
            Box::new(move |_| random::uniform(0, 1, &[7], Dtype::Bfloat16, Some(&k(s)))),
        );
        add(
            "normal_f32_5",
            Box::new(move |_| random::normal(&[5], Dtype::Float32, 0.0, 1.0, Some(&k(s)))),
        );
        add(
            "normal_f32_7",
            Box::new(move |_| random::normal(&[7], Dtype::Float32, 0.0, 1.0, Some(&k(s)))),
        );
        add(
            "normal_f32_loc1_scale2_7",
            Box::new(move |_| random::normal(&[7], Dtype::Float32, 1.0, 2.0, Some(&k(s)))),
        );
        add(
            "normal_f16_5",
            Box::new(move |_| random::normal(&[5], Dtype::Float16, 0.0, 1.0, Some(&k(s)))),
        );
        add(
            "randint_0_10_5",
            Box::new(move |_| random::randint(0, 10, &[5], Dtype::Int32, Some(&k(s)))),
        );
        add(
            "randint_m5_5_7",
            Box::new(move |_| random::randint(-5, 5, &[7], Dtype::Int32, Some(&k(s)))),
        );
        add(
            "randint_u8_0_200_7",
            Box::new(move |_| random::randint(0, 200, &[7], Dtype::Uint8, Some(&k(s)))),
        );
        add(
            "randint_i64_m1000_3_2x3",
            Box::new(move |_| random::randint(-1000, 3, &[2, 3], Dtype::Int64, Some(&k(s)))),
        );
        add(
            "bernoulli_half_7",
            Box::new(move |_| random::bernoulli(0.5, Some(&[7]), Some(&k(s)))),
        );
        add(
            "bernoulli_0p3_5",
            Box::new(move |_| random::bernoulli(0.3, Some(&[5]), Some(&k(s)))),
        );
        add(
            "bernoulli_arr",
            Box::new(move |_| random::bernoulli(p3(), None, Some(&k(s)))),
        );
        add(
            "bernoulli_arr_2x3",
            Box::new(move |_| random::bernoulli(p3(), Some(&[2, 3]), Some(&k(s)))),
        );
        add(
            "gumbel_f32_5",
            Box::new(move |_| random::gumbel(&[5], Dtype::Float32, Some(&k(s)))),
        );
        add(
            "gumbel_f32_7",
            Box::new(move |_| random::gumbel(&[7], Dtype::Float32, Some(&k(s)))),
        );
        add(
            "truncated_normal_m1_2_7",
            Box::new(move |_| {
                random::truncated_normal(-1.0, 2.0, Some(&[7]), Dtype::Float32, Some(&k(s)))
            }),
        );
        add(
            "truncated_normal_mhalf_half_5",
            Box::new(move |_| {
                random::truncated_normal(-0.5, 0.5, Some(&[5]), Dtype::Float32, Some(&k(s)))
            }),
        );
        add(
            "categorical_last",
            Box::new(move |_| random::categorical(logits(), -1, None, Some(&k(s)))),
        );
        add(
            "categorical_axis0",
            Box::new(move |_| random::categorical(logits(), 0, None, Some(&k(s)))),
        );
        add(
            "categorical_n5",
            Box::new(move |_| random::categorical(logits(), -1, Some(5), Some(&k(s)))),
        );
        add(
            "categorical_1d_n7",
            Box::new(move |_| random::categorical(logits7(), -1, Some(7), Some(&k(s)))),
        );
        add(
            "categorical_shape4x2",
            Box::new(move |_| random::categorical_shape(logits(), -1, &[4, 2], Some(&k(s)))),
        );
        add(
            "categorical_1d",
            Box::new(move |_| random::categorical(logits7(), -1, None, Some(&k(s)))),
        );
        add(
            "categorical_1x7",
            Box::new(move |_| {
                random::categorical(logits7().reshape(&[1, 7])?, -1, None, Some(&k(s)))
            }),
        );
        add(
            "categorical_1d_shape2x3",
            Box::new(move |d| {
                random::categorical_shape_device(logits7(), -1, &[2, 3], Some(&k(s)), d)
            }),
        );
        add(
            "categorical_7x1_axis0_n5",
            Box::new(move |_| {
                random::categorical(logits7().reshape(&[7, 1])?, 0, Some(5), Some(&k(s)))
            }),
        );
        add(
            "categorical_1d_f16_n7",
            Box::new(move |_| {
                random::categorical(logits7().astype(Dtype::Float16)?, -1, Some(7), Some(&k(s)))
            }),
        );
        let inf = f32::INFINITY;
        add(
            "categorical_1d_neginf_n7",
            Box::new(move |_| {
                random::categorical(
                    Array::from_slice(&[0.0f32, -inf, 1.0, -inf, 0.5], &[5]),
                    -1,
                    Some(7),
                    Some(&k(s)),
                )
            }),
        );
        add(
            "categorical_1d_posinf_n7",
            Box::new(move |_| {
                random::categorical(
                    Array::from_slice(&[0.0f32, inf, 1.0, inf, 0.5], &[5]),
                    -1,
                    Some(7),
                    Some(&k(s)),
                )
            }),
        );
        add(
            "categorical_1d_allneginf_n7",
            Box::new(move |_| {
                random::categorical(
                    Array::from_slice(&[-inf; 3], &[3]),
                    -1,
                    Some(7),
                    Some(&k(s)),
                )
            }),
        );
        add(
            "laplace_7",
            Box::new(move |_| random::laplace(&[7], Dtype::Float32, 1.0, 2.0, Some(&k(s)))),
        );
        add(
            "permutation_7",
            Box::new(move |_| random::permutation(7, Some(&k(s)))),
        );
    }
    v
}

/// Cases computed through transcendental kernels, compared with a tolerance.
fn tolerance(name: &str, dtype: &str) -> Option<f64> {
    let approx = ["normal", "gumbel", "laplace"]
        .iter()
        .any(|p| name.contains(p));
    approx.then_some(if dtype == "float16" { 2e-3 } else { 2e-6 })
}

/// Compares one result with its fixture, describing any mismatch.
fn check(name: &str, got: Result<Array>, want: &Expected) -> std::result::Result<(), String> {
    let a = got.map_err(|e| format!("{name}: error {e}"))?;
    if a.shape() != want.shape.as_slice() || a.dtype().name() != want.dtype {
        return Err(format!(
            "{name}: got {:?} {}, MLX {:?} {}",
            a.shape(),
            a.dtype(),
            want.shape,
            want.dtype
        ));
    }
    let vals = a
        .to_f64_vec()
        .map_err(|e| format!("{name}: eval error {e}"))?;
    let ok = match tolerance(name, &want.dtype) {
        None => vals == want.values,
        Some(rtol) => vals
            .iter()
            .zip(&want.values)
            .all(|(g, w)| (g - w).abs() <= rtol * (1.0 + w.abs())),
    };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{name}:\n   got {vals:?}\n   MLX {:?}",
            want.values
        ))
    }
}

#[test]
fn every_sampler_matches_mlx_on_every_device() {
    let fx = fixtures();
    let cases = cases();
    let mut failures = Vec::new();
    let mut ran = 0;
    for device in common::devices() {
        mlx_arm::with_default_device(device, || {
            for (name, f) in &cases {
                match fx.get(name) {
                    None => failures.push(format!(
                        "{name}: no fixture (rerun make_random_fixtures.py)"
                    )),
                    Some(want) => {
                        let dtype = Dtype::from_name(&want.dtype).expect("fixture dtype");
                        if !common::runs(device, dtype) {
                            continue; // 64-bit dtypes are not stored on the GPU
                        }
                        ran += 1;
                        // A panicking kernel is one more failure, not the end of the report.
                        let got = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                            check(name, f(device), want)
                        }));
                        match got {
                            Ok(Ok(())) => {}
                            Ok(Err(e)) => failures.push(format!("[{device:?}] {e}")),
                            Err(p) => {
                                let msg = p
                                    .downcast_ref::<String>()
                                    .cloned()
                                    .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()));
                                failures.push(format!(
                                    "[{device:?}] {name}: panicked: {}",
                                    msg.unwrap_or_default()
                                ));
                            }
                        }
                    }
                }
            }
        });
    }
    let covered: Vec<&String> = cases.iter().map(|(n, _)| n).collect();
    for name in fx.keys().filter(|n| !n.starts_with("seed")) {
        if !covered.contains(&name) {
            failures.push(format!("{name}: fixture without a test case"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {ran} cases differ from MLX:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn global_key_sequence_matches_mlx() {
    // The only test that touches the global key state (so the devices run one after the other).
    let fx = fixtures();
    for device in common::devices() {
        mlx_arm::with_default_device(device, || {
            random::seed(0);
            let a = random::uniform(0.0, 1.0, &[3], Dtype::Float32, None);
            let b = random::uniform(0.0, 1.0, &[3], Dtype::Float32, None);
            random::seed(42);
            let c = random::normal(&[5], Dtype::Float32, 0.0, 1.0, None);
            let d = random::randint(0, 100, &[7], Dtype::Int32, None);
            for (name, got) in [
                ("seed0_uniform_first", a),
                ("seed0_uniform_second", b),
                ("seed42_normal_then", c),
                ("seed42_randint_after", d),
            ] {
                check(name, got, &fx[name]).unwrap_or_else(|e| panic!("[{device:?}] {e}"));
            }
        });
    }
}

#[test]
fn samples_lie_in_their_ranges() {
    for device in common::devices() {
        mlx_arm::with_default_device(device, || {
            let key = k(7);
            let u = random::uniform(-3.0, 5.0, &[1000], Dtype::Float32, Some(&key))
                .unwrap()
                .to_vec::<f32>()
                .unwrap();
            assert!(u.iter().all(|&x| (-3.0..5.0).contains(&x)), "{device:?}");
            let r = random::randint(-4, 9, &[1000], Dtype::Int32, Some(&key))
                .unwrap()
                .to_vec::<i32>()
                .unwrap();
            assert!(r.iter().all(|&x| (-4..9).contains(&x)), "{device:?}");
            assert!((-4..9).all(|v| r.contains(&v)), "{device:?}");
            let t = random::truncated_normal(-0.5, 1.5, Some(&[500]), Dtype::Float32, Some(&key))
                .unwrap();
            assert!(
                t.to_vec::<f32>()
                    .unwrap()
                    .iter()
                    .all(|&x| (-0.5..=1.5).contains(&x)),
                "{device:?}"
            );
            let mut p = random::permutation(50, Some(&key))
                .unwrap()
                .to_vec::<u32>()
                .unwrap();
            p.sort();
            assert_eq!(p, (0..50).collect::<Vec<u32>>(), "{device:?}");
            let all = random::bernoulli(1.0, Some(&[64]), Some(&key))
                .unwrap()
                .to_f64_vec()
                .unwrap();
            assert!(all.iter().all(|&x| x == 1.0), "{device:?}");
            let none = random::bernoulli(0.0, Some(&[64]), Some(&key))
                .unwrap()
                .to_f64_vec()
                .unwrap();
            assert!(none.iter().all(|&x| x == 0.0), "{device:?}");
            // An empty shape is fine and draws nothing.
            assert_eq!(
                random::uniform(0.0, 1.0, &[0, 3], Dtype::Float32, Some(&key))
                    .unwrap()
                    .shape(),
                &[0, 3]
            );
            // A split key is a proper key: it can be used directly, and a key that is a strided
            // view (column 1 of the first two split keys) reads its two words correctly.
            let sub = random::split(&key, 4).unwrap();
            let first =
                ops::reshape(ops::slice(&sub, &[0, 0], &[1, 2], &[1, 1]).unwrap(), &[2]).unwrap();
            let (a, _) = random::split_pair(&key).unwrap();
            assert_eq!(first.shape(), a.shape());
            assert!(random::normal(&[3], Dtype::Float32, 0.0, 1.0, Some(&first))
                .unwrap()
                .eval()
                .is_ok());
            let col =
                ops::reshape(ops::slice(&sub, &[0, 1], &[2, 2], &[1, 1]).unwrap(), &[2]).unwrap();
            let words = sub.to_vec::<u32>().unwrap();
            let want = random::random_bits([words[1], words[3]], 5);
            let got = random::bits(&[5], 4, Some(&col))
                .unwrap()
                .to_vec::<u32>()
                .unwrap();
            assert_eq!(got, want, "{device:?}: bits of a strided key");
        });
    }
}

#[test]
fn invalid_arguments_are_errors() {
    let key = k(1);
    let key = Some(&key);
    let f3 = Array::from_slice(&[1.0f32, 2.0, 3.0], &[3]);
    // Keys must be uint32 of shape [2].
    let bad_dtype = Array::from_slice(&[1i32, 2], &[2]);
    let bad_shape = Array::from_slice(&[1u32, 2, 3], &[3]);
    assert!(random::bits(&[4], 4, Some(&bad_dtype)).is_err());
    assert!(random::bits(&[4], 4, Some(&bad_shape)).is_err());
    assert!(random::uniform(0.0, 1.0, &[4], Dtype::Float32, Some(&bad_shape)).is_err());
    assert!(random::split(&bad_dtype, 2).is_err());
    // Widths, shapes, dtypes.
    assert!(random::bits(&[4], 3, key).is_err());
    assert!(random::bits(&[-1], 4, key).is_err());
    assert!(random::split(&k(1), -2).is_err());
    assert!(random::uniform(0.0, 1.0, &[4], Dtype::Int32, key).is_err());
    assert!(random::uniform(0.0, 1.0, &[4], Dtype::Float64, key).is_err());
    assert!(random::uniform(&f3, 1.0, &[2], Dtype::Float32, key).is_err());
    assert!(random::normal(&[4], Dtype::Uint8, 0.0, 1.0, key).is_err());
    assert!(random::randint(0, 5, &[4], Dtype::Float16, key).is_err());
    assert!(random::bernoulli(1i32, Some(&[2]), key).is_err());
    assert!(random::bernoulli(&f3, Some(&[2]), key).is_err());
    assert!(random::truncated_normal(0.0, 1.0, Some(&[2]), Dtype::Int32, key).is_err());
    assert!(random::gumbel(&[2], Dtype::Bool, key).is_err());
    assert!(random::laplace(&[2], Dtype::Int8, 0.0, 1.0, key).is_err());
    let logits = ops::zeros(&[2, 3], Dtype::Float32).unwrap();
    assert!(random::categorical(&logits, 2, None, key).is_err());
    assert!(random::categorical(&logits, -3, None, key).is_err());
    assert!(random::categorical(&logits, 0, Some(-1), key).is_err());
    assert!(random::categorical_shape(&logits, -1, &[3], key).is_err());
}
