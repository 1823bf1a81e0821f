//! `inference`: what the pool adds to ONNX Runtime. For the text model, in one run: raw
//! ORT at batch 1/8/32 (one session, no pool), then the pool with 1, 8 and 64 concurrent
//! callers each sending single sentences, batched (the configured policy) and unbatched
//! (`max_batch = 1`): throughput and p50/p99 latency. Then the segmentation model:
//! 512×512 slices per second at batch 1/8/16.
//!
//! Run: `make bench` or `cargo bench -p medrt-inference --bench inference -- [--seconds 2] [--rounds 3]`
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

/// What one row measured, summed over its rounds.
#[derive(Default)]
struct Sample {
    latencies: Vec<Duration>,
    items: usize,
    elapsed: Duration,
}

impl Sample {
    fn add(&mut self, other: Sample) {
        self.latencies.extend(other.latencies);
        self.items += other.items;
        self.elapsed += other.elapsed;
    }

    fn per_sec(&self) -> f64 {
        self.items as f64 / self.elapsed.as_secs_f64()
    }

    fn percentile_ms(&self, q: f64) -> f64 {
        let mut sorted = self.latencies.clone();
        sorted.sort();
        let i = ((sorted.len() as f64 * q).ceil() as usize).clamp(1, sorted.len()) - 1;
        sorted[i].as_secs_f64() * 1e3
    }
}

fn text_spec(max_batch: usize) -> ModelSpec {
    support::text_spec("text", max_batch, MAX_DELAY_MS, 4096)
}

/// Raw ORT: one session on this thread, `batch` sentences per run, with `idle` between
/// runs (zero: back to back).
fn raw_text(
    runtime: &OrtRuntime,
    tokens: &[Vec<u32>],
    batch: usize,
    idle: Duration,
    seconds: f64,
) -> Sample {
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
    let mut sample = Sample::default();
    let started = Instant::now();
    while started.elapsed().as_secs_f64() < seconds {
        if !idle.is_zero() {
            std::thread::sleep(idle);
        }
        let t = Instant::now();
        run(&mut model, sample.items);
        sample.latencies.push(t.elapsed());
        sample.items += batch;
        sample.elapsed += t.elapsed();
    }
    if idle.is_zero() {
        sample.elapsed = started.elapsed();
    }
    sample
}

/// The pool: `callers` tasks, each sending one sentence at a time.
async fn pooled_text(texts: &[String], callers: usize, max_batch: usize, seconds: f64) -> Sample {
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
    let mut sample = Sample::default();
    for task in tasks {
        sample.latencies.extend(task.await.expect("caller"));
    }
    sample.elapsed = started.elapsed();
    sample.items = sample.latencies.len();
    inference.stop().await;
    sample
}

fn raw_segmentation(runtime: &OrtRuntime, batch: usize, seconds: f64) -> Sample {
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
    let mut sample = Sample::default();
    let started = Instant::now();
    while started.elapsed().as_secs_f64() < seconds {
        let batch_input = input();
        let t = Instant::now();
        Model::run(&mut model, batch_input).expect("run");
        sample.latencies.push(t.elapsed());
        sample.items += batch;
        sample.elapsed += t.elapsed();
    }
    sample
}

#[derive(Clone, Copy)]
enum Row {
    Raw { batch: usize, idle: Duration },
    Pool { callers: usize, max_batch: usize },
}

impl Row {
    fn label(&self) -> String {
        match *self {
            Row::Raw { batch, idle } if idle.is_zero() => format!("| raw ORT | batch {batch}"),
            Row::Raw { batch, idle } => format!(
                "| raw ORT, {} ms idle before each run | batch {batch}",
                idle.as_millis()
            ),
            Row::Pool {
                callers,
                max_batch: 1,
            } => format!("| pool unbatched (max_batch 1) | {callers} callers"),
            Row::Pool { callers, .. } => {
                format!(
                    "| pool (max_batch {MAX_BATCH}, max_delay {MAX_DELAY_MS} ms) | {callers} callers"
                )
            }
        }
    }
}

fn arg<T: std::str::FromStr>(args: &[String], name: &str, default: T) -> T {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let seconds: f64 = arg(&args, "--seconds", 2.0);
    let rounds: usize = arg(&args, "--rounds", 3);
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
        "text model: {} sentences of {mean_tokens:.1} tokens on average; intra-op threads 2; \
         {rounds} interleaved rounds of {seconds} s per row (this VM's speed drifts; \
         interleaving spreads the drift over every row)",
        texts.len()
    );
    let delay = Duration::from_millis(MAX_DELAY_MS);
    let rows = [
        Row::Raw {
            batch: 1,
            idle: Duration::ZERO,
        },
        Row::Raw {
            batch: 1,
            idle: delay,
        },
        Row::Raw {
            batch: 8,
            idle: Duration::ZERO,
        },
        Row::Raw {
            batch: 32,
            idle: Duration::ZERO,
        },
        Row::Pool {
            callers: 1,
            max_batch: MAX_BATCH,
        },
        Row::Pool {
            callers: 8,
            max_batch: MAX_BATCH,
        },
        Row::Pool {
            callers: 64,
            max_batch: MAX_BATCH,
        },
        Row::Pool {
            callers: 1,
            max_batch: 1,
        },
        Row::Pool {
            callers: 8,
            max_batch: 1,
        },
        Row::Pool {
            callers: 64,
            max_batch: 1,
        },
    ];
    let mut samples: Vec<Sample> = rows.iter().map(|_| Sample::default()).collect();
    for round in 0..rounds {
        eprintln!("round {}/{rounds}", round + 1);
        for (row, sample) in rows.iter().zip(samples.iter_mut()) {
            sample.add(match *row {
                Row::Raw { batch, idle } => raw_text(&runtime, &tokens, batch, idle, seconds),
                Row::Pool { callers, max_batch } => {
                    pooled_text(&texts, callers, max_batch, seconds).await
                }
            });
        }
    }
    println!(
        "\n| path | batch / callers | sentences/s | p50 ms | p99 ms |\n|---|---:|---:|---:|---:|"
    );
    for (row, sample) in rows.iter().zip(&samples) {
        println!(
            "{} | {:.0} | {:.2} | {:.2} |",
            row.label(),
            sample.per_sec(),
            sample.percentile_ms(0.5),
            sample.percentile_ms(0.99)
        );
    }
    let raw_best = [0, 2, 3]
        .map(|i| samples[i].per_sec())
        .into_iter()
        .fold(0.0, f64::max);
    let (batched_64, unbatched_64) = (samples[6].per_sec(), samples[9].per_sec());
    println!(
        "\npool at 64 callers: {:.0}% of raw best-batch throughput (goal ≥ 90%), {:.2}× the unbatched pool (goal ≥ 1.7×)",
        100.0 * batched_64 / raw_best,
        batched_64 / unbatched_64
    );
    let one_caller = samples[4].percentile_ms(0.99);
    for (what, raw) in [
        ("back to back", &samples[0]),
        ("after the same idle gap", &samples[1]),
    ] {
        let budget = raw.percentile_ms(0.99) + MAX_DELAY_MS as f64 + 1.0;
        println!(
            "1 caller: pool p99 {one_caller:.2} ms vs raw batch-1 p99 ({what}) {:.2} ms + max_delay {MAX_DELAY_MS} ms + 1 ms = {budget:.2} ms: {}",
            raw.percentile_ms(0.99),
            if one_caller <= budget {
                "within"
            } else {
                "over"
            }
        );
    }

    println!(
        "\nsegmentation model, 512×512 slices, intra-op threads 2:\n\n| batch | slices/s | p50 ms per batch | p99 ms per batch |\n|---:|---:|---:|---:|"
    );
    for batch in [1, 8, 16] {
        let mut sample = Sample::default();
        for _ in 0..rounds {
            sample.add(raw_segmentation(&runtime, batch, seconds));
        }
        println!(
            "| {batch} | {:.1} | {:.2} | {:.2} |",
            sample.per_sec(),
            sample.percentile_ms(0.5),
            sample.percentile_ms(0.99)
        );
    }
}
