//! The text model end to end: the converted tokenizer against SentencePiece, the Rust
//! embeddings against the original graph run in Python with onnxruntime-extensions
//! (fixtures written by `make models`), and the multilingual ordering retrieval needs.

mod support;

use medrt_inference::Inference;
use medrt_inference::text::cosine;
use serde::Deserialize;

#[derive(Deserialize)]
struct TokenCase {
    text: String,
    ids: Vec<u32>,
}

#[derive(Deserialize)]
struct EmbeddingCase {
    text: String,
    embedding: Vec<f32>,
}

fn fixture<T: for<'de> Deserialize<'de>>(name: &str) -> Vec<T> {
    let path = support::models_dir().join("use").join(name);
    serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap()
}

async fn start(max_batch: usize) -> Inference {
    let spec = support::text_spec("use", max_batch, 2, 1024);
    Inference::start(&support::settings(vec![spec]))
        .await
        .unwrap()
}

#[tokio::test]
async fn the_rust_tokenizer_matches_sentencepiece_on_thousands_of_strings() {
    let cases: Vec<TokenCase> = fixture("check_tokens.json");
    assert!(cases.len() >= 3000, "only {} cases", cases.len());
    let inference = start(8).await;
    let embedder = inference.text(None).unwrap();
    let mut mismatches = Vec::new();
    for case in &cases {
        let ids = embedder.tokenize(&case.text).unwrap();
        if ids != case.ids {
            mismatches.push((case.text.clone(), case.ids.clone(), ids));
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} of {} differ, first: {:?}",
        mismatches.len(),
        cases.len(),
        mismatches.first()
    );
    inference.stop().await;
}

#[tokio::test]
async fn embeddings_match_the_original_graph_with_its_tokenizer_op() {
    let cases: Vec<EmbeddingCase> = fixture("check_embeddings.json");
    let inference = start(8).await;
    let embedder = inference.text(None).unwrap();
    let texts: Vec<&str> = cases.iter().map(|c| c.text.as_str()).collect();
    let got = embedder.embed_all(&texts).await.unwrap();
    for (case, vector) in cases.iter().zip(&got) {
        assert_eq!(vector.len(), 512);
        let norm: f32 = vector.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-4, "not normalised: {norm}");
        let c = cosine(vector, &case.embedding);
        assert!(c >= 0.995, "{:?}: cosine {c} with the original", case.text);
    }
    inference.stop().await;
}

#[tokio::test]
async fn translations_are_closer_than_unrelated_sentences_across_languages() {
    let inference = start(8).await;
    let embedder = inference.text(None).unwrap();
    let pairs = [
        (
            "I have had a headache and a fever since yesterday.",
            "我从昨天开始头痛发烧。",
        ),
        (
            "The CT scan shows a small nodule in the left lung.",
            "CT扫描显示左肺有一个小结节。",
        ),
        (
            "Please take this medicine twice a day after meals.",
            "请每天饭后服用这种药两次。",
        ),
        (
            "My blood pressure is high in the morning.",
            "我早上血压很高。",
        ),
    ];
    let unrelated = [
        "周五股市收盘上涨。",
        "Our football team won the championship last night.",
    ];
    for (en, zh) in pairs {
        let v = embedder.embed_all(&[en, zh]).await.unwrap();
        let same = cosine(&v[0], &v[1]);
        assert!(same > 0.6, "{en} / {zh}: {same}");
        for other in unrelated {
            let o = embedder.embed(other).await.unwrap();
            let (a, b) = (cosine(&v[0], &o), cosine(&v[1], &o));
            assert!(
                same > a + 0.2 && same > b + 0.2,
                "{en}/{zh} {same} vs {other} {a} {b}"
            );
        }
    }
    // Retrieval in one language with the query in the other.
    let query = embedder.embed("左肺结节").await.unwrap();
    let docs: Vec<&str> = pairs.iter().map(|(en, _)| *en).collect();
    let scored: Vec<f32> = embedder
        .embed_all(&docs)
        .await
        .unwrap()
        .iter()
        .map(|d| cosine(&query, d))
        .collect();
    let best = scored
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .unwrap()
        .0;
    assert_eq!(docs[best], pairs[1].0, "scores {scored:?}");
    inference.stop().await;
}
