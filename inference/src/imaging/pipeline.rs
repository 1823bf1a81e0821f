//! One run of the pipeline, as a library call: the CLI and (next) the task actors drive
//! it. CPU stages run on blocking threads with rayon; segmentation goes through the
//! inference pool a bounded number of slices at a time. Progress is reported per stage;
//! cancellation is checked between slices and stages.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Instant;

use futures::StreamExt;
use rayon::prelude::*;
use serde::Serialize;

use super::archive::{Archive, ArchiveError, ArchiveLimits, Member};
use super::dicom::{DicomError, Image, Plane, looks_like_dicom};
use super::mesh::{Dims, Mesh, marching_cubes};
use super::output::{self, LabelSummary, Rejected, SeriesSummary, Summary, Timings};
use super::series::{self, SeriesError};
use crate::error::InferenceError;
use crate::segmentation::{Segmenter, Slice};

#[derive(Clone, Debug)]
pub struct AnalyzeOptions {
    /// Labels to build surfaces for; empty: every label but the first (background).
    pub labels: Vec<String>,
    /// Taubin smoothing iterations (0: none).
    pub smooth: usize,
    /// Keep about this fraction of the triangles (1: all).
    pub decimate: f32,
    pub limits: ArchiveLimits,
    /// Slices in flight to the segmentation pool.
    pub in_flight: usize,
}

impl Default for AnalyzeOptions {
    fn default() -> Self {
        Self {
            labels: Vec::new(),
            smooth: 0,
            decimate: 1.0,
            limits: ArchiveLimits::default(),
            in_flight: 16,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "stage", content = "label")]
pub enum Stage {
    Parse,
    Volume,
    Segment,
    Mesh(String),
    Write,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Progress {
    #[serde(flatten)]
    pub stage: Stage,
    pub done: usize,
    pub total: usize,
}

/// Set from anywhere to stop a run at its next check.
#[derive(Clone, Debug, Default)]
pub struct Cancel(Arc<AtomicBool>);

impl Cancel {
    pub fn cancel(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    fn check(&self) -> Result<(), ImagingError> {
        if self.0.load(Ordering::Relaxed) {
            Err(ImagingError::Cancelled)
        } else {
            Ok(())
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ImagingError {
    #[error("{0}")]
    Archive(#[from] ArchiveError),
    #[error(
        "no usable image in the archive ({dicom} DICOM file(s), {skipped} other file(s){first})"
    )]
    NoImages {
        dicom: usize,
        skipped: usize,
        first: String,
    },
    #[error("{0}")]
    Series(#[from] SeriesError),
    #[error("{file}: {error}")]
    Dicom { file: String, error: DicomError },
    #[error("unknown label {0:?} (the model has: {1})")]
    UnknownLabel(String, String),
    #[error("segmentation: {0}")]
    Segmentation(#[from] InferenceError),
    #[error("cannot write {0}")]
    Output(String),
    #[error("cancelled")]
    Cancelled,
    #[error("a pipeline worker failed: {0}")]
    Worker(String),
}

/// Runs CPU-bound work on a blocking thread (rayon fans it out from there).
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, ImagingError> + Send + 'static,
) -> Result<T, ImagingError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| ImagingError::Worker(e.to_string()))?
}

/// Where progress goes; called from worker threads.
pub type Report = Arc<dyn Fn(Progress) + Send + Sync>;

struct Parsed {
    planes: Vec<(usize, Plane)>,
    dicom: usize,
    skipped: Vec<String>,
    rejected: Vec<Rejected>,
}

fn parse(archive: &Archive, report: &Report, cancel: &Cancel) -> Result<Parsed, ImagingError> {
    let total = archive.members.len();
    let done = AtomicUsize::new(0);
    let outcomes: Vec<Result<Result<Vec<Plane>, DicomError>, ImagingError>> = archive
        .members
        .par_iter()
        .map(|member| {
            cancel.check()?;
            let bytes = archive.read(member)?;
            let outcome = if looks_like_dicom(&bytes) {
                Image::decode(bytes).map(|image| image.planes)
            } else {
                Err(DicomError::NotDicom)
            };
            let n = done.fetch_add(1, Ordering::Relaxed) + 1;
            report(Progress {
                stage: Stage::Parse,
                done: n,
                total,
            });
            Ok(outcome)
        })
        .collect();
    let mut parsed = Parsed {
        planes: Vec::new(),
        dicom: 0,
        skipped: Vec::new(),
        rejected: Vec::new(),
    };
    for (index, outcome) in outcomes.into_iter().enumerate() {
        let name = archive.members[index].name.clone();
        match outcome? {
            Ok(planes) => {
                parsed.dicom += 1;
                parsed.planes.extend(planes.into_iter().map(|p| (index, p)));
            }
            Err(DicomError::NotDicom) => parsed.skipped.push(name),
            Err(error) => {
                parsed.dicom += 1;
                parsed.rejected.push(Rejected {
                    file: name,
                    reason: error.to_string(),
                });
            }
        }
    }
    Ok(parsed)
}

/// Decodes every plane of the series straight into its place in one volume. Each file
/// is decoded once, however many of its frames the series uses (an Enhanced CT holds
/// them all); files were parsed once already in `parse`, but holding them decoded until
/// now would cost the memory of the whole series twice.
fn volume(
    archive: &Archive,
    chosen: &series::Chosen<usize>,
    report: &Report,
    cancel: &Cancel,
) -> Result<Vec<f32>, ImagingError> {
    let Dims { x, y, z } = chosen.dims;
    let mut volume = vec![0.0f32; x * y * z];
    let mut by_file: BTreeMap<usize, Vec<(&Plane, &mut [f32])>> = BTreeMap::new();
    for ((member, plane), out) in chosen.planes.iter().zip(volume.chunks_mut(x * y)) {
        by_file.entry(*member).or_default().push((plane, out));
    }
    let done = AtomicUsize::new(0);
    by_file
        .into_iter()
        .collect::<Vec<_>>()
        .into_par_iter()
        .try_for_each(|(member, planes)| {
            cancel.check()?;
            let member: &Member = &archive.members[member];
            let failed = |error| ImagingError::Dicom {
                file: member.name.clone(),
                error,
            };
            let image = Image::decode(archive.read(member)?).map_err(failed)?;
            let pixels = image.pixels().map_err(failed)?;
            for (plane, out) in planes {
                image.plane_hu_into(&pixels, plane, out).map_err(failed)?;
                let n = done.fetch_add(1, Ordering::Relaxed) + 1;
                report(Progress {
                    stage: Stage::Volume,
                    done: n,
                    total: z,
                });
            }
            Ok::<(), ImagingError>(())
        })?;
    Ok(volume)
}

async fn segment(
    volume: Vec<f32>,
    dims: Dims,
    segmenter: &Segmenter,
    in_flight: usize,
    report: &Report,
    cancel: &Cancel,
) -> Result<Vec<u8>, ImagingError> {
    let plane = dims.x * dims.y;
    let volume = Arc::new(volume);
    let mut labels = vec![0u8; dims.voxels()];
    let mut pending = futures::stream::iter(0..dims.z)
        .map(|z| {
            let slice = Slice::in_volume(volume.clone(), z, dims.y, dims.x);
            async move {
                cancel.check()?;
                let slice = slice.expect("planes lie inside the volume");
                Ok::<_, ImagingError>((z, segmenter.segment(slice).await?))
            }
        })
        .buffer_unordered(in_flight.max(1));
    let mut done = 0;
    while let Some(result) = pending.next().await {
        let (z, scores) = result?;
        scores.argmax_into(&mut labels[z * plane..(z + 1) * plane]);
        done += 1;
        report(Progress {
            stage: Stage::Segment,
            done,
            total: dims.z,
        });
    }
    Ok(labels)
}

/// Runs the whole pipeline on a ZIP held in memory, writing into `out`.
pub async fn analyze(
    zip: Vec<u8>,
    out: &Path,
    options: &AnalyzeOptions,
    segmenter: &Segmenter,
    report: &Report,
    cancel: &Cancel,
) -> Result<Summary, ImagingError> {
    let started = Instant::now();
    let mut timings = Timings::default();
    let wanted = wanted_labels(options, segmenter.labels())?;

    let clock = Instant::now();
    let (limits, r, c) = (options.limits, report.clone(), cancel.clone());
    let (archive, parsed) = blocking(move || {
        let archive = Archive::open(zip, &limits)?;
        let parsed = parse(&archive, &r, &c)?;
        Ok((archive, parsed))
    })
    .await?;
    timings.parse_s = clock.elapsed().as_secs_f64();
    if parsed.planes.is_empty() {
        let first = parsed
            .rejected
            .first()
            .map(|r| format!("; {}: {}", r.file, r.reason))
            .unwrap_or_default();
        return Err(ImagingError::NoImages {
            dicom: parsed.dicom,
            skipped: parsed.skipped.len(),
            first,
        });
    }
    let chosen = series::choose(parsed.planes)?;
    cancel.check()?;

    let clock = Instant::now();
    let (r, c) = (report.clone(), cancel.clone());
    let (chosen, hu) = blocking(move || {
        let hu = volume(&archive, &chosen, &r, &c)?;
        Ok((chosen, hu))
    })
    .await?;
    timings.volume_s = clock.elapsed().as_secs_f64();

    let clock = Instant::now();
    let labels = segment(
        hu,
        chosen.dims,
        segmenter,
        options.in_flight,
        report,
        cancel,
    )
    .await?;
    timings.segment_s = clock.elapsed().as_secs_f64();

    let clock = Instant::now();
    let (r, c, smooth, decimate) = (
        report.clone(),
        cancel.clone(),
        options.smooth,
        options.decimate,
    );
    let (dims, geometry) = (chosen.dims, chosen.geometry);
    let meshes = blocking(move || {
        let done = AtomicUsize::new(0);
        wanted
            .par_iter()
            .map(|(index, name)| {
                c.check()?;
                let mut mesh = marching_cubes(&labels, dims, *index);
                mesh.smooth_taubin(smooth);
                mesh.decimate(decimate);
                let mesh = mesh.into_patient(&geometry);
                // A large label finishes last: its measures and bytes use both cores.
                let (summary, stl) =
                    rayon::join(|| describe(name, &mesh), || output::stl_bytes(&mesh));
                let n = done.fetch_add(1, Ordering::Relaxed) + 1;
                r(Progress {
                    stage: Stage::Mesh(name.clone()),
                    done: n,
                    total: wanted.len(),
                });
                Ok((summary, stl))
            })
            .collect::<Result<Vec<_>, ImagingError>>()
    })
    .await?;
    timings.mesh_s = clock.elapsed().as_secs_f64();

    cancel.check()?;
    let clock = Instant::now();
    tokio::fs::create_dir_all(out)
        .await
        .map_err(|e| ImagingError::Output(format!("{}: {e}", out.display())))?;
    let total = meshes.len() + 1;
    let written = AtomicUsize::new(0);
    let writes = meshes.into_iter().map(|(summary, stl)| {
        let path = out.join(&summary.file);
        let written = &written;
        async move {
            write(&path, stl).await?;
            let done = written.fetch_add(1, Ordering::Relaxed) + 1;
            report(Progress {
                stage: Stage::Write,
                done,
                total,
            });
            Ok::<_, ImagingError>(summary)
        }
    });
    let summaries = futures::future::try_join_all(writes).await?;
    timings.write_s = clock.elapsed().as_secs_f64();
    timings.total_s = started.elapsed().as_secs_f64();
    let summary = Summary {
        series: SeriesSummary {
            uid: chosen.uid.clone(),
            slices: chosen.dims.z,
            dims: [chosen.dims.x, chosen.dims.y, chosen.dims.z],
            voxel_mm: chosen.geometry.spacing,
            others: chosen.others.clone(),
        },
        dicom_files: parsed.dicom,
        skipped_non_dicom: parsed.skipped,
        rejected: parsed.rejected,
        labels: summaries,
        timings,
    };
    let json = serde_json::to_vec_pretty(&summary)
        .map_err(|e| ImagingError::Output(format!("summary.json: {e}")))?;
    write(&out.join("summary.json"), json).await?;
    report(Progress {
        stage: Stage::Write,
        done: total,
        total,
    });
    Ok(summary)
}

async fn write(path: &Path, bytes: Vec<u8>) -> Result<(), ImagingError> {
    tokio::fs::write(path, bytes)
        .await
        .map_err(|e| ImagingError::Output(format!("{}: {e}", path.display())))
}

fn describe(name: &str, mesh: &Mesh) -> LabelSummary {
    let (colour, opacity) = output::appearance(name);
    let (lo, hi) = mesh.bounding_box().unwrap_or_default();
    LabelSummary {
        name: name.to_owned(),
        file: output::file_name(name),
        colour: colour.into(),
        opacity,
        triangles: mesh.triangles.len(),
        area_mm2: mesh.area(),
        volume_ml: mesh.signed_volume() / 1000.0,
        bbox_min_mm: lo,
        bbox_max_mm: hi,
        watertight: mesh.is_watertight(),
    }
}

fn wanted_labels(
    options: &AnalyzeOptions,
    model: &[String],
) -> Result<Vec<(u8, String)>, ImagingError> {
    if options.labels.is_empty() {
        return Ok(model
            .iter()
            .enumerate()
            .skip(1)
            .map(|(i, n)| (i as u8, n.clone()))
            .collect());
    }
    options
        .labels
        .iter()
        .map(|name| {
            model
                .iter()
                .position(|m| m == name)
                .map(|i| (i as u8, name.clone()))
                .ok_or_else(|| ImagingError::UnknownLabel(name.clone(), model.join(", ")))
        })
        .collect()
}
