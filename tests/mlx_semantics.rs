//! MLX-ARM against MLX itself on semantic edge cases: the full type-promotion table, weak
//! (Python-scalar) promotion, result dtypes of reductions/scans/elementwise ops, and values on
//! hand-picked inputs (negatives, zeros, NaN, ±inf, ties, overflow) — the golden fixture
//! tests/fixtures/semantics/mlx_semantics.txt, written by
//! tests/fixtures/make_semantics_fixtures.py with MLX as the oracle (its docstring describes the
//! format). Every case runs on every device of `common::devices()`; dtypes and shapes must match
//! exactly, integers and bools exactly, floats within `common::tolerance` (NaN matches NaN).
//! Where MLX raised, MLX-ARM must return an `Err` (at the op or at evaluation).
//!
//! Deliberate or known differences are listed in [`KNOWN_DIFFERENCES`] (printed every run); a
//! listed case that starts passing fails the test, so the list stays honest. Cases the fixture
//! marks `ub=1` (MLX's answer comes from C++ undefined behaviour) are checked and their mismatches
//! printed, but do not fail.

mod common;
use common::*;
use mlx_arm::{ops, Array, Device, DeviceType, Dtype, Result};
use std::collections::BTreeMap;

/// `(case name, device ("cpu", "gpu" or "*" for every device), why)`: cases where MLX-ARM is
/// known to differ from MLX. Each one must actually fail on that device (a listed case that
/// matches MLX fails the test, so fixed differences get removed from here).
const KNOWN_DIFFERENCES: &[(&str, &str, &str)] = &[];

/// An array as the fixture writes it.
#[derive(Debug, Clone)]
struct Tensor {
    dtype: Dtype,
    shape: Vec<usize>,
    values: Vec<f64>,
}

#[derive(Debug)]
enum Expect {
    Out(Tensor),
    Raises(String),
}

#[derive(Debug)]
struct Case {
    name: String,
    op: String,
    params: BTreeMap<String, String>,
    inputs: Vec<Tensor>,
    expect: Expect,
}

fn parse_tensor(rest: &str, line: &str) -> Tensor {
    let mut it = rest.split_whitespace();
    let dtype = it
        .next()
        .and_then(Dtype::from_name)
        .unwrap_or_else(|| panic!("bad dtype in: {line}"));
    let shape_s = it.next().unwrap_or_else(|| panic!("no shape in: {line}"));
    let shape: Vec<usize> = if shape_s == "-" {
        vec![]
    } else {
        shape_s.split(',').map(|d| d.parse().unwrap()).collect()
    };
    let values: Vec<f64> = it
        .map(|v| {
            v.parse::<f64>()
                .unwrap_or_else(|_| panic!("bad value {v} in: {line}"))
        })
        .collect();
    assert_eq!(
        values.len(),
        shape.iter().product::<usize>(),
        "value count in: {line}"
    );
    Tensor {
        dtype,
        shape,
        values,
    }
}

fn fixture() -> Vec<Case> {
    let text = include_str!("fixtures/semantics/mlx_semantics.txt");
    let mut cases: Vec<Case> = vec![];
    let mut pending: Option<Case> = None;
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        let (tag, rest) = line.split_once(' ').unwrap_or((line, ""));
        match tag {
            "case" => {
                assert!(pending.is_none(), "case without a result before: {line}");
                let mut it = rest.split_whitespace();
                let name = it.next().unwrap().to_string();
                let op = it.next().unwrap().to_string();
                let params = it
                    .map(|kv| {
                        let (k, v) = kv
                            .split_once('=')
                            .unwrap_or_else(|| panic!("bad parameter {kv} in: {line}"));
                        (k.to_string(), v.to_string())
                    })
                    .collect();
                pending = Some(Case {
                    name,
                    op,
                    params,
                    inputs: vec![],
                    expect: Expect::Raises(String::new()),
                });
            }
            "in" => pending
                .as_mut()
                .expect("`in` outside a case")
                .inputs
                .push(parse_tensor(rest, line)),
            "out" | "raises" => {
                let mut c = pending.take().expect("result outside a case");
                c.expect = if tag == "out" {
                    Expect::Out(parse_tensor(rest, line))
                } else {
                    Expect::Raises(rest.to_string())
                };
                cases.push(c);
            }
            _ => panic!("unknown fixture line: {line}"),
        }
    }
    assert!(pending.is_none(), "fixture ends inside a case");
    let mut names: Vec<&str> = cases.iter().map(|c| c.name.as_str()).collect();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), cases.len(), "case names must be unique");
    cases
}

// ---- parameters ---------------------------------------------------------------------------

impl Case {
    fn raw(&self, key: &str) -> Option<&str> {
        self.params
            .get(key)
            .map(|s| s.as_str())
            .filter(|&s| s != "none")
    }
    fn int(&self, key: &str) -> Option<i32> {
        self.raw(key).map(|s| {
            s.parse()
                .unwrap_or_else(|_| panic!("{}: {key}={s} is not an int", self.name))
        })
    }
    fn req_int(&self, key: &str) -> i32 {
        self.int(key)
            .unwrap_or_else(|| panic!("{}: needs {key}", self.name))
    }
    fn float(&self, key: &str) -> f64 {
        let s = self
            .raw(key)
            .unwrap_or_else(|| panic!("{}: needs {key}", self.name));
        s.parse()
            .unwrap_or_else(|_| panic!("{}: {key}={s} is not a number", self.name))
    }
    fn flag(&self, key: &str, default: bool) -> bool {
        match self.raw(key) {
            None => default,
            Some("True") => true,
            Some("False") => false,
            Some(s) => panic!("{}: {key}={s} is not a bool", self.name),
        }
    }
    fn dtype(&self) -> Option<Dtype> {
        self.raw("dtype")
            .map(|s| Dtype::from_name(s).unwrap_or_else(|| panic!("{}: bad dtype {s}", self.name)))
    }
    fn ints(&self, key: &str) -> Vec<i32> {
        let s = self
            .raw(key)
            .unwrap_or_else(|| panic!("{}: needs {key}", self.name));
        s.split(',').map(|v| v.parse().unwrap()).collect()
    }
    /// A weakly typed scalar, as Python passes `1`, `1.5` or `True`.
    fn scalar(&self, key: &str) -> Option<Array> {
        let s = self.raw(key)?;
        Some(match s {
            "True" => Array::from(true),
            "False" => Array::from(false),
            _ => match s.parse::<i32>() {
                Ok(i) => Array::from(i),
                Err(_) => Array::from(
                    s.parse::<f32>()
                        .unwrap_or_else(|_| panic!("{}: bad scalar {s}", self.name)),
                ),
            },
        })
    }
    /// Every dtype the case touches (to skip the ones a device does not store), including the
    /// promoted dtype two inputs are computed in (uint32 with int32 computes in int64).
    fn dtypes(&self) -> Vec<Dtype> {
        let mut v: Vec<Dtype> = self.inputs.iter().map(|t| t.dtype).collect();
        if let [a, b, ..] = &self.inputs[..] {
            v.push(mlx_arm::dtype::promote_types(a.dtype, b.dtype));
        }
        v.extend(self.dtype());
        if let Expect::Out(t) = &self.expect {
            v.push(t.dtype);
        }
        v
    }
}

// ---- running a case -----------------------------------------------------------------------

/// The MLX-ARM call matching the Python call that produced the case.
fn run(c: &Case, d: Device) -> Result<Array> {
    let xs: Vec<Array> = c
        .inputs
        .iter()
        .map(|t| array(&t.values, &t.shape, t.dtype))
        .collect();
    let x = || xs[0].clone();
    let y = || xs[1].clone();
    let axis = c.int("axis");
    let axes_v: Option<Vec<i32>> = axis.map(|a| vec![a]);
    let axes = axes_v.as_deref();
    let keepdims = c.flag("keepdims", false);
    match c.op.as_str() {
        // binary
        "add" => ops::add_device(x(), y(), d),
        "subtract" => ops::subtract_device(x(), y(), d),
        "multiply" => ops::multiply_device(x(), y(), d),
        "divide" => ops::divide_device(x(), y(), d),
        "floor_divide" => ops::floor_divide_device(x(), y(), d),
        "remainder" => ops::remainder_device(x(), y(), d),
        "power" => ops::power_device(x(), y(), d),
        "arctan2" => ops::arctan2_device(x(), y(), d),
        "logaddexp" => ops::logaddexp_device(x(), y(), d),
        "maximum" => ops::maximum_device(x(), y(), d),
        "minimum" => ops::minimum_device(x(), y(), d),
        "equal" => ops::equal_device(x(), y(), d),
        "not_equal" => ops::not_equal_device(x(), y(), d),
        "less" => ops::less_device(x(), y(), d),
        "less_equal" => ops::less_equal_device(x(), y(), d),
        "greater" => ops::greater_device(x(), y(), d),
        "greater_equal" => ops::greater_equal_device(x(), y(), d),
        "logical_and" => ops::logical_and_device(x(), y(), d),
        "logical_or" => ops::logical_or_device(x(), y(), d),
        "bitwise_and" => ops::bitwise_and_device(x(), y(), d),
        "bitwise_or" => ops::bitwise_or_device(x(), y(), d),
        "bitwise_xor" => ops::bitwise_xor_device(x(), y(), d),
        "left_shift" => ops::left_shift_device(x(), y(), d),
        "right_shift" => ops::right_shift_device(x(), y(), d),
        // array (op) weak Python scalar
        "add_scalar" => ops::add_device(x(), c.scalar("v").unwrap(), d),
        "multiply_scalar" => ops::multiply_device(x(), c.scalar("v").unwrap(), d),
        "floor_divide_scalar" => ops::floor_divide_device(x(), c.scalar("v").unwrap(), d),
        "remainder_scalar" => ops::remainder_device(x(), c.scalar("v").unwrap(), d),
        // unary
        "square" => ops::square_device(x(), d),
        "sqrt" => ops::sqrt_device(x(), d),
        "exp" => ops::exp_device(x(), d),
        "sin" => ops::sin_device(x(), d),
        "abs" => ops::abs_device(x(), d),
        "sign" => ops::sign_device(x(), d),
        "negative" => ops::negative_device(x(), d),
        "floor" => ops::floor_device(x(), d),
        "ceil" => ops::ceil_device(x(), d),
        "round" => ops::round_device(x(), d),
        "isnan" => ops::isnan_device(x(), d),
        "isinf" => ops::isinf_device(x(), d),
        "isfinite" => ops::isfinite_device(x(), d),
        "nan_to_num" => {
            let f = |k: &str| c.raw(k).map(|v| v.parse::<f32>().unwrap());
            ops::nan_to_num_device(x(), f("nan").unwrap(), f("posinf"), f("neginf"), d)
        }
        "where" => ops::where_device(x(), y(), xs[2].clone(), d),
        "where_scalar" => ops::where_device(x(), c.scalar("x").unwrap(), c.scalar("y").unwrap(), d),
        "logical_not" => ops::logical_not_device(x(), d),
        "bitwise_invert" => ops::bitwise_invert_device(x(), d),
        "astype" => ops::astype_device(x(), c.dtype().unwrap(), d),
        "clip" => ops::clip_device(x(), c.scalar("lo"), c.scalar("hi"), d),
        // reductions and scans
        "sum" => ops::sum_device(x(), axes, keepdims, d),
        "prod" => ops::prod_device(x(), axes, keepdims, d),
        "max" => ops::max_device(x(), axes, keepdims, d),
        "min" => ops::min_device(x(), axes, keepdims, d),
        "all" => ops::all_device(x(), axes, keepdims, d),
        "any" => ops::any_device(x(), axes, keepdims, d),
        "mean" => ops::mean_device(x(), axes, keepdims, d),
        "var" => ops::var_device(x(), axes, keepdims, c.req_int("ddof"), d),
        "std" => ops::std_device(x(), axes, keepdims, c.req_int("ddof"), d),
        "argmax" => ops::argmax_device(x(), axis, keepdims, d),
        "argmin" => ops::argmin_device(x(), axis, keepdims, d),
        "logsumexp" => ops::logsumexp_device(x(), axes, keepdims, d),
        "softmax" => ops::softmax_device(x(), axes, d),
        "cumsum" | "cumprod" | "cummax" | "cummin" => {
            let (rev, inc) = (c.flag("reverse", false), c.flag("inclusive", true));
            match c.op.as_str() {
                "cumsum" => ops::cumsum_device(x(), axis, rev, inc, d),
                "cumprod" => ops::cumprod_device(x(), axis, rev, inc, d),
                "cummax" => ops::cummax_device(x(), axis, rev, inc, d),
                _ => ops::cummin_device(x(), axis, rev, inc, d),
            }
        }
        "sort" => ops::sort_device(x(), axis, d),
        "argsort" => ops::argsort_device(x(), axis, d),
        "topk" => ops::topk_device(x(), c.req_int("k"), axis, d),
        // creation
        "arange" => ops::arange_device(
            c.float("start"),
            c.float("stop"),
            c.float("step"),
            c.dtype().unwrap(),
            d,
        ),
        "linspace" => ops::linspace_device(
            c.float("start"),
            c.float("stop"),
            c.req_int("num"),
            c.dtype().unwrap(),
            d,
        ),
        "tri" => ops::tri_device(
            c.req_int("n"),
            c.int("m"),
            c.req_int("k"),
            c.dtype().unwrap(),
            d,
        ),
        "eye" => ops::eye_device(
            c.req_int("n"),
            c.int("m"),
            c.req_int("k"),
            c.dtype().unwrap(),
            d,
        ),
        "tril" => ops::tril_device(x(), c.req_int("k"), d),
        "triu" => ops::triu_device(x(), c.req_int("k"), d),
        // shape and indexing
        "pad" => {
            let widths: Vec<(i32, i32)> = c
                .raw("widths")
                .unwrap()
                .split(',')
                .map(|w| {
                    let (lo, hi) = w.split_once(':').unwrap();
                    (lo.parse().unwrap(), hi.parse().unwrap())
                })
                .collect();
            ops::pad_device(x(), &widths, c.float("value"), d)
        }
        "tile" => ops::tile_device(x(), &c.ints("reps"), d),
        "repeat" => ops::repeat_device(x(), c.req_int("repeats"), axis, d),
        "roll" => ops::roll_device(x(), c.req_int("shift"), axis, d),
        "take" => ops::take_device(x(), y(), axis, d),
        op => panic!("{}: no MLX-ARM call for op {op}", c.name),
    }
}

/// Sorts `vals` (row-major, `shape`) along `axis` (`None`: all of them), NaN last.
fn sorted_along(vals: &[f64], shape: &[usize], axis: Option<i32>) -> Vec<f64> {
    let key = |a: &f64, b: &f64| {
        a.is_nan()
            .cmp(&b.is_nan())
            .then(a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal))
    };
    let Some(ax) = axis else {
        let mut v = vals.to_vec();
        v.sort_by(key);
        return v;
    };
    if shape.is_empty() {
        return vals.to_vec();
    }
    let ax = if ax < 0 {
        (ax + shape.len() as i32) as usize
    } else {
        ax as usize
    };
    let n = shape[ax];
    let inner: usize = shape[ax + 1..].iter().product();
    let outer: usize = shape[..ax].iter().product();
    let mut out = vals.to_vec();
    for o in 0..outer {
        for i in 0..inner {
            let idx: Vec<usize> = (0..n).map(|k| (o * n + k) * inner + i).collect();
            let mut lane: Vec<f64> = idx.iter().map(|&j| vals[j]).collect();
            lane.sort_by(key);
            for (&j, v) in idx.iter().zip(lane) {
                out[j] = v;
            }
        }
    }
    out
}

/// Runs one case on one device: `Ok` when MLX-ARM agrees with MLX (with a note when only the
/// sign of a zero differs, which the comparison ignores), else what differs.
fn check_case(c: &Case, device: Device) -> std::result::Result<Option<String>, String> {
    let got = mlx_arm::with_default_device(device, || {
        let r = run(c, device)?;
        let v = r.to_f64_vec()?;
        Ok::<_, mlx_arm::Error>((r.dtype(), r.shape().to_vec(), v))
    });
    let want = match &c.expect {
        Expect::Raises(msg) => {
            return match got {
                Err(_) => Ok(None),
                Ok((dt, shape, v)) => Err(format!(
                    "MLX raises ({msg}) but MLX-ARM returned {dt} {shape:?} {v:?}"
                )),
            };
        }
        Expect::Out(t) => t,
    };
    let (dt, shape, mut vals) = got.map_err(|e| {
        format!(
            "MLX-ARM returned an error: {e}; MLX gives {} {:?} {:?}",
            want.dtype, want.shape, want.values
        )
    })?;
    let summary = format!(
        "MLX: {} {:?} {:?}; MLX-ARM: {dt} {shape:?} {vals:?}",
        want.dtype, want.shape, want.values
    );
    if dt != want.dtype {
        return Err(format!("dtype differs. {summary}"));
    }
    if shape != want.shape {
        return Err(format!("shape differs. {summary}"));
    }
    let mut expect = want.values.clone();
    if c.raw("cmp") == Some("sorted") {
        expect = sorted_along(&expect, &want.shape, c.int("axis"));
        vals = sorted_along(&vals, &shape, c.int("axis"));
    }
    let (rtol, atol) = tolerance(dt);
    let bad: Vec<usize> = (0..vals.len())
        .filter(|&i| {
            let (x, y) = (vals[i], expect[i]);
            !((x.is_nan() && y.is_nan()) || x == y || (x - y).abs() <= atol + rtol * y.abs())
        })
        .collect();
    if bad.is_empty() {
        let zeros: Vec<usize> = (0..vals.len())
            .filter(|&i| {
                vals[i] == 0.0
                    && expect[i] == 0.0
                    && vals[i].is_sign_negative() != expect[i].is_sign_negative()
            })
            .collect();
        Ok((!zeros.is_empty()).then(|| format!("sign of zero differs at {zeros:?}. {summary}")))
    } else {
        Err(format!("values differ at {bad:?}. {summary}"))
    }
}

fn device_name(d: Device) -> &'static str {
    match d.kind {
        DeviceType::Cpu => "cpu",
        DeviceType::Gpu => "gpu",
    }
}

#[test]
fn mlx_semantics_match_mlx() {
    let cases = fixture();
    assert!(cases.len() > 500, "fixture has only {} cases", cases.len());
    for (name, _, _) in KNOWN_DIFFERENCES {
        assert!(
            cases.iter().any(|c| c.name == *name),
            "KNOWN_DIFFERENCES names unknown case {name}"
        );
    }
    let mut failures: Vec<String> = vec![];
    let mut known: Vec<String> = vec![];
    let mut ub: Vec<String> = vec![];
    let mut zero_signs: Vec<String> = vec![];
    let mut ran = 0usize;
    for device in devices() {
        let dn = device_name(device);
        for c in &cases {
            if !c.dtypes().iter().all(|&dt| runs(device, dt)) {
                continue;
            }
            ran += 1;
            let result =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check_case(c, device)))
                    .unwrap_or_else(|e| {
                        let msg = e
                            .downcast_ref::<String>()
                            .cloned()
                            .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()));
                        Err(format!("panicked: {}", msg.unwrap_or_default()))
                    });
            let listed = KNOWN_DIFFERENCES
                .iter()
                .find(|(n, dev, _)| *n == c.name && (*dev == "*" || *dev == dn));
            let line = |msg: &str| {
                format!(
                    "{} [{} {}] on {dn}: {msg}",
                    c.name,
                    c.op,
                    c.params
                        .iter()
                        .map(|(k, v)| format!("{k}={v}"))
                        .collect::<Vec<_>>()
                        .join(" ")
                )
            };
            if let Ok(Some(note)) = &result {
                zero_signs.push(line(note));
            }
            match (result, listed) {
                (Ok(_), None) => {}
                (Ok(_), Some((_, _, why))) => failures.push(line(&format!(
                    "listed in KNOWN_DIFFERENCES ({why}) but now matches MLX: remove it"
                ))),
                (Err(msg), Some((_, _, why))) => known.push(format!("{} -- {why}", line(&msg))),
                (Err(msg), None) if c.raw("ub") == Some("1") => ub.push(line(&msg)),
                (Err(msg), None) => failures.push(line(&msg)),
            }
        }
    }
    println!("{ran} case runs over {} fixture cases", cases.len());
    if !known.is_empty() {
        println!("known_difference ({}):", known.len());
        for k in &known {
            println!("  {k}");
        }
    }
    if !ub.is_empty() {
        println!(
            "differences where MLX's answer is C++ undefined behaviour (not failures) ({}):",
            ub.len()
        );
        for u in &ub {
            println!("  {u}");
        }
    }
    if !zero_signs.is_empty() {
        println!(
            "signed zeros that differ from MLX (not compared, not failures) ({}):",
            zero_signs.len()
        );
        for z in &zero_signs {
            println!("  {z}");
        }
    }
    if !failures.is_empty() {
        for f in &failures {
            println!("FAIL {f}");
        }
        panic!(
            "{} case runs differ from MLX (see FAIL lines above)",
            failures.len()
        );
    }
}
