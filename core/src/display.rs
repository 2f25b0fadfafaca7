//! Printing like MLX: `array([[1, 2],\n       [3, 4]], dtype=int32)`, floats in C++'s default
//! `%g` style with six significant digits, bools as True/False.

use crate::{Array, Dtype};
use std::fmt;

/// Formats a float as C's `%g` (6 significant digits, trailing zeros trimmed).
pub fn format_g(v: f64) -> String {
    if v.is_nan() {
        return "nan".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if v == 0.0 {
        return if v.is_sign_negative() {
            "-0".into()
        } else {
            "0".into()
        };
    }
    let exp = v.abs().log10().floor() as i32;
    let trim = |s: String| -> String {
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s
        }
    };
    // Re-derive the exponent after rounding to 6 significant digits.
    let sci = format!("{:.5e}", v);
    let (mant, e) = sci.split_once('e').expect("e format");
    let e: i32 = e.parse().unwrap_or(exp);
    if !(-4..6).contains(&e) {
        let m = trim(mant.to_string());
        format!("{m}e{}{:02}", if e < 0 { '-' } else { '+' }, e.abs())
    } else {
        let decimals = (5 - e).max(0) as usize;
        trim(format!("{:.*}", decimals, v))
    }
}

fn elem(v: f64, dt: Dtype) -> String {
    if dt == Dtype::Bool {
        return if v != 0.0 {
            "True".into()
        } else {
            "False".into()
        };
    }
    if dt.is_float() {
        format_g(v)
    } else {
        format!("{}", v as i128)
    }
}

fn write_nested(out: &mut String, vals: &[String], shape: &[usize], indent: usize) {
    if shape.is_empty() {
        out.push_str(&vals[0]);
        return;
    }
    out.push('[');
    let n = shape[0];
    let inner: usize = shape[1..].iter().product();
    for i in 0..n {
        if i > 0 {
            out.push(',');
            if shape.len() > 1 {
                out.push_str(&"\n".repeat(shape.len() - 1));
                out.push_str(&" ".repeat(indent + 1));
            } else {
                out.push(' ');
            }
        }
        write_nested(
            out,
            &vals[i * inner..(i + 1) * inner],
            &shape[1..],
            indent + 1,
        );
    }
    out.push(']');
}

impl fmt::Display for Array {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.to_f64_vec() {
            Err(e) => write!(f, "array(<error: {e}>, dtype={})", self.dtype()),
            Ok(v) => {
                let vals: Vec<String> = v.iter().map(|&x| elem(x, self.dtype())).collect();
                let mut body = String::new();
                write_nested(&mut body, &vals, self.shape(), 6);
                write!(f, "array({body}, dtype={})", self.dtype())
            }
        }
    }
}

impl fmt::Debug for Array {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::format_g;
    #[test]
    fn g_format_matches_cpp() {
        assert_eq!(format_g(1.0), "1");
        assert_eq!(format_g(2.5), "2.5");
        assert_eq!(format_g(0.1), "0.1");
        assert_eq!(format_g(1e6), "1e+06");
        assert_eq!(format_g(123456.0), "123456");
        assert_eq!(format_g(1.0 / 3.0), "0.333333");
        assert_eq!(format_g(1e-5), "1e-05");
        assert_eq!(format_g(-0.00012345678), "-0.000123457");
    }
}
