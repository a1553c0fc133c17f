//! The `model:` section of the next-token lesson: `NextTokenSpec` and the `Arch` ladder
//! (bigram, MLP, transformer), their defaults and their checks (each error says how to fix it).

use serde::{Deserialize, Serialize};

use crate::config::parse::Ctx;

/// Which network predicts the next character.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Arch {
    /// A table of logits, one row per character: the next character depends on this one only.
    /// Trained by gradient descent, beside the same table counted from the text.
    Bigram,
    /// Embeddings of the last `context` characters, concatenated, through one hidden layer.
    Mlp,
    /// A small GPT: learned positions, pre-LayerNorm blocks of causal self-attention and an MLP.
    #[default]
    Transformer,
}

impl Arch {
    pub fn name(self) -> &'static str {
        match self {
            Arch::Bigram => "bigram",
            Arch::Mlp => "mlp",
            Arch::Transformer => "transformer",
        }
    }
}

/// `model: {kind: next-token, arch: transformer, …}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NextTokenSpec {
    /// `bigram`, `mlp` or `transformer` (default).
    #[serde(default)]
    pub arch: Arch,
    /// Characters the model sees: the MLP's window, the transformer's longest context and the
    /// length of the bigram's training windows; default 32; 1 ..= 512.
    #[serde(default = "default_context")]
    pub context: usize,
    /// MLP: the size of a character's embedding; default 16; 1 ..= 512.
    #[serde(default = "default_embed")]
    pub embed: usize,
    /// MLP: the hidden layer's width; default 256; 1 ..= 8192.
    #[serde(default = "default_hidden")]
    pub hidden: usize,
    /// Transformer: blocks; default 2; 1 ..= 24.
    #[serde(default = "default_layers")]
    pub layers: usize,
    /// Transformer: the width d of every position; default 64; 8 ..= 2048, a multiple of `heads`.
    #[serde(default = "default_width")]
    pub width: usize,
    /// Transformer: attention heads; default 4; 1 ..= 32.
    #[serde(default = "default_heads")]
    pub heads: usize,
    /// Sampling temperature: logits are divided by it; default 1; 0 < t ≤ 5. `t` and `T`
    /// change it in the run view.
    #[serde(default = "default_temperature")]
    pub temperature: f64,
    /// Sample only among the k likeliest characters; 0 (default) means all. `k` and `K`
    /// change it in the run view.
    #[serde(default)]
    pub top_k: usize,
    /// The text samples start from, and whose next-character distribution the `next` panel
    /// shows; default "mia ". Every character must occur in the training text.
    #[serde(default = "default_prompt")]
    pub prompt: String,
    /// Characters generated per sample; default 160; 1 ..= 5000.
    #[serde(default = "default_sample_chars")]
    pub sample_chars: usize,
}

fn default_context() -> usize {
    32
}
fn default_embed() -> usize {
    16
}
fn default_hidden() -> usize {
    256
}
fn default_layers() -> usize {
    2
}
fn default_width() -> usize {
    64
}
fn default_heads() -> usize {
    4
}
fn default_temperature() -> f64 {
    1.0
}
fn default_prompt() -> String {
    "mia ".into()
}
fn default_sample_chars() -> usize {
    160
}

impl Default for NextTokenSpec {
    fn default() -> Self {
        NextTokenSpec {
            arch: Arch::default(),
            context: default_context(),
            embed: default_embed(),
            hidden: default_hidden(),
            layers: default_layers(),
            width: default_width(),
            heads: default_heads(),
            temperature: default_temperature(),
            top_k: 0,
            prompt: default_prompt(),
            sample_chars: default_sample_chars(),
        }
    }
}

/// The longest context.
pub const MAX_CONTEXT: usize = 512;
/// The largest temperature.
pub const MAX_TEMPERATURE: f64 = 5.0;

impl NextTokenSpec {
    pub fn check(self, ctx: &mut Ctx) -> Option<Self> {
        let mut ok = ctx.check_range(
            "model.context",
            self.context,
            1,
            MAX_CONTEXT,
            "the context in characters",
        );
        ok &= ctx.check_range("model.embed", self.embed, 1, 512, "the embedding size");
        ok &= ctx.check_range("model.hidden", self.hidden, 1, 8192, "the hidden width");
        ok &= ctx.check_range("model.layers", self.layers, 1, 24, "the number of blocks");
        ok &= ctx.check_range(
            "model.width",
            self.width,
            8,
            2048,
            "the transformer's width",
        );
        ok &= ctx.check_range("model.heads", self.heads, 1, 32, "the number of heads");
        if ok && self.arch == Arch::Transformer && !self.width.is_multiple_of(self.heads) {
            let fit = (1..=self.heads)
                .rev()
                .find(|h| self.width.is_multiple_of(*h))
                .unwrap_or(1);
            ctx.error(
                "model.heads",
                Some(self.heads.to_string()),
                format!(
                    "the width {} does not split into {} heads of equal size",
                    self.width, self.heads
                ),
                format!(
                    "make model.width a multiple of model.heads, e.g. heads: {fit} or width: {}",
                    self.width.div_ceil(self.heads) * self.heads
                ),
            );
            ok = false;
        }
        ok &= ctx.check_positive(
            "model.temperature",
            self.temperature,
            MAX_TEMPERATURE,
            "the sampling temperature",
            "0.8",
        );
        ok &= ctx.check_range("model.top_k", self.top_k, 0, 100_000, "top-k (0 keeps all)");
        ok &= ctx.check_range(
            "model.sample_chars",
            self.sample_chars,
            1,
            5000,
            "the length of a sample",
        );
        if self.prompt.chars().count() > 1000 {
            ctx.error(
                "model.prompt",
                Some(format!("{} characters", self.prompt.chars().count())),
                "the prompt is longer than 1000 characters",
                "give a short prompt, such as \"mia \"",
            );
            ok = false;
        }
        ok.then_some(self)
    }

    /// Trainable numbers for a vocabulary of `v` characters.
    pub fn parameter_count(&self, v: usize) -> u64 {
        let v = v as u64;
        match self.arch {
            Arch::Bigram => v * v,
            Arch::Mlp => {
                let (e, n, h) = (self.embed as u64, self.context as u64, self.hidden as u64);
                v * e + (n * e + 1) * h + (h + 1) * v
            }
            Arch::Transformer => {
                let (d, t, l) = (self.width as u64, self.context as u64, self.layers as u64);
                let block =
                    4 * d + (d + 1) * 3 * d + (d + 1) * d + (d + 1) * 4 * d + (4 * d + 1) * d;
                v * d + t * d + l * block + 2 * d + (d + 1) * v
            }
        }
    }

    /// Floats one predicted character keeps on the tape through a training step.
    pub fn floats_per_position(&self, v: usize) -> u64 {
        let v = v as u64;
        match self.arch {
            Arch::Bigram => 3 * v,
            Arch::Mlp => (self.context * self.embed) as u64 * 2 + 2 * self.hidden as u64 + 3 * v,
            Arch::Transformer => {
                let (d, t, h) = (self.width as u64, self.context as u64, self.heads as u64);
                // Per block: norms, qkv, attention weights, projection, MLP 4d twice, sums.
                self.layers as u64 * (16 * d + 2 * h * t + 12 * d) + 3 * v + 4 * d
            }
        }
    }
}
