//! The three next-character networks of the makemore ladder, behind one enum: the bigram
//! table, the MLP over a window of embeddings, and the small GPT (also `mllab bench`'s
//! transformer item). Each gives a training loss on windows of the text and the logits of the
//! next character after a history, for generation.

use rand::Rng;

use super::spec::{Arch, NextTokenSpec};
use crate::nn::{Embedding, LayerNorm, Linear, TransformerBlock};
use crate::tensor::{Graph, ParamId, ParamStore, Var};

/// A bigram model: `table[a]` are the logits of the character after `a`. Starts at zero, so
/// every next character is equally likely.
#[derive(Clone, Debug)]
pub struct Bigram {
    pub table: ParamId,
    pub vocab: usize,
}

impl Bigram {
    pub fn new(ps: &mut ParamStore, vocab: usize) -> Self {
        let table = ps.add("bigram.table", crate::tensor::zeros(&[vocab, vocab]));
        Bigram { table, vocab }
    }
}

/// Bengio et al.'s MLP: the last `context` characters' embeddings, side by side, through a
/// tanh layer to the logits.
#[derive(Clone, Debug)]
pub struct CharMlp {
    pub emb: Embedding,
    pub hidden: Linear,
    pub out: Linear,
    pub context: usize,
}

impl CharMlp {
    pub fn new(
        ps: &mut ParamStore,
        rng: &mut impl Rng,
        vocab: usize,
        context: usize,
        embed: usize,
        hidden: usize,
    ) -> Self {
        CharMlp {
            emb: Embedding::new(ps, "mlp.emb", vocab, embed, rng),
            hidden: Linear::new(ps, "mlp.hidden", context * embed, hidden, rng),
            out: Linear::new(ps, "mlp.out", hidden, vocab, rng),
            context,
        }
    }

    /// Logits (B, V) after each of `b` windows of `context` ids.
    pub fn forward(&self, g: &Graph, ids: &[usize], b: usize) -> Var {
        let e = self.emb.forward(g, ids, &[b, self.context]);
        let flat = g.reshape(&e, &[b, self.context * self.emb.dim]);
        self.out.forward(g, &g.tanh(&self.hidden.forward(g, &flat)))
    }
}

/// Char transformer: learned token and position embeddings, `layers` pre-LayerNorm blocks
/// (causal self-attention, GELU MLP 4×), a final LayerNorm and an untied head.
pub struct CharTransformer {
    pub tok: Embedding,
    pub pos: Embedding,
    pub blocks: Vec<TransformerBlock>,
    pub lnf: LayerNorm,
    pub head: Linear,
    pub vocab: usize,
    pub context: usize,
}

impl CharTransformer {
    pub fn new(
        ps: &mut ParamStore,
        rng: &mut impl Rng,
        vocab: usize,
        ctx: usize,
        layers: usize,
        d: usize,
        heads: usize,
    ) -> Self {
        Self {
            tok: Embedding::new(ps, "tok", vocab, d, rng),
            pos: Embedding::new(ps, "pos", ctx, d, rng),
            blocks: (0..layers)
                .map(|i| TransformerBlock::new(ps, &format!("blocks.{i}"), d, heads, 4, rng))
                .collect(),
            lnf: LayerNorm::new(ps, "lnf", d),
            head: Linear::new(ps, "head", d, vocab, rng),
            vocab,
            context: ctx,
        }
    }

    /// Logits (B, T, vocab) for token ids (B·T, row-major), T ≤ the context.
    pub fn forward(&self, g: &Graph, idx: &[usize], b: usize, t: usize) -> Var {
        let pos: Vec<usize> = (0..t).collect();
        let mut x = g.add(
            &self.tok.forward(g, idx, &[b, t]),
            &self.pos.forward(g, &pos, &[t]),
        );
        for blk in &self.blocks {
            x = blk.forward(g, &x);
        }
        self.head.forward(g, &self.lnf.forward(g, &x))
    }

    pub fn loss(&self, g: &Graph, idx: &[usize], tgt: &[usize], b: usize, t: usize) -> Var {
        g.cross_entropy(&self.forward(g, idx, b, t), tgt)
    }
}

/// One rung of the ladder.
pub enum CharNet {
    Bigram(Bigram),
    Mlp(CharMlp),
    Transformer(CharTransformer),
}

impl CharNet {
    pub fn for_spec(
        spec: &NextTokenSpec,
        vocab: usize,
        ps: &mut ParamStore,
        rng: &mut impl Rng,
    ) -> Self {
        match spec.arch {
            Arch::Bigram => CharNet::Bigram(Bigram::new(ps, vocab)),
            Arch::Mlp => CharNet::Mlp(CharMlp::new(
                ps,
                rng,
                vocab,
                spec.context,
                spec.embed,
                spec.hidden,
            )),
            Arch::Transformer => CharNet::Transformer(CharTransformer::new(
                ps,
                rng,
                vocab,
                spec.context,
                spec.layers,
                spec.width,
                spec.heads,
            )),
        }
    }

    /// Characters a training window holds: its inputs and, one further, the last target.
    pub fn window(&self, context: usize) -> usize {
        context + 1
    }

    /// Characters of a window that are predicted (and count in the loss).
    pub fn predicted(&self, context: usize) -> usize {
        match self {
            CharNet::Mlp(_) => 1,
            _ => context,
        }
    }

    /// Mean cross-entropy (nats per predicted character) over `b` windows of `context + 1`
    /// ids each, laid end to end in `windows`: the bigram and the transformer predict every
    /// character of a window from those before it, the MLP its last from the `context` before.
    pub fn loss(&self, g: &Graph, windows: &[u32], b: usize, context: usize) -> Var {
        let w = context + 1;
        let inputs = |skip_first: bool| -> Vec<usize> {
            (0..b)
                .flat_map(|i| {
                    let row = &windows[i * w..(i + 1) * w];
                    let row = if skip_first {
                        &row[1..]
                    } else {
                        &row[..context]
                    };
                    row.iter().map(|&c| c as usize).collect::<Vec<_>>()
                })
                .collect()
        };
        match self {
            CharNet::Bigram(m) => {
                let x = inputs(false);
                let logits = g.gather_rows(&g.param(m.table), &x, &[b * context]);
                g.cross_entropy(&logits, &inputs(true))
            }
            CharNet::Mlp(m) => {
                let x = inputs(false);
                let y: Vec<usize> = (0..b).map(|i| windows[i * w + context] as usize).collect();
                g.cross_entropy(&m.forward(g, &x, b), &y)
            }
            CharNet::Transformer(m) => m.loss(g, &inputs(false), &inputs(true), b, context),
        }
    }

    /// The logits of the character after `history` (its last `context` characters count; an
    /// MLP pads a shorter history on the left with `pad`).
    pub fn next_logits(
        &self,
        ps: &ParamStore,
        history: &[u32],
        context: usize,
        pad: u32,
    ) -> Vec<f32> {
        let start = history.len().saturating_sub(context);
        let recent: Vec<usize> = history[start..].iter().map(|&c| c as usize).collect();
        match self {
            CharNet::Bigram(m) => {
                let last = recent.last().copied().unwrap_or(pad as usize);
                ps.get(m.table)
                    .iter()
                    .skip(last * m.vocab)
                    .take(m.vocab)
                    .copied()
                    .collect()
            }
            CharNet::Mlp(m) => {
                let mut ids = vec![pad as usize; context - recent.len()];
                ids.extend(&recent);
                let g = Graph::no_grad(ps);
                m.forward(&g, &ids, 1).value().iter().copied().collect()
            }
            CharNet::Transformer(m) => {
                let ids = if recent.is_empty() {
                    vec![pad as usize]
                } else {
                    recent
                };
                let t = ids.len();
                let g = Graph::no_grad(ps);
                let logits = m.forward(&g, &ids, 1, t);
                let v = m.vocab;
                logits.value().iter().skip((t - 1) * v).copied().collect()
            }
        }
    }
}
