//! The next-token run on small corpora: each rung learns, the bigram meets its counts, the
//! sampler's knobs change what is drawn, and the weights sample again from a file.

use super::*;
use crate::config::spec::Optimizer as Opt;
use crate::data::text::{Language, corpus};
use crate::models::contract::summarize;
use crate::models::family::{SampleRequest, Samples};

fn text(chars: usize) -> TextSet {
    TextSet::split(
        &corpus::generate(Language::En, chars, 3),
        0.1,
        "the built-in English corpus",
    )
}

fn run(spec: NextTokenSpec, steps: u64, lr: f64) -> NextToken {
    let mut train = TrainSpec::for_tests(Opt::Adam, lr, steps);
    train.batch_size = 16;
    let mut m = NextToken::new(&spec, text(20_000), &train, 0).unwrap();
    for step in 1..=steps {
        m.train_step(step, lr).unwrap();
    }
    m
}

fn small(arch: Arch) -> NextTokenSpec {
    NextTokenSpec {
        arch,
        context: 8,
        embed: 8,
        hidden: 32,
        layers: 1,
        width: 16,
        heads: 2,
        sample_chars: 20,
        ..NextTokenSpec::default()
    }
}

#[test]
fn every_rung_of_the_ladder_beats_the_uniform_guess_on_held_out_text() {
    for arch in [Arch::Bigram, Arch::Mlp, Arch::Transformer] {
        let mut m = run(small(arch), 150, 1e-2);
        let uniform = (m.text.vocab.len() as f64).ln();
        let v = m.evaluate().unwrap()["val_loss"];
        assert!(
            v < 0.8 * uniform,
            "{arch:?}: val {v} against uniform {uniform}"
        );
    }
}

#[test]
fn the_bigram_learned_by_gradient_descent_arrives_at_the_counted_one() {
    let mut m = run(small(Arch::Bigram), 10, 0.05);
    let early = m.evaluate().unwrap();
    for step in 11..=600 {
        m.train_step(step, 0.05).unwrap();
    }
    let late = m.evaluate().unwrap();
    assert!(
        late["count_gap"] < 0.25 * early["count_gap"],
        "{early:?} → {late:?}"
    );
    assert!(
        (late["val_loss"] - late["count_val_loss"]).abs() < 0.1,
        "the two tables give about the same held-out loss: {late:?}"
    );
}

#[test]
fn a_prompt_character_the_text_lacks_is_an_error_naming_it() {
    let spec = NextTokenSpec {
        prompt: "mia #".into(),
        ..small(Arch::Bigram)
    };
    let train = TrainSpec::for_tests(Opt::Adam, 1e-2, 1);
    let e = NextToken::new(&spec, text(20_000), &train, 0)
        .err()
        .unwrap();
    assert!(e.contains("model.prompt's character #"), "{e}");
}

#[test]
fn a_text_shorter_than_a_few_contexts_is_refused() {
    let spec = NextTokenSpec {
        context: 256,
        ..small(Arch::Transformer)
    };
    let train = TrainSpec::for_tests(Opt::Adam, 1e-2, 1);
    let e = NextToken::new(&spec, text(2_000), &train, 0).err().unwrap();
    assert!(e.contains("too short for a context of 256"), "{e}");
}

#[test]
fn turning_the_temperature_down_makes_the_next_panel_sharper() {
    let mut m = run(small(Arch::Mlp), 100, 1e-2);
    let top = |m: &mut NextToken| -> f64 {
        let panels = m.snapshot().unwrap();
        let bars = panels
            .iter()
            .find_map(|p| match (&p.panel[..], &p.visual) {
                ("next", crate::visual::Visual::Bars(b)) => Some(b.bars.clone()),
                _ => None,
            })
            .unwrap();
        bars[0].1
    };
    let before = top(&mut m);
    for _ in 0..4 {
        m.turn(Knob::Temperature, false).unwrap();
    }
    let after = top(&mut m);
    assert!(after > before, "{before} → {after}");
    let said = m.turn(Knob::TopK, false).unwrap();
    assert!(
        said.contains("top-k 20"),
        "a ladder step past the 30 characters is all of them: {said}"
    );
}

#[test]
fn the_samples_panel_shows_text_from_the_prompt_and_the_summary_reports_bits() {
    let mut m = run(small(Arch::Transformer), 20, 1e-2);
    m.evaluate().unwrap();
    let panels = m.snapshot().unwrap();
    let text = panels
        .iter()
        .find_map(|p| match &p.visual {
            crate::visual::Visual::Text { text } => Some(text.clone()),
            _ => None,
        })
        .unwrap();
    assert!(text.contains("── step 20 ──\nmia "), "{text}");
    let s = summarize(&mut m).unwrap();
    let (nats, bits) = (
        s["val_loss"].as_f64().unwrap(),
        s["val_bits"].as_f64().unwrap(),
    );
    assert!((bits - nats / std::f64::consts::LN_2).abs() < 1e-9);
    assert_eq!(s["sample"].as_str().unwrap().chars().count(), 4 + 20);
}

#[test]
fn weights_saved_by_a_run_write_text_again_with_a_prompt() {
    let spec = small(Arch::Transformer);
    let mut m = run(spec.clone(), 30, 1e-2);
    let (name, bytes) = m.artifacts().remove(0);
    let dir = std::env::temp_dir().join(format!("mllab-next-token-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    let request = SampleRequest {
        n: 3,
        prompt: Some("tom ".into()),
        chars: Some(12),
        top_k: Some(5),
        ..SampleRequest::default()
    };
    let Samples::Text(texts) = sample_weights(&spec, &path, &request).unwrap() else {
        panic!("a language model writes text");
    };
    assert_eq!(texts.len(), 3);
    assert!(
        texts
            .iter()
            .all(|t| t.starts_with("tom ") && t.chars().count() == 16)
    );
    assert_eq!(
        sample_weights(&spec, &path, &request).unwrap(),
        Samples::Text(texts),
        "one seed, one text"
    );
    let bad = SampleRequest {
        prompt: Some("tom ¿".into()),
        ..request
    };
    let e = sample_weights(&spec, &path, &bad).unwrap_err();
    assert!(e.contains("the prompt's character ¿"), "{e}");
}
