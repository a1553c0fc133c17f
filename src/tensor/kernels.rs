//! Fast elementwise loops. A polynomial `exp` that vectorizes (libm's does not), and `map`
//! helpers that run a closure over slices in a copy compiled for AVX-512 or AVX2 when the CPU
//! has it (chosen at run time, so the shipped binary needs no native build flags). Only the
//! math of single elements lives here; shapes are the ops' business.

/// e^x in f32 with a relative error below 2e-7 over [-87, 88], branch-free so that loops over
/// it vectorize. Inputs are clamped to that range (e^-87 ≈ 1.6e-38, e^88 ≈ 1.7e38), so
/// `exp_fast(-inf)` is tiny but not 0, and `exp_fast(inf)` is large but finite.
///
/// Method: x = n·ln2 + r with n an integer and |r| ≤ ln2/2, e^r by its Taylor series up to r⁶
/// (truncation error < 1.3e-7), 2ⁿ written straight into the exponent bits.
#[inline(always)]
pub fn exp_fast(x: f32) -> f32 {
    const LN2_HI: f32 = 0.693_145_75; // ln 2 split in two so n·ln2 stays exact
    const LN2_LO: f32 = 1.428_606_8e-6;
    const ROUND: f32 = 12_582_912.0; // 1.5·2²³: adding it rounds to an integer in the low bits
    let x = x.max(-87.0).min(88.0);
    let shifted = x * std::f32::consts::LOG2_E + ROUND;
    let n = shifted - ROUND;
    let r = (x - n * LN2_HI) - n * LN2_LO;
    let p = 1.0
        + r * (1.0
            + r * (0.5
                + r * (1.0 / 6.0 + r * (1.0 / 24.0 + r * (1.0 / 120.0 + r * (1.0 / 720.0))))));
    // The integer n sits in the low mantissa bits of `shifted` (its exponent is fixed).
    let n_int = (shifted.to_bits() as i32).wrapping_sub(0x4B40_0000);
    p * f32::from_bits((n_int.wrapping_add(127) as u32) << 23)
}

/// 1 / (1 + e^-x).
#[inline(always)]
pub fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + exp_fast(-x))
}

/// tanh via the sigmoid: tanh x = 2σ(2x) − 1 (absolute error ~1e-7).
#[inline(always)]
pub fn tanh(x: f32) -> f32 {
    2.0 / (1.0 + exp_fast(-2.0 * x)) - 1.0
}

/// erf by Abramowitz & Stegun 7.1.26 (absolute error < 1.5e-7), with the fast exp.
#[inline(always)]
pub fn erf(x: f32) -> f32 {
    let a = x.abs();
    let t = 1.0 / (1.0 + 0.327_591_1 * a);
    let poly = t
        * (0.254_829_6
            + t * (-0.284_496_74 + t * (1.421_413_7 + t * (-1.453_152_1 + t * 1.061_405_4))));
    let y = 1.0 - poly * exp_fast(-a * a);
    y.copysign(x)
}

macro_rules! dispatch {
    ($name:ident, $generic:ident, $f:ident, ($($arg:ident : $ty:ty),*), [$($bound:tt)+]) => {
        #[allow(clippy::missing_safety_doc)]
        mod $name {
            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx512f,avx512vl,avx512bw,avx512dq,avx2,fma")]
            pub unsafe fn v4<F: $($bound)+>($($arg: $ty,)* out: &mut [f32], f: F) {
                super::$generic($($arg,)* out, f)
            }
            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx2,fma")]
            pub unsafe fn v3<F: $($bound)+>($($arg: $ty,)* out: &mut [f32], f: F) {
                super::$generic($($arg,)* out, f)
            }
        }
        /// Runs the loop in the widest vector code the CPU supports.
        #[inline]
        pub fn $f<F: $($bound)+>($($arg: $ty,)* out: &mut [f32], f: F) {
            #[cfg(target_arch = "x86_64")]
            {
                if has_avx512() {
                    // SAFETY: the CPU supports every feature the copy was compiled for.
                    return unsafe { $name::v4($($arg,)* out, f) };
                }
                if has_avx2() {
                    // SAFETY: as above.
                    return unsafe { $name::v3($($arg,)* out, f) };
                }
            }
            $generic($($arg,)* out, f)
        }
    };
}

#[inline(always)]
fn map1_generic<F: Fn(f32) -> f32>(a: &[f32], out: &mut [f32], f: F) {
    assert_eq!(a.len(), out.len());
    for (o, &x) in out.iter_mut().zip(a) {
        *o = f(x);
    }
}

#[inline(always)]
fn map2_generic<F: Fn(f32, f32) -> f32>(a: &[f32], b: &[f32], out: &mut [f32], f: F) {
    assert!(a.len() == out.len() && b.len() == out.len());
    for ((o, &x), &y) in out.iter_mut().zip(a).zip(b) {
        *o = f(x, y);
    }
}

#[inline(always)]
fn map3_generic<F: Fn(f32, f32, f32) -> f32>(
    a: &[f32],
    b: &[f32],
    c: &[f32],
    out: &mut [f32],
    f: F,
) {
    assert!(a.len() == out.len() && b.len() == out.len() && c.len() == out.len());
    for (((o, &x), &y), &z) in out.iter_mut().zip(a).zip(b).zip(c) {
        *o = f(x, y, z);
    }
}

dispatch!(m1, map1_generic, map1, (a: &[f32]), [Fn(f32) -> f32]);
dispatch!(m2, map2_generic, map2, (a: &[f32], b: &[f32]), [Fn(f32, f32) -> f32]);
dispatch!(m3, map3_generic, map3, (a: &[f32], b: &[f32], c: &[f32]), [Fn(f32, f32, f32) -> f32]);

/// Runs `f` inside a function compiled for AVX-512 (or AVX2) when the CPU has it, so that the
/// loops of `f` (after inlining) use the wide vectors. For fused row kernels (softmax, norms,
/// the Adam update) that do not fit the `map` shapes.
#[inline]
pub fn simd<R>(f: impl FnOnce() -> R) -> R {
    #[cfg(target_arch = "x86_64")]
    {
        #[target_feature(enable = "avx512f,avx512vl,avx512bw,avx512dq,avx2,fma")]
        unsafe fn v4<R>(f: impl FnOnce() -> R) -> R {
            f()
        }
        #[target_feature(enable = "avx2,fma")]
        unsafe fn v3<R>(f: impl FnOnce() -> R) -> R {
            f()
        }
        if has_avx512() {
            // SAFETY: the CPU supports the features v4 is compiled for.
            return unsafe { v4(f) };
        }
        if has_avx2() {
            // SAFETY: as above.
            return unsafe { v3(f) };
        }
    }
    f()
}

#[cfg(target_arch = "x86_64")]
fn has_avx512() -> bool {
    is_x86_feature_detected!("avx512f")
        && is_x86_feature_detected!("avx512vl")
        && is_x86_feature_detected!("avx512bw")
        && is_x86_feature_detected!("avx512dq")
        && is_x86_feature_detected!("fma")
}

#[cfg(target_arch = "x86_64")]
fn has_avx2() -> bool {
    is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma")
}

/// Sum of a slice in f32 with 16 partial sums (vectorizes, and is more accurate than one
/// running sum). Deterministic: the order depends only on the length.
pub fn sum(a: &[f32]) -> f32 {
    let mut acc = [0.0f32; 16];
    let chunks = a.chunks_exact(16);
    let rest = chunks.remainder();
    for c in chunks {
        for (s, &x) in acc.iter_mut().zip(c) {
            *s += x;
        }
    }
    acc.iter().sum::<f32>() + rest.iter().sum::<f32>()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_fast_matches_libm_to_a_few_ulps() {
        let mut worst = 0.0f32;
        let mut x = -87.0f32;
        while x < 88.0 {
            let rel = ((exp_fast(x) - x.exp()) / x.exp()).abs();
            worst = worst.max(rel);
            x += 0.0137;
        }
        assert!(worst < 5e-7, "worst relative error {worst}");
    }

    #[test]
    fn exp_fast_saturates_instead_of_overflowing() {
        assert!(exp_fast(f32::NEG_INFINITY) < 1e-37);
        assert!(exp_fast(1000.0).is_finite());
    }

    #[test]
    fn erf_and_tanh_are_close_to_reference_values() {
        for &(x, e) in &[
            (0.5f32, 0.520_499_9f32),
            (1.0, 0.842_700_8),
            (-2.0, -0.995_322_3),
        ] {
            assert!((erf(x) - e).abs() < 3e-7, "erf({x})");
        }
        for x in [-5.0f32, -1.0, -0.1, 0.0, 0.3, 2.0] {
            assert!((tanh(x) - x.tanh()).abs() < 3e-7, "tanh({x})");
        }
    }

    #[test]
    fn map_kernels_agree_with_a_plain_loop() {
        let a: Vec<f32> = (0..37).map(|i| i as f32 * 0.1 - 1.5).collect();
        let mut out = vec![0.0; 37];
        map1(&a, &mut out, |x| x * 2.0 + 1.0);
        assert!(out.iter().zip(&a).all(|(o, x)| *o == x * 2.0 + 1.0));
        map2(&a, &a, &mut out, |x, y| x * y);
        assert!(out.iter().zip(&a).all(|(o, x)| *o == x * x));
    }
}
