//! The imaging pipeline end to end on the real segmentation model: a synthetic CT
//! series with shuffled file names becomes closed surfaces whose volumes match the
//! phantom's exact ones; bad archives are clear errors that write nothing.

mod support;

use std::io::{Cursor, Write};
use std::sync::{Arc, Mutex};

use medrt_inference::Inference;
use medrt_inference::imaging::archive::ArchiveError;
use medrt_inference::imaging::phantom::Phantom;
use medrt_inference::imaging::pipeline::{
    AnalyzeOptions, Cancel, ImagingError, Progress, Report, Stage, analyze,
};
use zip::write::SimpleFileOptions;

async fn inference() -> Inference {
    Inference::start(&support::settings(vec![support::segmentation_spec(
        "seg", 4, 256,
    )]))
    .await
    .unwrap()
}

fn quiet() -> Report {
    Arc::new(|_| {})
}

const SMALL: Phantom = Phantom {
    columns: 64,
    rows: 64,
    slices: 32,
    pixel_mm: 4.0,
    slice_mm: 4.0,
};

#[tokio::test]
async fn a_shuffled_phantom_series_becomes_closed_surfaces_with_the_right_volumes() {
    let inference = inference().await;
    let work = work_dir();
    let out = work.path().join("out");
    let seen: Arc<Mutex<Vec<Progress>>> = Arc::default();
    let log = seen.clone();
    let report: Report = Arc::new(move |p| log.lock().unwrap().push(p));
    let zip = SMALL.zip(|_| {}).unwrap();
    let summary = analyze(
        zip,
        &out,
        &AnalyzeOptions::default(),
        inference.segmentation(None).unwrap(),
        &report,
        &Cancel::default(),
    )
    .await
    .unwrap();

    assert_eq!(summary.series.slices, 32);
    assert_eq!(summary.series.voxel_mm, [4.0, 4.0, 4.0]);
    assert_eq!(summary.skipped_non_dicom, ["README.txt"]);
    let expected = SMALL.expected();
    for (label, exact) in [("skin", expected.skin_ml), ("bone", expected.bone_ml)] {
        let got = summary.labels.iter().find(|l| l.name == label).unwrap();
        assert!(got.watertight, "{label} is not closed");
        let error = (got.volume_ml - exact).abs() / exact;
        assert!(
            error < 0.02,
            "{label}: {:.2} ml vs exact {exact:.2} ml ({:.1} %)",
            got.volume_ml,
            error * 100.0
        );
        let stl = std::fs::read(out.join(&got.file)).unwrap();
        assert_eq!(
            stl.len(),
            84 + 50 * got.triangles,
            "{label}.stl is a binary STL of its triangles"
        );
    }
    assert!(out.join("summary.json").is_file());
    let stages: Vec<Stage> = seen
        .lock()
        .unwrap()
        .iter()
        .map(|p| p.stage.clone())
        .collect();
    for stage in [
        Stage::Parse,
        Stage::Volume,
        Stage::Segment,
        Stage::Mesh("bone".into()),
        Stage::Write,
    ] {
        assert!(stages.contains(&stage), "no progress for {stage:?}");
    }
    let last_segment = seen
        .lock()
        .unwrap()
        .iter()
        .rev()
        .find(|p| p.stage == Stage::Segment)
        .cloned()
        .unwrap();
    assert_eq!((last_segment.done, last_segment.total), (32, 32));
    inference.stop().await;
}

#[tokio::test]
async fn a_cancelled_run_stops_and_says_so() {
    let inference = inference().await;
    let cancel = Cancel::default();
    cancel.cancel();
    let work = work_dir();
    let out = work.path().join("out");
    let err = analyze(
        SMALL.zip(|_| {}).unwrap(),
        &out,
        &AnalyzeOptions::default(),
        inference.segmentation(None).unwrap(),
        &quiet(),
        &cancel,
    )
    .await
    .unwrap_err();
    assert!(matches!(err, ImagingError::Cancelled), "{err}");
    assert!(!out.join("summary.json").exists());
    inference.stop().await;
}

/// A folder of its own for one run's output, removed with the returned value.
fn work_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("medrt-imaging-")
        .tempdir()
        .unwrap()
}

fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut out = zip::ZipWriter::new(Cursor::new(Vec::new()));
    for (name, data) in entries {
        out.start_file(*name, SimpleFileOptions::default()).unwrap();
        out.write_all(data).unwrap();
    }
    out.finish().unwrap().into_inner()
}

#[tokio::test]
async fn bad_archives_are_clear_errors_and_write_nothing() {
    let inference = inference().await;
    let segmenter = inference.segmentation(None).unwrap();
    let mut link = zip::ZipWriter::new(Cursor::new(Vec::new()));
    link.add_symlink(
        "study/link.dcm",
        "/etc/passwd",
        SimpleFileOptions::default(),
    )
    .unwrap();
    let link = link.finish().unwrap().into_inner();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("not a zip", b"this is not a zip archive".to_vec()),
        ("empty", zip_of(&[])),
        ("traversal", zip_of(&[("../../evil.dcm", b"x")])),
        ("bomb", zip_of(&[("bomb.dcm", &vec![0u8; 8 << 20])])),
        ("link", link),
        (
            "only non-DICOM",
            zip_of(&[("README.txt", b"hello"), ("thumb.png", b"\x89PNG....")]),
        ),
    ];
    for (what, bytes) in cases {
        let work = work_dir();
        let out = work.path().join("out");
        let err = analyze(
            bytes,
            &out,
            &AnalyzeOptions::default(),
            segmenter,
            &quiet(),
            &Cancel::default(),
        )
        .await
        .unwrap_err();
        let expected = match what {
            "not a zip" => matches!(err, ImagingError::Archive(ArchiveError::NotZip(_))),
            "traversal" => matches!(err, ImagingError::Archive(ArchiveError::UnsafePath(_))),
            "bomb" => matches!(err, ImagingError::Archive(ArchiveError::Ratio { .. })),
            "link" => matches!(err, ImagingError::Archive(ArchiveError::Link(_))),
            _ => matches!(err, ImagingError::NoImages { .. }),
        };
        assert!(expected, "{what}: {err}");
        assert!(!out.exists(), "{what}: something was written");
        assert!(!std::path::Path::new("../../evil.dcm").exists());
    }
    inference.stop().await;
}
