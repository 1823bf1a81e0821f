//! `medrt`: the platform's single binary.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use medrt_actors::store::Store;
use medrt_gateway::{Application, BootstrapAdmin, Settings, telemetry};
use medrt_inference::imaging::phantom::Phantom;
use medrt_inference::imaging::pipeline::{self, AnalyzeOptions, Cancel, Progress, Report, Stage};
use medrt_inference::{Inference, ModelKind};

/// Many small short-lived allocations cross threads (requests, events, ledger batches);
/// glibc's allocator functions were a tenth of the ledger benchmark's CPU in a profile.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "medrt",
    version,
    about = "Real-time platform for an internet hospital"
)]
struct Cli {
    /// Folder holding default.toml and <MEDRT_ENV>.toml.
    #[arg(
        long,
        env = "MEDRT_CONFIG_DIR",
        default_value = "config",
        global = true
    )]
    config_dir: PathBuf,
    /// Which overlay to apply: development, test, production.
    #[arg(long, env = "MEDRT_ENV", default_value = "development", global = true)]
    env: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the platform (migrates first unless database.migrate_on_start is false).
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Print the embeddings of the given texts as JSON (one object per text).
    Embed {
        /// Which text model (default: the first configured).
        #[arg(long)]
        model: Option<String>,
        #[arg(required = true)]
        texts: Vec<String>,
    },
    /// Turn a ZIP of CT DICOM into one STL surface per label plus summary.json.
    Analyze {
        /// The study: a ZIP of DICOM files (folders inside are fine).
        zip: PathBuf,
        /// Folder for the STL files and summary.json.
        #[arg(long)]
        out: PathBuf,
        /// Labels to build, comma-separated (default: every label but background).
        #[arg(long, value_delimiter = ',')]
        labels: Vec<String>,
        /// Taubin smoothing iterations.
        #[arg(long, default_value_t = 0)]
        smooth: usize,
        /// Keep about this fraction of the triangles (0 < R ≤ 1).
        #[arg(long, default_value_t = 1.0)]
        decimate: f32,
    },
    /// Write a synthetic CT study (a phantom with known volumes) as a ZIP of DICOM.
    Phantom {
        /// Where to write the ZIP.
        out: PathBuf,
        /// Columns x rows x slices.
        #[arg(long, default_value = "64x64x32")]
        size: String,
        /// In-plane pixel spacing (mm).
        #[arg(long, default_value_t = 4.0)]
        pixel_mm: f64,
        /// Slice spacing (mm).
        #[arg(long, default_value_t = 4.0)]
        slice_mm: f64,
    },
    /// Load the configured models and list them with their provider and settings.
    Models {
        /// JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let settings = match Settings::load(&cli.config_dir, &cli.env) {
        Ok(s) => s,
        Err(e) => return fail(&e.to_string()),
    };
    // The model commands print their results on stdout; their logs go to stderr.
    if matches!(cli.command, Command::Serve | Command::Migrate) {
        telemetry::init(settings.log.format, &settings.log.filter, std::io::stdout);
    } else {
        telemetry::init(settings.log.format, &settings.log.filter, std::io::stderr);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return fail(&format!("cannot start the runtime: {e}")),
    };
    let outcome = runtime.block_on(async {
        match cli.command {
            Command::Serve => serve(settings).await,
            Command::Migrate => migrate(settings).await,
            Command::Embed { model, texts } => embed(settings, model, texts).await,
            Command::Models { json } => models(settings, json).await,
            Command::Phantom {
                out,
                size,
                pixel_mm,
                slice_mm,
            } => phantom(out, &size, pixel_mm, slice_mm),
            Command::Analyze {
                zip,
                out,
                labels,
                smooth,
                decimate,
            } => analyze(settings, zip, out, labels, smooth, decimate).await,
        }
    });
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(reason) => fail(&reason),
    }
}

fn fail(reason: &str) -> ExitCode {
    eprintln!("medrt: {reason}");
    ExitCode::FAILURE
}

async fn serve(settings: Settings) -> Result<(), String> {
    let bootstrap = match std::env::var("MEDRT_BOOTSTRAP_ADMIN") {
        Ok(raw) if !raw.is_empty() => Some(BootstrapAdmin::parse(&raw)?),
        _ => None,
    };
    let app = Application::build(settings, bootstrap)
        .await
        .map_err(|e| e.to_string())?;
    println!(
        "medrt listening on http://{}  (health: /healthz, API: /api/v1, docs: /openapi.json)",
        app.local_addr()
    );
    app.run_until(shutdown_signal())
        .await
        .map_err(|e| format!("server error: {e}"))
}

async fn migrate(settings: Settings) -> Result<(), String> {
    let store = Store::connect(&settings.database.pool)
        .await
        .map_err(|e| e.to_string())?;
    store.migrate().await.map_err(|e| e.to_string())?;
    println!("medrt: migrations applied ({})", store.backend_name());
    store.close().await;
    Ok(())
}

async fn embed(
    settings: Settings,
    model: Option<String>,
    texts: Vec<String>,
) -> Result<(), String> {
    let inference = Inference::start(&settings.inference)
        .await
        .map_err(|e| e.to_string())?;
    let result = async {
        let embedder = inference
            .text(model.as_deref())
            .map_err(|e| e.to_string())?;
        let vectors = embedder
            .embed_all(&texts)
            .await
            .map_err(|e| e.to_string())?;
        let out: Vec<_> = texts
            .iter()
            .zip(vectors)
            .map(|(text, embedding)| serde_json::json!({ "text": text, "embedding": embedding }))
            .collect();
        serde_json::to_string(&out).map_err(|e| e.to_string())
    }
    .await;
    inference.stop().await;
    println!("{}", result?);
    Ok(())
}

async fn models(settings: Settings, json: bool) -> Result<(), String> {
    let inference = Inference::start(&settings.inference)
        .await
        .map_err(|e| e.to_string())?;
    let models = inference.describe();
    inference.stop().await;
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&models).map_err(|e| e.to_string())?
        );
        return Ok(());
    }
    println!(
        "{:<16} {:<15} {:<9} {:>7} {:>7} {:>9} {:>8} {:>9}  file",
        "name", "kind", "provider", "workers", "threads", "max_batch", "delay_ms", "queue_max"
    );
    for m in models {
        let kind = match m.kind {
            ModelKind::TextEmbedding => "text_embedding",
            ModelKind::Segmentation => "segmentation",
        };
        println!(
            "{:<16} {:<15} {:<9} {:>7} {:>7} {:>9} {:>8} {:>9}  {}",
            m.name,
            kind,
            m.provider.to_string(),
            m.workers,
            m.intra_threads,
            m.max_batch,
            m.max_delay_ms,
            m.queue_max,
            m.file.display()
        );
    }
    Ok(())
}

fn phantom(out: PathBuf, size: &str, pixel_mm: f64, slice_mm: f64) -> Result<(), String> {
    let dims: Vec<usize> = size.split('x').filter_map(|d| d.parse().ok()).collect();
    let [columns, rows, slices] = dims[..] else {
        return Err(format!(
            "--size {size:?}: expected COLUMNSxROWSxSLICES, e.g. 512x512x200"
        ));
    };
    if columns < 8 || rows < 8 || slices < 4 || columns > 4096 || rows > 4096 || slices > 4096 {
        return Err(format!(
            "--size {size}: each side must be 8..4096 (slices 4..4096)"
        ));
    }
    if !(pixel_mm > 0.0 && slice_mm > 0.0) {
        return Err("spacings must be positive".into());
    }
    let phantom = Phantom {
        columns,
        rows,
        slices,
        pixel_mm,
        slice_mm,
    };
    let bar = ProgressBar::new(slices as u64);
    let zip = phantom.zip(|k| bar.set_position(k as u64))?;
    bar.finish_and_clear();
    std::fs::write(&out, zip).map_err(|e| format!("{}: {e}", out.display()))?;
    let expected = phantom.expected();
    println!(
        "{}: {columns}x{rows}x{slices} CT phantom; exact volumes: skin {:.2} ml, bone {:.2} ml",
        out.display(),
        expected.skin_ml,
        expected.bone_ml
    );
    Ok(())
}

async fn analyze(
    mut settings: Settings,
    zip: PathBuf,
    out: PathBuf,
    labels: Vec<String>,
    smooth: usize,
    decimate: f32,
) -> Result<(), String> {
    if !(decimate > 0.0 && decimate <= 1.0) {
        return Err(format!(
            "--decimate {decimate}: must be above 0 and at most 1"
        ));
    }
    let options = AnalyzeOptions {
        labels,
        smooth,
        decimate,
        ..AnalyzeOptions::default()
    };
    let size = std::fs::metadata(&zip)
        .map_err(|e| format!("{}: {e}", zip.display()))?
        .len();
    if size > options.limits.max_compressed_bytes {
        return Err(format!(
            "{}: {size} bytes; the limit is {}",
            zip.display(),
            options.limits.max_compressed_bytes
        ));
    }
    let bytes = std::fs::read(&zip).map_err(|e| format!("{}: {e}", zip.display()))?;
    // Only the segmentation model is needed here.
    settings
        .inference
        .models
        .retain(|m| m.kind == ModelKind::Segmentation);
    let inference = Inference::start(&settings.inference)
        .await
        .map_err(|e| e.to_string())?;
    let bar = ProgressBar::new(0).with_style(
        ProgressStyle::with_template("{msg:>14} [{bar:40}] {pos}/{len} {elapsed}")
            .map_err(|e| e.to_string())?
            .progress_chars("=> "),
    );
    let shown = bar.clone();
    let report: Report = Arc::new(move |p: Progress| {
        let stage = match &p.stage {
            Stage::Parse => "parse".to_owned(),
            Stage::Volume => "volume".to_owned(),
            Stage::Segment => "segment".to_owned(),
            Stage::Mesh(label) => format!("mesh {label}"),
            Stage::Write => "write".to_owned(),
        };
        shown.set_message(stage);
        shown.set_length(p.total as u64);
        shown.set_position(p.done as u64);
    });
    let result = match inference.segmentation(None) {
        Ok(segmenter) => pipeline::analyze(
            bytes,
            &out,
            &options,
            segmenter,
            &report,
            &Cancel::default(),
        )
        .await
        .map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    bar.finish_and_clear();
    inference.stop().await;
    let summary = result?;
    println!(
        "series {} ({} slices, voxel {:.2} × {:.2} × {:.2} mm); {} DICOM file(s), {} skipped, {} rejected",
        summary.series.uid,
        summary.series.slices,
        summary.series.voxel_mm[0],
        summary.series.voxel_mm[1],
        summary.series.voxel_mm[2],
        summary.dicom_files,
        summary.skipped_non_dicom.len(),
        summary.rejected.len()
    );
    println!(
        "{:<12} {:>10} {:>12} {:>12}  file",
        "label", "triangles", "volume ml", "area mm²"
    );
    for label in &summary.labels {
        println!(
            "{:<12} {:>10} {:>12.1} {:>12.0}  {}",
            label.name,
            label.triangles,
            label.volume_ml,
            label.area_mm2,
            out.join(&label.file).display()
        );
    }
    println!(
        "{:.2} s in all; summary in {}",
        summary.timings.total_s,
        out.join("summary.json").display()
    );
    Ok(())
}

async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    tracing::info!("shutdown requested");
}
