//! `pipeline`: our imaging pipeline against the Python way, in one invocation, on the same
//! zipped synthetic CT series (512×512×200 by default). Ours is the release `medrt
//! analyze`; the peer is `peer_pipeline.py` (pydicom + numpy + scipy + scikit-image
//! `marching_cubes` on the same padded masks + numpy-stl, same labels and thresholds).
//! Each runs as its own process, so wall time and peak RSS (from `wait4`) are its own.
//!
//! Run: `make bench`, or `cargo build --release --bin medrt && cargo bench -p
//! medrt-inference --bench pipeline -- [--size 512x512x200]` (needs `make models
//! test-data`).

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use medrt_inference::imaging::phantom::Phantom;
use serde_json::Value;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

struct Run {
    wall: Duration,
    peak_mib: f64,
    stdout: String,
}

/// Runs `command` to completion and reads its own peak RSS.
fn run(mut command: Command) -> Run {
    let started = Instant::now();
    // Reaped by `wait4` below, which also reports the child's own peak RSS.
    #[allow(clippy::zombie_processes)]
    let child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the program starts");
    let pid = child.id() as libc::pid_t;
    let mut stdout = child.stdout.expect("piped");
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut stdout, &mut text).expect("stdout");
        text
    });
    let mut status = 0;
    // SAFETY: rusage is plain data that wait4 fills in for our own child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let waited = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let wall = started.elapsed();
    assert_eq!(waited, pid, "wait4 failed");
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "{command:?} failed"
    );
    Run {
        wall,
        peak_mib: usage.ru_maxrss as f64 / 1024.0,
        stdout: reader.join().expect("reader"),
    }
}

fn medrt() -> PathBuf {
    std::env::var_os("MEDRT_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target/release/medrt"))
}

fn label<'a>(labels: &'a Value, name: &str) -> &'a Value {
    match labels {
        Value::Array(list) => list
            .iter()
            .find(|l| l["name"] == name)
            .unwrap_or(&Value::Null),
        Value::Object(map) => map.get(name).unwrap_or(&Value::Null),
        _ => &Value::Null,
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let size = args
        .iter()
        .position(|a| a == "--size")
        .and_then(|i| args.get(i + 1))
        .cloned()
        .unwrap_or_else(|| "512x512x200".into());
    let dims: Vec<usize> = size
        .split('x')
        .map(|d| d.parse().expect("--size CxRxS"))
        .collect();
    let phantom = Phantom {
        columns: dims[0],
        rows: dims[1],
        slices: dims[2],
        pixel_mm: 0.7,
        slice_mm: 1.25,
    };
    let work = std::env::temp_dir().join(format!("medrt-bench-pipeline-{}", std::process::id()));
    std::fs::create_dir_all(&work).expect("work folder");
    let zip = work.join("study.zip");
    eprintln!("writing a {size} phantom series…");
    let bytes = phantom
        .zip(|k| {
            if k % 50 == 0 {
                eprintln!("  {k} slices")
            }
        })
        .expect("phantom");
    std::fs::write(&zip, &bytes).expect("zip written");
    let expected = phantom.expected();

    let medrt_bin = medrt();
    assert!(
        medrt_bin.is_file(),
        "{} missing: cargo build --release --bin medrt",
        medrt_bin.display()
    );
    let ours_out = work.join("ours");
    let mut ours = Command::new(&medrt_bin);
    ours.current_dir(root())
        .env("MEDRT_CONFIG_DIR", root().join("config"))
        .env("MEDRT__LOG__FILTER", "warn")
        .args([
            "analyze",
            zip.to_str().unwrap(),
            "--out",
            ours_out.to_str().unwrap(),
        ]);
    eprintln!("ours: medrt analyze…");
    let ours = run(ours);
    let summary: Value =
        serde_json::from_slice(&std::fs::read(ours_out.join("summary.json")).expect("summary"))
            .expect("json");

    let peer_out = work.join("peer");
    let mut peer = Command::new(root().join(".venv/bin/python"));
    peer.arg(root().join("inference/benches/peer_pipeline.py"))
        .arg(&zip)
        .arg(&peer_out);
    eprintln!("peer: peer_pipeline.py…");
    let peer = run(peer);
    let peer_json: Value = serde_json::from_str(peer.stdout.trim()).expect("peer prints JSON");

    let t = &summary["timings"];
    let p = &peer_json["stages"];
    let secs = |v: &Value| v.as_f64().unwrap_or(f64::NAN);
    println!(
        "\n{size} synthetic CT ({:.1} MB zipped, {} slices), voxel {} × {} × {} mm\n",
        bytes.len() as f64 / 1e6,
        phantom.slices,
        phantom.pixel_mm,
        phantom.pixel_mm,
        phantom.slice_mm
    );
    println!("| stage | medrt | Python peer |\n|---|---:|---:|");
    for (name, ours_key, peer_key) in [
        ("parse (unzip + read DICOM)", "parse_s", "parse"),
        ("volume (HU)", "volume_s", "volume"),
        ("segment", "segment_s", "segment"),
        ("mesh (marching cubes, measures)", "mesh_s", "mesh"),
        ("write STL", "write_s", "write"),
        ("pipeline total", "total_s", ""),
    ] {
        let peer_s = if peer_key.is_empty() {
            secs(&peer_json["total_s"])
        } else {
            secs(&p[peer_key])
        };
        println!("| {name} | {:.2} s | {:.2} s |", secs(&t[ours_key]), peer_s);
    }
    println!(
        "| process wall time (start to exit) | {:.2} s | {:.2} s |",
        ours.wall.as_secs_f64(),
        peer.wall.as_secs_f64()
    );
    println!(
        "| peak RSS | {:.0} MiB | {:.0} MiB |",
        ours.peak_mib, peer.peak_mib
    );
    for (name, exact) in [("skin", expected.skin_ml), ("bone", expected.bone_ml)] {
        let (o, q) = (
            label(&summary["labels"], name),
            label(&peer_json["labels"], name),
        );
        println!(
            "| {name}: triangles | {} | {} |",
            o["triangles"], q["triangles"]
        );
        println!(
            "| {name}: volume (exact {exact:.1} ml) | {:.1} ml | {:.1} ml |",
            secs(&o["volume_ml"]),
            secs(&q["volume_ml"])
        );
    }
    let speedup = peer.wall.as_secs_f64() / ours.wall.as_secs_f64();
    let memory = ours.peak_mib / peer.peak_mib;
    let volume_gap = ["skin", "bone"]
        .iter()
        .map(|n| {
            let (o, q) = (
                secs(&label(&summary["labels"], n)["volume_ml"]),
                secs(&label(&peer_json["labels"], n)["volume_ml"]),
            );
            (o - q).abs() / q
        })
        .fold(0.0, f64::max);
    println!(
        "\nend to end: {speedup:.2}× faster (goal ≥ 5×); peak memory {memory:.2}× the peer's (goal ≤ 0.5×); volumes within {:.2} % of each other (goal ≤ 1 %)",
        volume_gap * 100.0
    );
    if !args.iter().any(|a| a == "--keep") {
        let _ = std::fs::remove_dir_all(&work);
    }
}
