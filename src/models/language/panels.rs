//! What the next-token lesson draws: `samples` (the latest few samples from the prompt,
//! newest first, with the step, the validation loss in nats and bits per character, and the
//! sampling settings) and `next` (after the prompt, the ten likeliest next characters as the
//! sampler sees them — temperature and top-k applied — with the one drawn marked ▶).

use super::NextToken;
use crate::data::text::Vocab;
use crate::visual::{Bars, PanelUpdate, Visual};

/// Bars in the `next` panel.
const TOP: usize = 10;

/// A character as a short bar label.
fn label(c: char) -> String {
    match c {
        ' ' => "␣".into(),
        '\n' => "⏎".into(),
        '\t' => "⇥".into(),
        c if c.is_control() => format!("U+{:04X}", c as u32),
        c => c.to_string(),
    }
}

/// The `TOP` likeliest characters of `p` with their probabilities, likeliest first, the one
/// with id `chosen` marked ▶.
pub fn top_bars(vocab: &Vocab, p: &[f64], chosen: Option<u32>) -> Vec<(String, f64)> {
    let mut order: Vec<usize> = (0..p.len()).collect();
    order.sort_by(|&a, &b| p[b].total_cmp(&p[a]).then(a.cmp(&b)));
    order
        .into_iter()
        .take(TOP)
        .filter(|&i| p[i] > 0.0)
        .map(|i| {
            let mark = if chosen == Some(i as u32) { "▶" } else { " " };
            (format!("{mark}{}", label(vocab.char(i as u32))), p[i])
        })
        .collect()
}

impl NextToken {
    pub(super) fn panels(&self, logits: &[f32]) -> Vec<PanelUpdate> {
        let update = |panel: &str, visual| PanelUpdate {
            panel: panel.into(),
            part: "main".into(),
            visual,
        };
        let val = self.last_val.map_or_else(
            || "not yet measured".to_string(),
            |v| {
                format!(
                    "val {v:.3} nats = {:.3} bits/char",
                    v / std::f64::consts::LN_2
                )
            },
        );
        let mut text = format!("{} · {val}\n", self.sampling.describe());
        for (step, sample) in self.samples.iter().rev() {
            text.push_str(&format!("\n── step {step} ──\n{sample}\n"));
        }
        let p = self.sampling.distribution(logits);
        // The character the newest sample drew right after the prompt.
        let chosen = self.samples.last().and_then(|(_, s)| {
            s.chars()
                .nth(self.spec.prompt.chars().count())
                .and_then(|c| self.text.vocab.id(c))
        });
        vec![
            update("samples", Visual::Text { text }),
            update(
                "next",
                Visual::Bars(Bars {
                    bars: top_bars(&self.text.vocab, &p, chosen),
                }),
            ),
        ]
    }
}
