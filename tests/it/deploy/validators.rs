//! systemd units, Kubernetes manifests and the Compose file against the real validators.

use super::*;

#[test]
fn systemd_units_pass_systemd_analyze_verify() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut paths = Vec::new();
    for unit in UNITS {
        let text = read(&format!("deploy/systemd/{unit}"));
        // ExecStart must name an executable that exists; the binary under test stands
        // in for /usr/local/bin/malgrupp.
        let text = text.replace("/usr/local/bin/malgrupp", BIN);
        let p = dir.path().join(unit);
        std::fs::write(&p, text).expect("write unit");
        paths.push(p);
    }
    let out = run_tool(
        Command::new("systemd-analyze")
            .args(["verify", "--man=no"])
            .args(&paths),
        "apt-get install systemd",
    );
    let stderr = text(&out.stderr);
    // systemd-analyze may warn about the host (other units, missing users, no running
    // manager); only lines about our units count.
    let ours: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("malgrupp") || l.contains(&*dir.path().to_string_lossy()))
        .collect();
    for l in stderr.lines().filter(|l| !ours.contains(l)) {
        eprintln!("systemd-analyze (not about our units, ignored): {l}");
    }
    assert!(
        out.status.success() && ours.is_empty(),
        "systemd-analyze verify failed ({}):\n{stderr}",
        out.status
    );

    // The service and the timer alternative: the timer triggers the one-shot run unit.
    let timer = read("deploy/systemd/malgrupp-run.timer");
    assert!(
        unit_lines(&timer, "Unit")
            .iter()
            .all(|u| *u == "malgrupp-run.service")
    );
    let serve = read("deploy/systemd/malgrupp.service");
    assert_eq!(unit_lines(&serve, "KillSignal"), ["SIGTERM"]);
    assert_eq!(unit_lines(&serve, "Restart"), ["on-failure"]);
    assert_eq!(
        unit_lines(&serve, "EnvironmentFile"),
        ["/etc/malgrupp/malgrupp.env"]
    );
    assert_eq!(
        duration_secs(unit_lines(&serve, "TimeoutStopSec")[0]),
        STOP_GRACE_SECS
    );
    // Room for every connection serve allows, with as much again for files.
    let nofile: usize = unit_lines(&serve, "LimitNOFILE")
        .first()
        .and_then(|n| n.parse().ok())
        .expect("LimitNOFILE=<number> in malgrupp.service");
    let connections = malgrupp::serve::MAX_CONNECTIONS
        + malgrupp::serve::MAX_HANDSHAKES
        + malgrupp::pgwire::MAX_SESSIONS
        + malgrupp::pgwire::MAX_HANDSHAKES;
    assert!(
        nofile >= 2 * connections,
        "LimitNOFILE={nofile}, {connections} connections"
    );
}

#[test]
fn kubernetes_manifests_pass_kubernetes_validate_strict() {
    for version in KUBERNETES_VERSIONS {
        let paths = MANIFESTS.map(|m| repo().join(m));
        let mut args: Vec<&std::ffi::OsStr> = vec![
            "--strict".as_ref(),
            "--kubernetes-version".as_ref(),
            version.as_ref(),
        ];
        args.extend(paths.iter().map(|p| p.as_os_str()));
        let out = python_module("kubernetes_validate", &args);
        let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
        assert!(
            out.status.success() && !all.contains("ERROR") && !all.contains("WARN"),
            "kubernetes-validate --strict -k {version} failed ({}):\n{all}",
            out.status
        );
        let passed = all.lines().filter(|l| l.contains(" passed ")).count();
        assert_eq!(passed, 6, "6 resources expected to pass:\n{all}");
    }
}

#[test]
fn compose_files_pass_the_compose_spec_schema() {
    for file in ["compose.yaml", "compose.s3.yaml"] {
        let compose = repo().join("deploy/docker").join(file);
        let out = python_module(
            "check_jsonschema",
            &[
                "--builtin-schema".as_ref(),
                "vendor.compose-spec".as_ref(),
                compose.as_os_str(),
            ],
        );
        assert!(
            out.status.success(),
            "{file} does not match the Compose Specification ({}):\n{}{}",
            out.status,
            text(&out.stdout),
            text(&out.stderr)
        );
    }
}

// ------------------------------------------------------------------ settings and binary
