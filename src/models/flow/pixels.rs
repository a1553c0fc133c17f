//! From 8-bit pixels to the flow's unbounded inputs and back, and the bits per dimension that
//! count every step of the way.
//!
//! ```text
//! level k ∈ {0, …, 255}   (pixel p ∈ [0, 1] read as k = round(255·p))
//! dequantise              v = (k + u) / 256,  u ~ U[0, 1)           v ∈ [0, 1)
//! squeeze                 w = α + (1 − 2α)·v                          w ∈ [α, 1 − α)
//! logit                   y = ln w − ln(1 − w)                       what the couplings see
//! dy/dv = (1 − 2α) / (w·(1 − w))    per pixel
//! ```
//!
//! A flow gives a density of y. The density of x = k + u on [0, 256)^D is
//! p(x) = p(y) · Π |dy/dv| / 256^D, so in bits per dimension
//! −log₂ p(x) / D = (−ln p(y) − Σ ln |dy/dv|) / (D·ln 2) + 8. Averaged over u this bounds the
//! discrete model's −log₂ P(k) / D from above (dequantisation never flatters the score).

/// How far the squeeze keeps w from 0 and 1 (RealNVP's choice), so that y stays finite.
pub const ALPHA: f64 = 0.05;

/// 8 bits: the ln 256 per dimension of scaling [0, 1) up to [0, 256).
const BITS_OF_SCALING: f64 = 8.0;

/// The pixel levels 0..=255 of images in [0, 1].
pub fn levels(pixels: &[f32]) -> Vec<u8> {
    pixels
        .iter()
        .map(|p| (p.clamp(0.0, 1.0) * 255.0).round() as u8)
        .collect()
}

/// Dequantised, squeezed and logit-transformed rows of `d` pixels: y for each level with its
/// uniform noise `u`, and Σ ln |dy/dv| per row (the Jacobian of the squeeze and the logit).
pub fn to_logits(levels: &[u8], u: &[f32], d: usize) -> (Vec<f32>, Vec<f64>) {
    let mut y = Vec::with_capacity(levels.len());
    let mut log_jac = Vec::with_capacity(levels.len() / d.max(1));
    for (row, noise) in levels.chunks(d).zip(u.chunks(d)) {
        let mut sum = 0.0f64;
        for (&k, &n) in row.iter().zip(noise) {
            let v = (k as f64 + n as f64) / 256.0;
            let w = ALPHA + (1.0 - 2.0 * ALPHA) * v;
            y.push((w.ln() - (1.0 - w).ln()) as f32);
            sum += (1.0 - 2.0 * ALPHA).ln() - w.ln() - (1.0 - w).ln();
        }
        log_jac.push(sum);
    }
    (y, log_jac)
}

/// y back to pixels in [0, 1] (the inverse of the logit and the squeeze, clipped).
pub fn to_pixels(y: &[f32]) -> Vec<f32> {
    y.iter()
        .map(|&y| {
            let w = 1.0 / (1.0 + (-y as f64).exp());
            ((w - ALPHA) / (1.0 - 2.0 * ALPHA)).clamp(0.0, 1.0) as f32
        })
        .collect()
}

/// Bits per dimension of one image from the flow's −ln p(y) and its Σ ln |dy/dv|.
pub fn bits_per_dim(nll_y: f64, log_jac: f64, d: usize) -> f64 {
    (nll_y - log_jac) / (d as f64 * std::f64::consts::LN_2) + BITS_OF_SCALING
}

#[cfg(test)]
mod tests {
    use super::*;

    /// With the identity flow (y ~ N(0, 1)) on one pixel, the density these bits describe is a
    /// density on [0, 256): it integrates to the prior's mass between logit(α) and
    /// logit(1 − α), just under 1. Leaving out the logit's Jacobian, or the 256, breaks it.
    #[test]
    fn the_bits_describe_a_density_on_0_256_that_integrates_to_the_squeezed_mass() {
        let steps = 256 * 64;
        let mut mass = 0.0f64;
        for i in 0..steps {
            let x = (i as f64 + 0.5) * 256.0 / steps as f64;
            let (k, u) = (x.floor() as u8, (x - x.floor()) as f32);
            let (y, jac) = to_logits(&[k], &[u], 1);
            let y = y[0] as f64;
            let nll_y = 0.5 * y * y + 0.5 * (2.0 * std::f64::consts::PI).ln();
            let bits = bits_per_dim(nll_y, jac[0], 1);
            mass += 2f64.powf(-bits) * 256.0 / steps as f64;
        }
        let edge = ((1.0 - ALPHA) / ALPHA).ln();
        // P(|y| < edge) for a standard normal, by the error function's series-free route.
        let inside = 1.0 - 2.0 * normal_tail(edge);
        assert!((mass - inside).abs() < 1e-3, "∫ p = {mass}, want {inside}");
    }

    /// P(Y > t) for Y ~ N(0, 1), by Simpson's rule on [t, t + 12].
    fn normal_tail(t: f64) -> f64 {
        let n = 20_000;
        let h = 12.0 / n as f64;
        let f = |y: f64| (-0.5 * y * y).exp() / (2.0 * std::f64::consts::PI).sqrt();
        let mut s = f(t) + f(t + 12.0);
        for i in 1..n {
            s += f(t + i as f64 * h) * if i % 2 == 1 { 4.0 } else { 2.0 };
        }
        s * h / 3.0
    }

    #[test]
    fn pixels_survive_the_trip_through_the_logit() {
        let px: Vec<f32> = (0..=255).map(|k| k as f32 / 255.0).collect();
        let k = levels(&px);
        assert_eq!(k, (0..=255).collect::<Vec<u8>>());
        let (y, _) = to_logits(&k, &vec![0.5; 256], 256);
        let back = to_pixels(&y);
        for (i, b) in back.iter().enumerate() {
            // The middle of level i's bin, (i + ½)/256.
            let want = (i as f32 + 0.5) / 256.0;
            assert!((b - want).abs() < 1e-5, "{i}: {b} vs {want}");
        }
    }
}
