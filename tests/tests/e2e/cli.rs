use std::process::Command;

use medrt_tests::TestBackend;
use medrt_tests::process::medrt_binary;

fn medrt(args: &[&str], env: &[(&str, String)]) -> std::process::Output {
    let config = medrt_tests::app::config_dir();
    let mut command = Command::new(medrt_binary());
    // From the project root, as `make run` does, so the default model paths resolve.
    command
        .args(args)
        .current_dir(config.parent().expect("config/ sits in the project"))
        .env("MEDRT_CONFIG_DIR", &config);
    for key in [
        "MEDRT_ENV",
        "ORT_DYLIB_PATH",
        "MEDRT__AUTH__JWT_SECRET",
        "MEDRT__BUS__URL",
        "MEDRT__DATABASE__URL",
    ] {
        command.env_remove(key);
    }
    for (key, value) in env {
        command.env(key, value);
    }
    command.output().expect("medrt runs")
}

#[test]
fn help_lists_the_commands() {
    let out = medrt(&["--help"], &[]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("serve") && text.contains("migrate"), "{text}");
}

#[test]
fn production_refuses_unsafe_settings_with_one_line() {
    let out = medrt(&["serve"], &[("MEDRT_ENV", "production".into())]);
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("JWT_SECRET"), "{err}");

    let out = medrt(
        &["serve"],
        &[
            ("MEDRT_ENV", "production".into()),
            ("MEDRT__AUTH__JWT_SECRET", "x".repeat(40)),
        ],
    );
    assert!(!out.status.success());
    assert!(String::from_utf8(out.stderr).unwrap().contains("BUS__URL"));
}

#[test]
fn malformed_settings_are_a_one_line_error() {
    let out = medrt(
        &["serve"],
        &[("MEDRT__SERVER__BIND", "not an address".into())],
    );
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.to_lowercase().contains("server.bind"), "{err}");
}

#[tokio::test]
async fn migrate_applies_the_schema_and_exits() {
    let backend = TestBackend::new().await;
    let out = medrt(
        &["migrate"],
        &[("MEDRT__DATABASE__URL", backend.database_url.clone())],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8(out.stdout)
            .unwrap()
            .contains("migrations applied")
    );
    // Idempotent: a second run finds nothing to do and still succeeds.
    assert!(
        medrt(
            &["migrate"],
            &[("MEDRT__DATABASE__URL", backend.database_url.clone())]
        )
        .status
        .success()
    );
}

fn cosine(a: &[f64], b: &[f64]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    dot / (a.iter().map(|x| x * x).sum::<f64>().sqrt()
        * b.iter().map(|x| x * x).sum::<f64>().sqrt())
}

#[test]
fn embed_prints_one_normalised_vector_per_text_as_json() {
    let out = medrt(
        &[
            "embed",
            "头痛发烧",
            "headache and fever",
            "the stock market fell",
        ],
        &[],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed: Vec<serde_json::Value> =
        serde_json::from_slice(&out.stdout).expect("JSON on stdout");
    assert_eq!(printed.len(), 3);
    assert_eq!(printed[1]["text"], "headache and fever");
    let vectors: Vec<Vec<f64>> = printed
        .iter()
        .map(|p| {
            p["embedding"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap())
                .collect()
        })
        .collect();
    assert!(vectors.iter().all(|v| v.len() == 512));
    let norm = vectors[0].iter().map(|x| x * x).sum::<f64>().sqrt();
    assert!((norm - 1.0).abs() < 1e-3, "{norm}");
    let (translation, unrelated) = (
        cosine(&vectors[0], &vectors[1]),
        cosine(&vectors[0], &vectors[2]),
    );
    assert!(
        translation > unrelated + 0.3,
        "{translation} vs {unrelated}"
    );
}

#[test]
fn models_lists_each_loaded_model_with_its_provider_and_batching() {
    let out = medrt(&["models", "--json"], &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let models: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    let text = models
        .iter()
        .find(|m| m["kind"] == "text_embedding")
        .expect("a text model");
    let seg = models
        .iter()
        .find(|m| m["kind"] == "segmentation")
        .expect("a segmentation model");
    assert_eq!(text["provider"], "cpu");
    assert!(text["max_batch"].as_u64().unwrap() > 1);
    assert_eq!(
        seg["labels"],
        serde_json::json!(["background", "skin", "bone"])
    );

    let table = medrt(&["models"], &[]);
    let table = String::from_utf8(table.stdout).unwrap();
    assert!(
        table.lines().count() == 3 && table.contains("text_embedding"),
        "{table}"
    );
}

#[test]
fn a_missing_onnx_runtime_library_stops_startup_with_one_clear_line() {
    for command in [&["models"][..], &["serve"][..]] {
        let out = medrt(
            command,
            &[("ORT_DYLIB_PATH", "/nowhere/libonnxruntime.so".into())],
        );
        assert!(!out.status.success());
        let err = String::from_utf8(out.stderr).unwrap();
        let last = err.trim().lines().last().unwrap_or_default();
        assert!(
            last.contains("/nowhere/libonnxruntime.so") && last.contains("make models"),
            "{err}"
        );
    }
}

#[test]
fn analyze_turns_a_phantom_study_into_stl_files_and_a_summary() {
    let dir = tempfile::Builder::new()
        .prefix("medrt-cli-analyze-")
        .tempdir()
        .unwrap();
    let work = dir.path();
    let zip = work.join("study.zip");
    let made = medrt(
        &["phantom", zip.to_str().unwrap(), "--size", "64x64x32"],
        &[],
    );
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let out = work.join("out");
    let ran = medrt(
        &[
            "analyze",
            zip.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--smooth",
            "5",
            "--decimate",
            "0.5",
        ],
        &[],
    );
    assert!(
        ran.status.success(),
        "{}",
        String::from_utf8_lossy(&ran.stderr)
    );
    let table = String::from_utf8(ran.stdout).unwrap();
    assert!(table.contains("skin") && table.contains("bone"), "{table}");
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["series"]["slices"], 32);
    for label in summary["labels"].as_array().unwrap() {
        assert_eq!(label["watertight"], true, "{label}");
        let stl = std::fs::metadata(out.join(label["file"].as_str().unwrap())).unwrap();
        assert_eq!(stl.len(), 84 + 50 * label["triangles"].as_u64().unwrap());
    }
    let mut written: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    written.sort();
    assert_eq!(written, ["bone.stl", "skin.stl", "summary.json"]);

    let only = work.join("only-bone");
    let bone = medrt(
        &[
            "analyze",
            zip.to_str().unwrap(),
            "--out",
            only.to_str().unwrap(),
            "--labels",
            "bone",
        ],
        &[],
    );
    assert!(bone.status.success());
    assert!(only.join("bone.stl").is_file() && !only.join("skin.stl").exists());
}

#[test]
fn analyze_refuses_bad_input_with_one_line_and_writes_nothing() {
    let dir = tempfile::Builder::new()
        .prefix("medrt-cli-bad-")
        .tempdir()
        .unwrap();
    let work = dir.path();
    let not_zip = work.join("notes.zip");
    std::fs::write(&not_zip, b"not a zip at all").unwrap();
    let out = work.join("out");
    for (args, expected) in [
        (
            vec![
                "analyze",
                not_zip.to_str().unwrap(),
                "--out",
                out.to_str().unwrap(),
            ],
            "not a ZIP",
        ),
        (
            vec![
                "analyze",
                "/nowhere/study.zip",
                "--out",
                out.to_str().unwrap(),
            ],
            "/nowhere/study.zip",
        ),
        (
            vec![
                "analyze",
                not_zip.to_str().unwrap(),
                "--out",
                out.to_str().unwrap(),
                "--labels",
                "liver",
            ],
            "liver",
        ),
        (
            vec![
                "analyze",
                not_zip.to_str().unwrap(),
                "--out",
                out.to_str().unwrap(),
                "--decimate",
                "0",
            ],
            "--decimate",
        ),
    ] {
        let ran = medrt(&args, &[]);
        assert!(!ran.status.success());
        let err = String::from_utf8(ran.stderr).unwrap();
        let last = err.trim().lines().last().unwrap_or_default().to_owned();
        assert!(
            last.starts_with("medrt: ") && last.contains(expected),
            "{err}"
        );
        assert!(!out.exists(), "{args:?} wrote something");
    }
}
