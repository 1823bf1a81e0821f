//! The pool's promises, on the real text model: batching does not change results,
//! replies go to the right callers under concurrency, a full queue says `Overloaded` at
//! once, deadlines drop stale work, a panicking worker is rebuilt while callers get an
//! error rather than a hang, and startup problems are clear errors.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use medrt_inference::Inference;
use medrt_inference::error::{InferenceError, RunError, StartupError};
use medrt_inference::pool::{Model, ModelFactory, Pool};
use medrt_inference::provider::ExecutionProvider;
use medrt_inference::runtime::OrtRuntime;
use medrt_inference::segmentation::Slice;
use medrt_inference::text::{TextEncoder, TextEncoderFactory, cosine};
use tokio::time::Instant;

const TEXTS: [&str; 12] = [
    "chest pain radiating to the left arm",
    "胸痛放射到左臂",
    "fasting glucose 7.8 mmol/L",
    "空腹血糖7.8",
    "the patient is allergic to penicillin",
    "患者对青霉素过敏",
    "follow-up CT in three months",
    "三个月后复查CT",
    "shortness of breath when climbing stairs",
    "爬楼梯时气短",
    "blood pressure 150/95",
    "血压150/95",
];

#[tokio::test]
async fn batched_results_equal_unbatched_ones_and_reach_the_right_callers() {
    let unbatched = Inference::start(&support::settings(vec![support::text_spec(
        "one", 1, 0, 1024,
    )]))
    .await
    .unwrap();
    let batched = Inference::start(&support::settings(vec![support::text_spec(
        "many", 16, 5, 1024,
    )]))
    .await
    .unwrap();
    let reference = unbatched
        .text(None)
        .unwrap()
        .embed_all(&TEXTS)
        .await
        .unwrap();

    // 240 concurrent single requests in a scrambled order, so batches mix texts.
    let embedder = batched.text(None).unwrap().clone();
    let order: Vec<usize> = (0..240).map(|i| (i * 7 + i / 12) % TEXTS.len()).collect();
    let calls = order.iter().map(|&i| {
        let embedder = embedder.clone();
        async move { (i, embedder.embed(TEXTS[i]).await.unwrap()) }
    });
    for (i, vector) in futures::future::join_all(calls).await {
        let own = cosine(&vector, &reference[i]);
        assert!(
            own >= 0.995,
            "{}: {own} against its unbatched embedding",
            TEXTS[i]
        );
        for (j, other) in reference.iter().enumerate() {
            if j != i {
                assert!(
                    own > cosine(&vector, other),
                    "reply for {} looks like {}",
                    TEXTS[i],
                    TEXTS[j]
                );
            }
        }
    }
    unbatched.stop().await;
    batched.stop().await;
}

#[tokio::test]
async fn a_full_queue_answers_overloaded_at_once() {
    // Big slices make each run slow; the queue holds two.
    let spec = support::segmentation_spec("seg", 1, 2);
    let inference = Inference::start(&support::settings(vec![spec]))
        .await
        .unwrap();
    let segmenter = inference.segmentation(None).unwrap().clone();
    let started = Instant::now();
    let calls = (0..40).map(|_| {
        let segmenter = segmenter.clone();
        async move {
            let slice = Slice::new(512, 512, vec![40.0; 512 * 512]).unwrap();
            let result = segmenter.segment(slice).await;
            (result.map(|_| ()), started.elapsed())
        }
    });
    let results = futures::future::join_all(calls).await;
    let overloaded: Vec<Duration> = results
        .iter()
        .filter(|(r, _)| matches!(r, Err(InferenceError::Overloaded { .. })))
        .map(|(_, t)| *t)
        .collect();
    let served: Vec<Duration> = results
        .iter()
        .filter(|(r, _)| r.is_ok())
        .map(|(_, t)| *t)
        .collect();
    assert!(
        overloaded.len() >= 30,
        "only {} overloaded",
        overloaded.len()
    );
    assert!(served.len() >= 3, "only {} served", served.len());
    assert_eq!(
        overloaded.len() + served.len(),
        40,
        "other errors: {results:?}"
    );
    let slowest_refusal = *overloaded.iter().max().unwrap();
    let last_served = *served.iter().max().unwrap();
    // "At once" means without waiting for room in the queue: every refusal arrives
    // before the queue has drained. (No bound in milliseconds: a loaded machine only
    // stretches both.)
    assert!(
        slowest_refusal < last_served,
        "refusals took up to {slowest_refusal:?}; the queue drained at {last_served:?}"
    );
    inference.stop().await;
}

#[tokio::test]
async fn requests_past_their_deadline_are_dropped_unrun() {
    let inference = Inference::start(&support::settings(vec![support::text_spec(
        "use", 1, 0, 64,
    )]))
    .await
    .unwrap();
    let embedder = inference.text(None).unwrap().clone();
    // One worker, one text per batch: 30 queued requests with a 1 ms deadline cannot all
    // be reached in time.
    let deadline = Some(Instant::now() + Duration::from_millis(1));
    let calls = (0..30).map(|i| {
        let embedder = embedder.clone();
        async move {
            embedder
                .embed_before(TEXTS[i % TEXTS.len()], deadline)
                .await
        }
    });
    let results = futures::future::join_all(calls).await;
    let expired = results
        .iter()
        .filter(|r| matches!(r, Err(InferenceError::DeadlineExceeded { .. })))
        .count();
    assert!(expired >= 20, "only {expired} of 30 expired: {results:?}");
    assert!(embedder.embed("still serving").await.is_ok());
    inference.stop().await;
}

/// The real text model, made to panic on one special input.
struct PanicOnSentinel {
    inner: TextEncoderFactory,
    builds: Arc<AtomicUsize>,
}

struct Flaky(TextEncoder);

const SENTINEL: u32 = u32::MAX;

impl Model for Flaky {
    type Input = Vec<u32>;
    type Output = Vec<f32>;
    fn run(&mut self, batch: Vec<Vec<u32>>) -> Result<Vec<Vec<f32>>, RunError> {
        if batch.iter().any(|ids| ids == &[SENTINEL]) {
            panic!("injected fault");
        }
        self.0.run(batch)
    }
}

impl ModelFactory for PanicOnSentinel {
    type Model = Flaky;
    fn build(&self) -> Result<Flaky, StartupError> {
        self.builds.fetch_add(1, Ordering::SeqCst);
        Ok(Flaky(self.inner.build()?))
    }
}

#[tokio::test]
async fn a_panicking_worker_is_rebuilt_and_its_batch_gets_errors_not_a_hang() {
    let spec = support::text_spec("flaky", 8, 30, 256);
    let runtime = OrtRuntime::load(&support::library()).unwrap();
    let builds = Arc::new(AtomicUsize::new(0));
    let factory = PanicOnSentinel {
        inner: TextEncoderFactory {
            runtime,
            spec: spec.clone(),
            provider: ExecutionProvider::Cpu,
        },
        builds: builds.clone(),
    };
    let pool = Pool::start("flaky", factory, spec.policy().unwrap(), 1)
        .await
        .unwrap();
    assert_eq!(builds.load(Ordering::SeqCst), 1);
    let tokens = |s: &str| -> Vec<u32> { vec![1, 6, s.len() as u32 + 100, 2] };

    // The sentinel and its batch-mates (the 30 ms window groups them) all get an answer.
    let mut calls = vec![pool.infer(vec![SENTINEL])];
    calls.extend(TEXTS[..5].iter().map(|t| pool.infer(tokens(t))));
    let results = tokio::time::timeout(Duration::from_secs(20), futures::future::join_all(calls))
        .await
        .expect("callers of a failed batch must not hang");
    assert!(
        matches!(&results[0], Err(InferenceError::Failed { reason, .. }) if reason.contains("panicked")),
        "{:?}",
        results[0]
    );
    assert!(
        results[1..]
            .iter()
            .all(|r| matches!(r, Err(InferenceError::Failed { .. }))),
        "{results:?}"
    );

    // A fresh worker (a second build of the model) serves what comes next.
    let after = tokio::time::timeout(
        Duration::from_secs(30),
        futures::future::join_all(TEXTS.iter().map(|t| pool.infer(tokens(t)))),
    )
    .await
    .expect("the pool keeps serving");
    assert!(after.iter().all(Result::is_ok), "{after:?}");
    assert_eq!(builds.load(Ordering::SeqCst), 2);
    pool.stop().await;
}

#[tokio::test]
async fn a_missing_library_is_a_clear_startup_error() {
    let err = OrtRuntime::load("/nowhere/libonnxruntime.so".as_ref()).unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, StartupError::LibraryMissing(_)));
    assert!(
        text.contains("/nowhere/libonnxruntime.so") && text.contains("make models"),
        "{text}"
    );
}

#[tokio::test]
async fn a_missing_model_file_is_a_clear_startup_error() {
    let mut spec = support::segmentation_spec("seg", 4, 16);
    spec.file = "/nowhere/segmentation.onnx".into();
    let err = Inference::start(&support::settings(vec![spec]))
        .await
        .err()
        .unwrap();
    let text = err.to_string();
    assert!(matches!(err, StartupError::FileMissing { .. }), "{text}");
    assert!(
        text.contains("/nowhere/segmentation.onnx") && text.contains("`seg`"),
        "{text}"
    );
}

#[tokio::test]
async fn a_gpu_provider_on_a_machine_without_one_fails_unless_cpu_fallback_is_allowed() {
    let mut spec = support::segmentation_spec("seg", 4, 16);
    spec.provider = ExecutionProvider::Cuda;
    let runtime = OrtRuntime::load(&support::library()).unwrap();
    if runtime.available().contains(&ExecutionProvider::Cuda) {
        // A CUDA machine runs it there.
        let inference = Inference::start(&support::settings(vec![spec]))
            .await
            .unwrap();
        assert_eq!(inference.describe()[0].provider, ExecutionProvider::Cuda);
        inference.stop().await;
        return;
    }
    let err = Inference::start(&support::settings(vec![spec.clone()]))
        .await
        .err()
        .unwrap();
    assert!(err.to_string().contains("fallback_cpu"), "{err}");

    spec.fallback_cpu = true;
    let inference = Inference::start(&support::settings(vec![spec]))
        .await
        .unwrap();
    let info = inference.describe();
    assert_eq!(info[0].provider, ExecutionProvider::Cpu);
    assert_eq!(info[0].configured_provider, ExecutionProvider::Cuda);
    inference.stop().await;
}
