//! The Dockerfile, checked structurally (no Docker engine runs here).

use super::*;

#[test]
fn dockerfile_is_well_formed() {
    let (global, stages) = dockerfile();
    assert!(stages.len() >= 2, "expected a multi-stage build");

    // Builder: the toolchain named by the global ARG, not older than rust-version.
    let rust_arg = global
        .iter()
        .find(|i| i.keyword == "ARG" && i.args.starts_with("RUST_VERSION="))
        .expect("a global ARG RUST_VERSION=…");
    let rust = rust_arg.args["RUST_VERSION=".len()..].to_string();
    let builder_from = &stages[0][0].args;
    assert!(
        builder_from.starts_with("rust:${RUST_VERSION}-bookworm"),
        "builder: {builder_from}"
    );
    let manifest = read("Cargo.toml");
    let msrv = manifest
        .lines()
        .find_map(|l| l.strip_prefix("rust-version = "))
        .map(|v| v.trim_matches('"').to_string())
        .expect("rust-version in Cargo.toml");
    let version = |v: &str| -> Vec<u32> {
        v.split('.')
            .map(|p| p.parse().expect("numeric version"))
            .collect()
    };
    assert!(
        version(&rust) >= version(&msrv),
        "the image builds with Rust {rust}, Cargo.toml needs {msrv}"
    );
    let builds: Vec<_> = instr(&stages[0], "RUN")
        .into_iter()
        .filter(|i| i.args.contains("cargo build"))
        .collect();
    assert!(
        builds.len() >= 2
            && builds
                .iter()
                .all(|i| i.args.contains("--release") && i.args.contains("--locked")),
        "dependencies and crate are built in separate layers with --release --locked: {builds:?}"
    );

    // Final stage: slim base, non-root user, healthcheck, the specified entry point.
    let last = stages.last().expect("stages");
    let base = last[0].args.split_whitespace().next().expect("FROM image");
    assert_eq!(base, "debian:bookworm-slim", "runtime base");
    let user = &last_instr(last, "USER").args;
    let uid = user.split(':').next().expect("uid");
    assert!(
        !["root", "0", ""].contains(&uid),
        "the final stage must run as a non-root user, not `{user}`"
    );
    let img = image();
    assert_eq!(
        img.entrypoint,
        ["malgrupp", "--config", "/etc/malgrupp/malgrupp.toml"]
    );
    assert_eq!(img.cmd, ["serve", "--listen", "0.0.0.0:8080"]);
    assert_eq!(img.expose, "8080");
    assert_eq!(img.volume, "/var/lib/malgrupp");
    assert_eq!(img.healthcheck[0], "malgrupp");
    let apt: Vec<_> = instr(last, "RUN")
        .into_iter()
        .filter(|i| i.args.contains("apt-get install"))
        .collect();
    for i in &apt {
        let pkgs: Vec<_> =
            i.args
                .split("--no-install-recommends")
                .nth(1)
                .map_or_else(Vec::new, |rest| {
                    rest.split("&&")
                        .next()
                        .unwrap_or("")
                        .split_whitespace()
                        .collect()
                });
        assert_eq!(
            pkgs,
            ["ca-certificates"],
            "runtime packages (line {})",
            i.line
        );
    }

    // COPY sources: exist in the repository and are let in by the ignore file.
    let ignore = read("deploy/docker/Dockerfile.dockerignore");
    let rules: Vec<&str> = ignore
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    assert_eq!(rules.first(), Some(&"*"), "the ignore file is an allowlist");
    let allowed: Vec<&str> = rules.iter().filter_map(|r| r.strip_prefix('!')).collect();
    for never in [
        "data",
        ".malgrupp",
        "target",
        "deploy/docker/secrets",
        ".git",
    ] {
        assert!(
            !allowed
                .iter()
                .any(|a| *a == never || never.starts_with(&format!("{a}/"))),
            "the ignore file lets in {never}"
        );
    }
    for stage in &stages {
        for c in instr(stage, "COPY").into_iter().chain(instr(stage, "ADD")) {
            let (flags, words) = flags_and_words(&c.args);
            if flags.iter().any(|f| f.starts_with("--from=")) {
                continue;
            }
            assert!(words.len() >= 2, "line {}: COPY without a source", c.line);
            for src in &words[..words.len() - 1] {
                assert!(
                    repo().join(src).exists(),
                    "line {}: COPY source {src} does not exist in the repository",
                    c.line
                );
                assert!(
                    allowed
                        .iter()
                        .any(|a| src == a || src.starts_with(&format!("{a}/"))),
                    "line {}: COPY source {src} is excluded by Dockerfile.dockerignore",
                    c.line
                );
                for secret in [".malgrupp", "data", "secrets", ".env", ".key"] {
                    assert!(
                        !src.contains(secret),
                        "line {}: COPY {src} could bake a secret or the lake into the image",
                        c.line
                    );
                }
            }
        }
    }

    // No secret baked in: no ENV/ARG whose name says key, token, secret or password.
    for i in global.iter().chain(stages.iter().flatten()) {
        if i.keyword != "ENV" && i.keyword != "ARG" {
            continue;
        }
        let upper = i.args.to_ascii_uppercase();
        for word in ["KEY", "TOKEN", "SECRET", "PASSWORD"] {
            assert!(
                !upper.contains(word),
                "line {}: {} {} would bake a secret into the image (pass it at run time)",
                i.line,
                i.keyword,
                i.args
            );
        }
    }
}

// ----------------------------------------------------------------------------- systemd
