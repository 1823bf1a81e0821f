//! The project's segmentation model through the pool: a synthetic CT phantom (air, soft
//! tissue, bone) comes back labelled where a radiologist would put each label, and
//! slices of different sizes batch together without changing results.

mod support;

use medrt_inference::Inference;
use medrt_inference::segmentation::{LabelScores, Slice};

const BACKGROUND: u8 = 0;
const SKIN: u8 = 1;
const BONE: u8 = 2;

/// A body (40 HU soft tissue disk) in air (-1000 HU) with a bone ring (700 HU) inside.
fn phantom(size: usize) -> Slice {
    let c = size as f32 / 2.0;
    let hu = (0..size * size)
        .map(|p| {
            let (y, x) = ((p / size) as f32 - c, (p % size) as f32 - c);
            let r = (x * x + y * y).sqrt() / c;
            if r > 0.8 {
                -1000.0
            } else if (0.3..0.5).contains(&r) {
                700.0
            } else {
                40.0
            }
        })
        .collect();
    Slice::new(size, size, hu).unwrap()
}

fn label_at(scores: &LabelScores, labels: &[u8], y: usize, x: usize) -> u8 {
    labels[y * scores.width + x]
}

#[tokio::test]
async fn a_phantom_is_labelled_air_soft_tissue_and_bone() {
    let spec = support::segmentation_spec("seg", 8, 64);
    let inference = Inference::start(&support::settings(vec![spec]))
        .await
        .unwrap();
    let segmenter = inference.segmentation(None).unwrap();
    assert_eq!(segmenter.labels(), ["background", "skin", "bone"]);
    let scores = segmenter.segment(phantom(128)).await.unwrap();
    assert_eq!((scores.labels, scores.height, scores.width), (3, 128, 128));
    let mut labels = vec![u8::MAX; 128 * 128];
    scores.argmax_into(&mut labels);
    assert_eq!(label_at(&scores, &labels, 2, 2), BACKGROUND);
    assert_eq!(label_at(&scores, &labels, 64, 64), SKIN); // centre: tissue
    assert_eq!(label_at(&scores, &labels, 64, 64 + 25), BONE); // r ≈ 0.39: the ring
    assert_eq!(label_at(&scores, &labels, 64, 64 + 42), SKIN); // r ≈ 0.66: tissue again
    // Scores are a distribution over the labels.
    for p in [(0, 0), (64, 64), (64, 89), (10, 64)] {
        let sum: f32 = (0..3).map(|l| scores.score(l, p.0, p.1)).sum();
        assert!((sum - 1.0).abs() < 1e-4, "{p:?}: {sum}");
    }
    let bone_pixels = labels.iter().filter(|&&l| l == BONE).count();
    let expected = std::f32::consts::PI * (0.5f32.powi(2) - 0.3f32.powi(2)) * 64.0 * 64.0;
    assert!(
        (bone_pixels as f32 - expected).abs() < expected * 0.1,
        "{bone_pixels} vs {expected}"
    );
    inference.stop().await;
}

#[tokio::test]
async fn slices_of_different_sizes_batch_together_with_the_same_results() {
    let batched = support::segmentation_spec("batched", 16, 64);
    let single = support::segmentation_spec("single", 1, 64);
    let inference = Inference::start(&support::settings(vec![batched, single]))
        .await
        .unwrap();
    let slices: Vec<Slice> = [64, 96, 64, 64, 96, 32]
        .iter()
        .map(|&s| phantom(s))
        .collect();
    let together = futures::future::join_all(slices.iter().map(|s| {
        inference
            .segmentation(Some("batched"))
            .unwrap()
            .segment(s.clone())
    }))
    .await;
    for (slice, result) in slices.iter().zip(together) {
        let alone = inference
            .segmentation(Some("single"))
            .unwrap()
            .segment(slice.clone())
            .await
            .unwrap();
        let result = result.unwrap();
        assert_eq!((result.height, result.width), slice.dims());
        let diff = result
            .scores
            .iter()
            .zip(&alone.scores)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(diff < 1e-5, "{:?}: differs by {diff}", slice.dims());
    }
    inference.stop().await;
}
