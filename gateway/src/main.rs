//! `medrt`: the platform's single binary.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use medrt_actors::store::Store;
use medrt_gateway::{Application, BootstrapAdmin, Settings, telemetry};
use medrt_inference::{Inference, ModelKind};

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

async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    tracing::info!("shutdown requested");
}
