use std::process::Command;

use medrt_tests::TestBackend;
use medrt_tests::process::medrt_binary;

fn medrt(args: &[&str], env: &[(&str, String)]) -> std::process::Output {
    let mut command = Command::new(medrt_binary());
    command
        .args(args)
        .env("MEDRT_CONFIG_DIR", medrt_tests::app::config_dir());
    for key in [
        "MEDRT_ENV",
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
