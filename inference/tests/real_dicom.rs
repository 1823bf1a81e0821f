//! Our DICOM decoding against pydicom on real files nobody here wrote: every file in
//! pydicom's test data and pydicom-data (installed into `.venv` by `make test-data`).
//! The reference statistics are computed at test time by
//! `tests/reference/pydicom_stats.py`. Each file must decode to the same HU statistics,
//! or be one of the named, expected rejections below.

use std::path::{Path, PathBuf};
use std::process::Command;

use medrt_inference::imaging::dicom::{DicomError, Image};
use medrt_inference::imaging::series::{self, SeriesError};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
struct Reference {
    path: String,
    ok: bool,
    rows: Option<usize>,
    columns: Option<usize>,
    frames: Option<usize>,
    samples_per_pixel: Option<usize>,
    hu_min: Option<f64>,
    hu_max: Option<f64>,
    hu_mean: Option<f64>,
}

fn python() -> PathBuf {
    let venv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/python");
    assert!(
        venv.is_file(),
        "no .venv: run `make test-data` (make test does)"
    );
    venv
}

fn references() -> Vec<Reference> {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/reference/pydicom_stats.py");
    let out = Command::new(python())
        .arg(script)
        .arg("--all")
        .output()
        .expect("python runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("the script prints JSON")
}

struct Stats {
    rows: usize,
    columns: usize,
    frames: usize,
    min: f64,
    max: f64,
    mean: f64,
}

fn ours(path: &Path) -> Result<Stats, DicomError> {
    let image = Image::decode(std::fs::read(path).expect("readable file"))?;
    let planes = image.hu_planes()?;
    let padded = image.padding().is_some();
    let (mut min, mut max, mut sum, mut n) = (f64::MAX, f64::MIN, 0.0, 0usize);
    // With padding, compare the pixels both sides agree on (see the script).
    for v in planes
        .iter()
        .flatten()
        .filter(|&&v| !padded || v != -1024.0)
    {
        let v = *v as f64;
        min = min.min(v);
        max = max.max(v);
        sum += v;
        n += 1;
    }
    let first = &image.planes[0];
    Ok(Stats {
        rows: first.rows,
        columns: first.columns,
        frames: planes.len(),
        min,
        max,
        mean: sum / n as f64,
    })
}

/// Files pydicom decodes that we refuse, and why (a substring of our error).
/// Colour images are refused wholesale (CT is greyscale); the rest are gaps in the
/// dicom-rs 0.9 decoders, refused with a reason rather than decoded wrongly.
const EXPECTED_REJECTIONS: &[(&str, &str)] = &[
    ("JPGExtended.dcm", "cannot be decoded"),
    ("rtdose_rle.dcm", "cannot be decoded"),
    ("rtdose_rle_1frame.dcm", "cannot be decoded"),
    ("rtdose_expb.dcm", "32-bit big-endian"),
    ("rtdose_expb_1frame.dcm", "32-bit big-endian"),
    ("SC_rgb_jpeg.dcm", "unreadable"),
    ("OT-PAL-8-face.dcm", "unreadable"),
];

/// Malformed files that must be refused, not decoded into something.
const MALFORMED: &[&str] = &[
    "no_meta.dcm",
    "MR_truncated.dcm",
    "badVR.dcm",
    "meta_missing_tsyntax.dcm",
];

fn name(path: &str) -> &str {
    Path::new(path)
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or(path)
}

#[test]
fn every_real_file_decodes_like_pydicom_or_is_a_named_rejection() {
    let references = references();
    assert!(
        references.len() > 150,
        "only {} reference files",
        references.len()
    );
    let mut problems = Vec::new();
    let (mut matched, mut rejected) = (0, 0);
    for r in &references {
        let file = name(&r.path);
        let result = std::panic::catch_unwind(|| ours(Path::new(&r.path)));
        let Ok(result) = result else {
            problems.push(format!("{file}: panicked"));
            continue;
        };
        match (r.ok, result) {
            (true, Ok(s)) => {
                let close = |a: f64, b: Option<f64>, tol: f64| {
                    b.is_some_and(|b| (a - b).abs() <= tol * b.abs().max(1.0))
                };
                let same_shape = Some(s.rows) == r.rows
                    && Some(s.columns) == r.columns
                    && Some(s.frames) == r.frames;
                if !same_shape
                    || !close(s.min, r.hu_min, 1e-4)
                    || !close(s.max, r.hu_max, 1e-4)
                    || !close(s.mean, r.hu_mean, 1e-4)
                {
                    problems.push(format!(
                        "{file}: ours {}x{}x{} min {} max {} mean {:.3}; pydicom {:?}x{:?}x{:?} min {:?} max {:?} mean {:?}",
                        s.rows, s.columns, s.frames, s.min, s.max, s.mean, r.rows, r.columns, r.frames, r.hu_min, r.hu_max, r.hu_mean
                    ));
                } else {
                    matched += 1;
                }
            }
            (true, Err(DicomError::Colour(n))) if r.samples_per_pixel == Some(n as usize) => {
                rejected += 1
            }
            (true, Err(e)) => match EXPECTED_REJECTIONS.iter().find(|(f, _)| *f == file) {
                Some((_, why)) if e.to_string().contains(why) => rejected += 1,
                _ => problems.push(format!("{file}: pydicom decodes it, we say: {e}")),
            },
            (false, Ok(_)) if MALFORMED.contains(&file) => {
                problems.push(format!("{file}: malformed, yet we decoded it"));
            }
            (false, _) => rejected += 1,
        }
    }
    eprintln!("{matched} files match pydicom, {rejected} rejected as expected");
    assert!(
        problems.is_empty(),
        "{} problem(s):\n{}",
        problems.len(),
        problems.join("\n")
    );
}

fn test_files() -> PathBuf {
    let out = Command::new(python())
        .args(["-c", "import pydicom, os; print(os.path.join(os.path.dirname(pydicom.__file__), 'data', 'test_files'))"])
        .output()
        .expect("python runs");
    PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
}

/// The planes of every file in a folder, in directory order (which means nothing).
fn planes_in(dir: &Path) -> Vec<(String, medrt_inference::imaging::dicom::Plane)> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files.reverse();
    files
        .iter()
        .flat_map(|f| {
            let image = Image::decode(std::fs::read(f).unwrap()).unwrap();
            image
                .planes
                .into_iter()
                .map(move |p| (name(f.to_str().unwrap()).to_owned(), p))
        })
        .collect()
}

#[test]
fn ct5n_is_sorted_along_its_normal_with_2_5_mm_spacing() {
    let chosen =
        series::choose(planes_in(&test_files().join("dicomdirtests/98892001/CT5N"))).unwrap();
    assert_eq!(chosen.dims.z, 5);
    assert!(
        (chosen.geometry.spacing[2] - 2.5).abs() < 1e-6,
        "{:?}",
        chosen.geometry.spacing
    );
    let along: Vec<f64> = chosen
        .planes
        .iter()
        .map(|(_, p)| {
            let [x, y, z] = p.position.unwrap();
            let n = chosen.geometry.slice;
            x * n[0] + y * n[1] + z * n[2]
        })
        .collect();
    assert!(
        along.windows(2).all(|w| (w[1] - w[0] - 2.5).abs() < 1e-6),
        "{along:?}"
    );
}

#[test]
fn ct2_has_a_gap_that_is_reported_not_papered_over() {
    let err =
        series::choose(planes_in(&test_files().join("dicomdirtests/77654033/CT2"))).unwrap_err();
    assert!(matches!(err, SeriesError::Uneven { .. }), "{err}");
    assert!(err.to_string().contains("gap"), "{err}");
}

#[test]
fn rescale_values_stored_as_un_are_read_as_text_not_as_bytes() {
    let out = Command::new(python())
        .args(["-c", "from pydicom.data import get_testdata_file; print(get_testdata_file('explicit_VR-UN.dcm'))"])
        .output()
        .expect("python runs");
    let path = PathBuf::from(String::from_utf8(out.stdout).unwrap().trim());
    let image = Image::decode(std::fs::read(path).unwrap()).unwrap();
    use medrt_inference::imaging::dicom::ModalityLut;
    assert_eq!(
        image.planes[0].lut,
        ModalityLut::Linear {
            slope: 1.0,
            intercept: 0.0
        }
    );
    let hu = image.hu_planes().unwrap();
    let max = hu[0].iter().fold(f32::MIN, |a, &b| a.max(b));
    assert!(max < 4000.0, "HU up to {max}: the rescale was misread");
}

#[test]
fn malformed_and_non_image_files_are_named_errors_never_panics() {
    let dir = test_files();
    for (file, expected) in [
        (
            "no_meta.dcm",
            "unreadable DICOM: Could not parse meta group",
        ),
        (
            "MR_truncated.dcm",
            "unreadable DICOM: Could not read data set",
        ),
        ("badVR.dcm", "invalid Number of Frames"),
        (
            "meta_missing_tsyntax.dcm",
            "unreadable DICOM: Could not parse meta group",
        ),
        ("rtplan.dcm", "no pixel data"),
    ] {
        let bytes = std::fs::read(dir.join(file)).unwrap();
        let outcome = std::panic::catch_unwind(|| {
            Image::decode(bytes).and_then(|i| i.hu_planes().map(|_| ()))
        });
        let err = outcome
            .unwrap_or_else(|_| panic!("{file}: panicked"))
            .expect_err(file);
        assert!(err.to_string().contains(expected), "{file}: {err}");
    }
}
