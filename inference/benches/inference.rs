//! `inference`: what the pool adds to ONNX Runtime. For the text model, in one run: raw
//! ORT at batch 1/8/32 (one session, no pool), then the pool with 1, 8 and 64 concurrent
//! callers each sending single sentences, batched (the configured policy) and unbatched
//! (`max_batch = 1`): throughput and p50/p99 latency. Then the segmentation model:
//! 512×512 slices per second at batch 1/8/16.
//!
//! Run: `make bench` or `cargo bench -p medrt-inference --bench inference -- [--seconds 5]`
//! (needs `make models`).

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use medrt_inference::Inference;
use medrt_inference::pool::{Model, ModelFactory};
use medrt_inference::provider::ExecutionProvider;
use medrt_inference::registry::ModelSpec;
use medrt_inference::runtime::OrtRuntime;
use medrt_inference::segmentation::{SegmentationFactory, Slice};
use medrt_inference::text::TextEncoderFactory;

/// The pool's batching policy under test (the shipped default for the text model).
const MAX_BATCH: usize = 32;
const MAX_DELAY_MS: u64 = 2;

const WORDS: &[&str] = &[
    "patient",
    "reports",
    "persistent",
    "headache",
    "and",
    "mild",
    "fever",
    "since",
    "the",
    "weekend",
    "blood",
    "pressure",
    "was",
    "elevated",
    "during",
    "morning",
    "visit",
    "with",
    "chest",
    "pain",
    "after",
    "exercise",
    "follow-up",
    "scan",
    "shows",
    "small",
    "nodule",
    "in",
    "left",
    "lower",
    "lobe",
    "glucose",
    "levels",
    "remain",
    "high",
    "despite",
    "diet",
];

/// Sentences of about 32 tokens, all different, so nothing is cached anywhere.
fn sentences(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            (0..22)
                .map(|j| WORDS[(i * 7 + j * 13 + i / 5) % WORDS.len()])
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect()
}

struct Figures {
    per_sec: f64,
    p50_ms: f64,
    p99_ms: f64,
}

fn figures(mut latencies: Vec<Duration>, items: usize, elapsed: Duration) -> Figures {
    latencies.sort();
    let at = |q: f64| {
        let i = ((latencies.len() as f64 * q).ceil() as usize).clamp(1, latencies.len()) - 1;
        latencies[i].as_secs_f64() * 1e3
    };
    Figures {
        per_sec: items as f64 / elapsed.as_secs_f64(),
        p50_ms: at(0.50),
        p99_ms: at(0.99),
    }
}

fn text_spec(max_batch: usize) -> ModelSpec {
    support::text_spec("text", max_batch, MAX_DELAY_MS, 4096)
}

/// Raw ORT: one session on this thread, `batch` sentences per run.
fn raw_text(runtime: &OrtRuntime, tokens: &[Vec<u32>], batch: usize, seconds: f64) -> Figures {
    let factory = TextEncoderFactory {
        runtime: runtime.clone(),
        spec: text_spec(batch),
        provider: ExecutionProvider::Cpu,
    };
    let mut model = factory.build().expect("text model");
    let run = |model: &mut _, start: usize| {
        let input: Vec<Vec<u32>> = (0..batch)
            .map(|k| tokens[(start + k) % tokens.len()].clone())
            .collect();
        Model::run(model, input).expect("run")
    };
    for i in 0..3 {
        run(&mut model, i * batch);
    }
    let (mut latencies, mut done) = (Vec::new(), 0);
    let started = Instant::now();
    while started.elapsed().as_secs_f64() < seconds {
        let t = Instant::now();
        run(&mut model, done);
        latencies.push(t.elapsed());
        done += batch;
    }
    figures(latencies, done, started.elapsed())
}

/// The pool: `callers` tasks, each sending one sentence at a time.
async fn pooled_text(texts: &[String], callers: usize, max_batch: usize, seconds: f64) -> Figures {
    let inference = Inference::start(&support::settings(vec![text_spec(max_batch)]))
        .await
        .expect("pool");
    let embedder = inference.text(None).expect("text model").clone();
    for text in texts.iter().take(8) {
        embedder.embed(text).await.expect("warm-up");
    }
    let started = Instant::now();
    let tasks: Vec<_> = (0..callers)
        .map(|c| {
            let embedder = embedder.clone();
            let texts = texts.to_vec();
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut i = c * 31;
                while started.elapsed().as_secs_f64() < seconds {
                    let t = Instant::now();
                    embedder
                        .embed(&texts[i % texts.len()])
                        .await
                        .expect("embed");
                    latencies.push(t.elapsed());
                    i += 1;
                }
                latencies
            })
        })
        .collect();
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await.expect("caller"));
    }
    let elapsed = started.elapsed();
    inference.stop().await;
    let n = latencies.len();
    figures(latencies, n, elapsed)
}

fn raw_segmentation(runtime: &OrtRuntime, batch: usize, seconds: f64) -> Figures {
    let spec = support::segmentation_spec("segmentation", batch, 64);
    let factory = SegmentationFactory {
        runtime: runtime.clone(),
        spec,
        provider: ExecutionProvider::Cpu,
    };
    let mut model = factory.build().expect("segmentation model");
    let slice = Slice::new(
        512,
        512,
        (0..512 * 512).map(|p| (p % 2000) as f32 - 1000.0).collect(),
    )
    .expect("slice");
    let input = || vec![slice.clone(); batch];
    Model::run(&mut model, input()).expect("warm-up");
    let (mut latencies, mut done) = (Vec::new(), 0);
    let started = Instant::now();
    while started.elapsed().as_secs_f64() < seconds {
        let batch_input = input();
        let t = Instant::now();
        Model::run(&mut model, batch_input).expect("run");
        latencies.push(t.elapsed());
        done += batch;
    }
    figures(latencies, done, started.elapsed())
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let seconds: f64 = args
        .iter()
        .position(|a| a == "--seconds")
        .and_then(|i| args.get(i + 1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(5.0);
    let runtime = OrtRuntime::load(&support::library()).expect("ONNX Runtime (run `make models`)");
    let texts = sentences(512);
    let probe = Inference::start(&support::settings(vec![text_spec(1)]))
        .await
        .expect("text model");
    let embedder = probe.text(None).expect("text");
    let tokens: Vec<Vec<u32>> = texts
        .iter()
        .map(|t| embedder.tokenize(t).expect("tokens"))
        .collect();
    probe.stop().await;
    let mean_tokens = tokens.iter().map(Vec::len).sum::<usize>() as f64 / tokens.len() as f64;
    println!(
        "text model: {} sentences of {mean_tokens:.1} tokens on average; intra-op threads 2; {seconds} s per row",
        texts.len()
    );
    println!(
        "\n| path | batch / callers | sentences/s | p50 ms | p99 ms |\n|---|---:|---:|---:|---:|"
    );
    let mut raw_best: f64 = 0.0;
    let mut raw_one_p99 = 0.0;
    for batch in [1, 8, 32] {
        let f = raw_text(&runtime, &tokens, batch, seconds);
        println!(
            "| raw ORT | batch {batch} | {:.0} | {:.2} | {:.2} |",
            f.per_sec, f.p50_ms, f.p99_ms
        );
        raw_best = raw_best.max(f.per_sec);
        if batch == 1 {
            raw_one_p99 = f.p99_ms;
        }
    }
    let mut at_64 = (0.0, 0.0);
    let mut one_caller_p99 = 0.0;
    for (label, max_batch) in [
        (
            format!(
                "pool (max_batch {MAX_BATCH}, max_delay {} ms)",
                MAX_DELAY_MS
            ),
            MAX_BATCH,
        ),
        ("pool unbatched (max_batch 1)".to_owned(), 1),
    ] {
        for callers in [1, 8, 64] {
            let f = pooled_text(&texts, callers, max_batch, seconds).await;
            println!(
                "| {label} | {callers} callers | {:.0} | {:.2} | {:.2} |",
                f.per_sec, f.p50_ms, f.p99_ms
            );
            if callers == 64 {
                if max_batch == 1 {
                    at_64.1 = f.per_sec
                } else {
                    at_64.0 = f.per_sec
                }
            }
            if callers == 1 && max_batch != 1 {
                one_caller_p99 = f.p99_ms;
            }
        }
    }
    println!(
        "\npool at 64 callers: {:.0}% of raw best-batch throughput (goal ≥ 90%), {:.2}× the unbatched pool (goal ≥ 1.7×)",
        100.0 * at_64.0 / raw_best,
        at_64.0 / at_64.1
    );
    println!(
        "1 caller: p99 {one_caller_p99:.2} ms vs raw batch-1 p99 {raw_one_p99:.2} ms + max_delay {} ms + 1 ms = {:.2} ms (goal: at most that)",
        MAX_DELAY_MS,
        raw_one_p99 + MAX_DELAY_MS as f64 + 1.0
    );

    println!(
        "\nsegmentation model, 512×512 slices, intra-op threads 2:\n\n| batch | slices/s | p50 ms per batch | p99 ms per batch |\n|---:|---:|---:|---:|"
    );
    for batch in [1, 8, 16] {
        let f = raw_segmentation(&runtime, batch, seconds);
        println!(
            "| {batch} | {:.1} | {:.2} | {:.2} |",
            f.per_sec, f.p50_ms, f.p99_ms
        );
    }
}
