//! The lesson-facing side of the built-in digits: `data: {source: digits, …}` as a lesson
//! writes it, its defaults (MNIST's 60,000 + 10,000 images) and the range checks on its sizes.
//! Drawing the images is the rest of the module's business.

use serde::{Deserialize, Serialize};

use crate::config::parse::Ctx;

/// `data: {source: digits, …}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DigitsSpec {
    /// Training images; 10 ..= 200,000. Default 60,000, as in MNIST.
    #[serde(default = "sixty_thousand")]
    pub train: usize,
    /// Testing images; 10 ..= 100,000. Default 10,000, as in MNIST.
    #[serde(default = "ten_thousand")]
    pub test: usize,
    /// Seed of the data set; default: the run's `train.seed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
}

fn sixty_thousand() -> usize {
    60_000
}
fn ten_thousand() -> usize {
    10_000
}

impl Default for DigitsSpec {
    fn default() -> Self {
        DigitsSpec {
            train: sixty_thousand(),
            test: ten_thousand(),
            seed: None,
        }
    }
}

impl DigitsSpec {
    pub fn check(self, ctx: &mut Ctx) -> Option<DigitsSpec> {
        // At least one image of each class; at most what fits comfortably in memory (4 bytes a pixel).
        let a = ctx.check_range(
            "data.train",
            self.train,
            10,
            200_000,
            "the number of training images",
        );
        let b = ctx.check_range(
            "data.test",
            self.test,
            10,
            100_000,
            "the number of testing images",
        );
        (a && b).then_some(self)
    }
}
