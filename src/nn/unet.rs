//! A tiny U-Net noise predictor for 28×28 DDPM (the reference `unet` of the benchmark):
//! levels at 28/14/7 pixels, one residual block per level down and up, one middle block,
//! stride-2 convolutions down, nearest-neighbour upsampling up, each level's encoder output
//! concatenated into the decoder, and a zero-initialized output convolution. Optionally, the
//! middle (7×7) gets self-attention: every one of its 49 pixels looks at all the others, so
//! far-apart strokes of a digit can agree on which digit it is.
//!
//! Residual block: GN → SiLU → conv3×3 → + Linear(time embedding) → GN → SiLU → conv3×3,
//! plus a 1×1 skip when the channel count changes. Time embedding: sinusoidal → Linear → SiLU
//! → Linear → SiLU, fed to every block.

use rand::Rng;

use super::blocks::sinusoidal_embedding;
use super::layers::{Conv2d, GroupNorm, Linear};
use crate::tensor::{Graph, ParamStore, Var};

/// Shape of the U-Net.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct UnetConfig {
    /// Channels per level (28, 14, 7 pixels).
    pub channels: [usize; 3],
    /// Width of the sinusoidal time features.
    pub time_features: usize,
    /// Width of the time embedding fed to the blocks.
    pub time_dim: usize,
    /// Heads of the self-attention after the middle block (0: none).
    #[serde(default)]
    pub attention_heads: usize,
}

impl Default for UnetConfig {
    fn default() -> Self {
        Self {
            channels: [16, 32, 32],
            time_features: 64,
            time_dim: 128,
            attention_heads: 0,
        }
    }
}

fn groups(c: usize) -> usize {
    if c.is_multiple_of(8) && c >= 32 { 8 } else { 4 }
}

#[derive(Clone, Debug)]
struct ResBlock {
    n1: GroupNorm,
    c1: Conv2d,
    tp: Linear,
    n2: GroupNorm,
    c2: Conv2d,
    skip: Option<Conv2d>,
}

impl ResBlock {
    fn new(
        ps: &mut ParamStore,
        name: &str,
        cin: usize,
        cout: usize,
        tdim: usize,
        rng: &mut impl Rng,
    ) -> Self {
        Self {
            n1: GroupNorm::new(ps, &format!("{name}.n1"), groups(cin), cin),
            c1: Conv2d::new(ps, &format!("{name}.c1"), cin, cout, 3, 1, 1, rng),
            tp: Linear::new(ps, &format!("{name}.tp"), tdim, cout, rng),
            n2: GroupNorm::new(ps, &format!("{name}.n2"), groups(cout), cout),
            c2: Conv2d::new(ps, &format!("{name}.c2"), cout, cout, 3, 1, 1, rng),
            skip: (cin != cout)
                .then(|| Conv2d::new(ps, &format!("{name}.skip"), cin, cout, 1, 1, 0, rng)),
        }
    }

    fn forward(&self, g: &Graph, x: &Var, te: &Var) -> Var {
        let t = self.tp.forward(g, te); // (B, C), added to every pixel of its channel
        let h = self
            .c1
            .forward_ext(g, &self.n1.forward_silu(g, x), Some(&t), None);
        let skip = match &self.skip {
            Some(s) => s.forward(g, x),
            None => x.clone(),
        };
        self.c2
            .forward_ext(g, &self.n2.forward_silu(g, &h), None, Some(&skip))
    }
}

/// Self-attention over the pixels of a (B, C, H, W) map, as a residual:
/// x + proj(attention(qkv(GN(x)))), with `proj` zero-initialized so the block starts as identity.
#[derive(Clone, Debug)]
struct PixelAttention {
    norm: GroupNorm,
    qkv: Linear,
    proj: Linear,
    heads: usize,
}

impl PixelAttention {
    fn new(ps: &mut ParamStore, name: &str, c: usize, heads: usize, rng: &mut impl Rng) -> Self {
        Self {
            norm: GroupNorm::new(ps, &format!("{name}.norm"), groups(c), c),
            qkv: Linear::new(ps, &format!("{name}.qkv"), c, 3 * c, rng),
            proj: Linear::zeroed(ps, &format!("{name}.proj"), c, c),
            heads,
        }
    }

    fn forward(&self, g: &Graph, x: &Var) -> Var {
        let s = x.shape().to_vec();
        let (b, c, hw) = (s[0], s[1], s[2] * s[3]);
        let tokens = g.transpose(&g.reshape(&self.norm.forward(g, x), &[b, c, hw]), 1, 2);
        let y = g.full_attention(&self.qkv.forward(g, &tokens), self.heads); // (B, HW, C)
        let y = g.transpose(&self.proj.forward(g, &y), 1, 2);
        g.add(x, &g.reshape(&y, &s))
    }
}

/// The ε-predictor ε(x_t, t) on (B, 1, 28, 28).
#[derive(Clone, Debug)]
pub struct TinyUnet {
    pub config: UnetConfig,
    t1: Linear,
    t2: Linear,
    inp: Conv2d,
    down: Vec<ResBlock>,
    downs: Vec<Conv2d>,
    mid: ResBlock,
    attention: Option<PixelAttention>,
    up: Vec<ResBlock>,
    out_norm: GroupNorm,
    out: Conv2d,
}

impl TinyUnet {
    pub fn new(ps: &mut ParamStore, name: &str, config: UnetConfig, rng: &mut impl Rng) -> Self {
        let ch = config.channels;
        let td = config.time_dim;
        let t1 = Linear::new(
            ps,
            &format!("{name}.temb.l1"),
            config.time_features,
            td,
            rng,
        );
        let t2 = Linear::new(ps, &format!("{name}.temb.l2"), td, td, rng);
        let inp = Conv2d::new(ps, &format!("{name}.inp"), 1, ch[0], 3, 1, 1, rng);
        let (mut down, mut downs, mut skips) = (Vec::new(), Vec::new(), Vec::new());
        let mut c = ch[0];
        for (i, &co) in ch.iter().enumerate() {
            down.push(ResBlock::new(
                ps,
                &format!("{name}.down.{i}"),
                c,
                co,
                td,
                rng,
            ));
            c = co;
            skips.push(c);
            if i < ch.len() - 1 {
                downs.push(Conv2d::new(
                    ps,
                    &format!("{name}.downs.{i}"),
                    c,
                    c,
                    3,
                    2,
                    1,
                    rng,
                ));
            }
        }
        let mid = ResBlock::new(ps, &format!("{name}.mid"), c, c, td, rng);
        let attention = (config.attention_heads > 0).then(|| {
            PixelAttention::new(ps, &format!("{name}.attn"), c, config.attention_heads, rng)
        });
        let mut up = Vec::new();
        for (j, i) in (0..ch.len()).rev().enumerate() {
            up.push(ResBlock::new(
                ps,
                &format!("{name}.up.{j}"),
                c + skips[i],
                ch[i],
                td,
                rng,
            ));
            c = ch[i];
        }
        let out_norm = GroupNorm::new(ps, &format!("{name}.out_norm"), groups(c), c);
        let out = Conv2d::zeroed(ps, &format!("{name}.out"), c, 1, 3, 1, 1);
        Self {
            config,
            t1,
            t2,
            inp,
            down,
            downs,
            mid,
            attention,
            up,
            out_norm,
            out,
        }
    }

    /// x (B, 1, 28, 28), integer times t (B) → predicted noise (B, 1, 28, 28).
    pub fn forward(&self, g: &Graph, x: &Var, t: &[f32]) -> Var {
        let te = g.input(sinusoidal_embedding(t, self.config.time_features));
        let te = g.silu(&self.t2.forward(g, &g.silu(&self.t1.forward(g, &te))));
        let mut h = self.inp.forward(g, x);
        let mut hs = Vec::new();
        for (i, blk) in self.down.iter().enumerate() {
            h = blk.forward(g, &h, &te);
            hs.push(h.clone());
            if let Some(d) = self.downs.get(i) {
                h = d.forward(g, &h);
            }
        }
        h = self.mid.forward(g, &h, &te);
        if let Some(a) = &self.attention {
            h = a.forward(g, &h);
        }
        for (j, blk) in self.up.iter().enumerate() {
            if j > 0 {
                h = g.upsample_nearest2x(&h);
            }
            let skip = hs.pop().expect("one skip per level");
            h = blk.forward(g, &g.concat(&[&h, &skip], 1), &te);
        }
        self.out.forward(g, &self.out_norm.forward_silu(g, &h))
    }
}
