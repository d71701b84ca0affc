//! The deployment files in `deploy/`, checked with the real validators where they exist:
//!
//! - `systemd-analyze verify` on the systemd units (with the test binary as ExecStart);
//! - `python3 -m kubernetes_validate --strict` on the Kubernetes manifests, against the oldest and the
//!   newest Kubernetes version we claim (schemas ship with the PyPI package, offline);
//! - `python3 -m check_jsonschema --builtin-schema vendor.compose-spec` on compose.yaml (the Compose
//!   Specification schema vendored in the PyPI package, offline);
//! - the Dockerfile structurally (no Docker engine runs here): COPY sources exist and pass
//!   the ignore file, non-root USER and slim base in the final stage, HEALTHCHECK, no
//!   secret in ENV/ARG;
//! - that the files agree with each other and with the binary: every command line they
//!   run is accepted by `malgrupp`, the container settings parse, and the image's layout
//!   (settings, WORKDIR, paths) runs the shipped pipelines.
//!
//! The validators are installed by `.ci/run`; a missing one fails its test with the
//! install command. YAML is read with python3's PyYAML (a dependency of
//! kubernetes-validate).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The binary every deploy file runs (as `/usr/local/bin/malgrupp` or `malgrupp`).
const BIN: &str = env!("CARGO_BIN_EXE_malgrupp");

/// Kubernetes versions the manifests must validate against: the oldest we claim (CronJob
/// `timeZone` is GA since 1.27) and the newest that kubernetes-validate ships.
const KUBERNETES_VERSIONS: [&str; 2] = ["1.29.0", "1.37.0"];

/// Grace period for a graceful shutdown, the same in every deploy file.
const STOP_GRACE_SECS: u64 = 600;

const PIP_HINT: &str = "pip install kubernetes-validate==1.37.0 check-jsonschema==0.39.0";

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(rel: &str) -> String {
    let p = repo().join(rel);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("cannot read {}: {e}", p.display()))
}

/// Runs a validator; a missing program fails with how to install it.
fn run_tool(cmd: &mut Command, install: &str) -> Output {
    let program = cmd.get_program().to_string_lossy().into_owned();
    match cmd.output() {
        Ok(out) => out,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            panic!("validator `{program}` is not installed ({install}); .ci/run installs it")
        }
        Err(e) => panic!("cannot run `{program}`: {e}"),
    }
}

/// Runs `python3 -m <module>` (no console-script shim needed on PATH); a missing module
/// fails with how to install it.
fn python_module(module: &str, args: &[&std::ffi::OsStr]) -> Output {
    let out = run_tool(
        Command::new("python3").args(["-m", module]).args(args),
        "python3 3.9 or later",
    );
    let stderr = text(&out.stderr);
    assert!(
        !stderr.contains(&format!("No module named {module}")),
        "validator `{module}` is not installed for python3 ({PIP_HINT}); .ci/run installs it"
    );
    out
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

// ------------------------------------------------------------------------------- YAML

/// Flattens every YAML document of a file into `path → scalar` (`a.b[0].c`); strings
/// as written, other scalars as JSON (`true`, `600`, `null`).
const FLATTEN_PY: &str = r#"
import json, sys, yaml
sys.stdout.reconfigure(encoding="utf-8")
def walk(doc, path, v):
    if isinstance(v, dict):
        for k, x in v.items():
            walk(doc, f"{path}.{k}" if path else str(k), x)
    elif isinstance(v, list):
        for i, x in enumerate(v):
            walk(doc, f"{path}[{i}]", x)
    else:
        s = v if isinstance(v, str) else json.dumps(v)
        print(f"{doc}\t{path}\t{json.dumps(s, ensure_ascii=False)[1:-1]}")
with open(sys.argv[1], encoding="utf-8") as f:
    for i, d in enumerate(yaml.safe_load_all(f)):
        if d is not None:
            walk(i, "", d)
"#;

/// One YAML document, flattened.
#[derive(Debug, Default)]
struct Doc(BTreeMap<String, String>);

impl Doc {
    fn get(&self, path: &str) -> Option<&str> {
        self.0.get(path).map(String::as_str)
    }

    fn must(&self, path: &str) -> &str {
        self.get(path)
            .unwrap_or_else(|| panic!("missing `{path}` in {:?}", self.get("kind")))
    }

    /// The scalars of a list: `path[0]`, `path[1]`, …
    fn list(&self, path: &str) -> Vec<String> {
        (0..)
            .map_while(|i| self.get(&format!("{path}[{i}]")).map(str::to_string))
            .collect()
    }

    /// How many entries a list of maps has (`path[i].<field>` present).
    fn count(&self, path: &str, field: &str) -> usize {
        (0..)
            .take_while(|i| self.get(&format!("{path}[{i}].{field}")).is_some())
            .count()
    }
}

fn yaml_docs(rel: &str) -> Vec<Doc> {
    let out = run_tool(
        Command::new("python3")
            .arg("-c")
            .arg(FLATTEN_PY)
            .arg(repo().join(rel)),
        "python3 with PyYAML, a dependency of kubernetes-validate",
    );
    let stderr = text(&out.stderr);
    assert!(
        !stderr.contains("No module named 'yaml'"),
        "PyYAML is not installed for python3 ({PIP_HINT} brings it); .ci/run installs it"
    );
    assert!(out.status.success(), "{rel} is not valid YAML: {stderr}");
    let mut docs: Vec<Doc> = Vec::new();
    for line in text(&out.stdout).lines() {
        let mut parts = line.splitn(3, '\t');
        let (Some(i), Some(path), Some(value)) = (parts.next(), parts.next(), parts.next()) else {
            panic!("unexpected flattener output: {line}");
        };
        let i: usize = i.parse().expect("document index");
        while docs.len() <= i {
            docs.push(Doc::default());
        }
        docs[i].0.insert(path.to_string(), unescape(value));
    }
    docs
}

/// Undoes the JSON string escapes the flattener writes (only `\\`, `\"`, `\n`, `\t`
/// can occur in our files).
fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some(other) => out.push(other),
                None => out.push('\\'),
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn k8s_doc(rel: &str, kind: &str) -> Doc {
    yaml_docs(rel)
        .into_iter()
        .find(|d| d.get("kind") == Some(kind))
        .unwrap_or_else(|| panic!("{rel} has no {kind}"))
}

// -------------------------------------------------------------------------- Dockerfile

/// One instruction of the Dockerfile (continuation lines joined, comments dropped).
#[derive(Debug, Clone)]
struct Instr {
    line: usize,
    keyword: String,
    args: String,
}

/// The Dockerfile's stages: the FROM instruction first, then the stage's instructions.
/// Instructions before the first FROM (global ARGs) form stage 0's prefix list.
fn dockerfile() -> (Vec<Instr>, Vec<Vec<Instr>>) {
    let text = read("deploy/docker/Dockerfile");
    let mut instrs = Vec::new();
    let mut current: Option<(usize, String)> = None;
    for (n, raw) in text.lines().enumerate() {
        let trimmed = raw.trim();
        if trimmed.starts_with('#') || (trimmed.is_empty() && current.is_none()) {
            continue;
        }
        let (start, mut acc) = current.take().unwrap_or((n + 1, String::new()));
        if let Some(body) = trimmed.strip_suffix('\\') {
            acc.push_str(body);
            acc.push(' ');
            current = Some((start, acc));
            continue;
        }
        acc.push_str(trimmed);
        let (keyword, args) = acc.split_once(char::is_whitespace).unwrap_or((&acc, ""));
        instrs.push(Instr {
            line: start,
            keyword: keyword.to_ascii_uppercase(),
            args: args.trim().to_string(),
        });
    }
    assert!(current.is_none(), "Dockerfile ends inside a continued line");
    let mut global = Vec::new();
    let mut stages: Vec<Vec<Instr>> = Vec::new();
    for i in instrs {
        if i.keyword == "FROM" {
            stages.push(vec![i]);
        } else if let Some(stage) = stages.last_mut() {
            stage.push(i);
        } else {
            global.push(i);
        }
    }
    (global, stages)
}

/// `["a", "b"]` (exec form, no escapes in our file) → `[a, b]`.
fn exec_form(args: &str) -> Vec<String> {
    let inner = args
        .trim()
        .strip_prefix('[')
        .and_then(|s| s.strip_suffix(']'))
        .unwrap_or_else(|| panic!("not in exec form (JSON array): {args}"));
    inner
        .split(',')
        .map(|s| {
            let s = s.trim();
            s.strip_prefix('"')
                .and_then(|s| s.strip_suffix('"'))
                .unwrap_or_else(|| panic!("not a JSON string: {s}"))
                .to_string()
        })
        .collect()
}

fn instr<'a>(stage: &'a [Instr], keyword: &str) -> Vec<&'a Instr> {
    stage.iter().filter(|i| i.keyword == keyword).collect()
}

fn last_instr<'a>(stage: &'a [Instr], keyword: &str) -> &'a Instr {
    instr(stage, keyword)
        .last()
        .copied()
        .unwrap_or_else(|| panic!("the final stage has no {keyword}"))
}

/// ENTRYPOINT, CMD and the HEALTHCHECK command of the final stage.
struct Image {
    entrypoint: Vec<String>,
    cmd: Vec<String>,
    healthcheck: Vec<String>,
    user: String,
    volume: String,
    expose: String,
}

fn image() -> Image {
    let (_, stages) = dockerfile();
    let last = stages.last().expect("the Dockerfile has a FROM");
    let hc = &last_instr(last, "HEALTHCHECK").args;
    let cmd_at = hc
        .find(" CMD ")
        .unwrap_or_else(|| panic!("HEALTHCHECK without CMD: {hc}"));
    Image {
        entrypoint: exec_form(&last_instr(last, "ENTRYPOINT").args),
        cmd: exec_form(&last_instr(last, "CMD").args),
        healthcheck: exec_form(&hc[cmd_at + 5..]),
        user: last_instr(last, "USER").args.clone(),
        volume: exec_form(&last_instr(last, "VOLUME").args).concat(),
        expose: last_instr(last, "EXPOSE").args.clone(),
    }
}

/// Splits an instruction's arguments into `--flag=value` options and the rest.
fn flags_and_words(args: &str) -> (Vec<&str>, Vec<&str>) {
    args.split_whitespace().partition(|w| w.starts_with("--"))
}

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

const UNITS: [&str; 3] = [
    "malgrupp.service",
    "malgrupp-run.service",
    "malgrupp-run.timer",
];

fn unit_lines<'a>(unit: &'a str, key: &str) -> Vec<&'a str> {
    unit.lines()
        .filter_map(|l| l.trim().strip_prefix(key)?.strip_prefix('='))
        .collect()
}

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
}

/// `10min`, `10m`, `600s`, `600` → seconds.
fn duration_secs(s: &str) -> u64 {
    let s = s.trim();
    let digits: String = s.chars().take_while(char::is_ascii_digit).collect();
    let n: u64 = digits
        .parse()
        .unwrap_or_else(|_| panic!("not a duration: {s}"));
    match &s[digits.len()..] {
        "" | "s" => n,
        "m" | "min" => n * 60,
        "h" => n * 3600,
        unit => panic!("unexpected duration unit in {s}: {unit}"),
    }
}

// -------------------------------------------------------------------------- Kubernetes

const MANIFESTS: [&str; 3] = [
    "deploy/kubernetes/pvc.yaml",
    "deploy/kubernetes/cronjob.yaml",
    "deploy/kubernetes/deployment.yaml",
];

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
        assert_eq!(passed, 4, "4 resources expected to pass:\n{all}");
    }
}

/// The pod spec of a Deployment or CronJob, its container 0, and the doc.
fn pod(doc: &Doc) -> String {
    match doc.must("kind") {
        "CronJob" => "spec.jobTemplate.spec.template.spec".into(),
        "Deployment" => "spec.template.spec".into(),
        kind => panic!("no pod in a {kind}"),
    }
}

/// The mount path of the volume mount named `name` in container 0.
fn mount(doc: &Doc, name: &str) -> (String, Option<String>) {
    let c = format!("{}.containers[0].volumeMounts", pod(doc));
    (0..doc.count(&c, "name"))
        .find(|i| doc.get(&format!("{c}[{i}].name")) == Some(name))
        .map(|i| {
            (
                doc.must(&format!("{c}[{i}].mountPath")).to_string(),
                doc.get(&format!("{c}[{i}].subPath")).map(str::to_string),
            )
        })
        .unwrap_or_else(|| panic!("no volume mount {name}"))
}

/// The volume named `name` of the pod: its field `field` (e.g. `persistentVolumeClaim.claimName`).
fn volume<'a>(doc: &'a Doc, name: &str, field: &str) -> &'a str {
    let v = format!("{}.volumes", pod(doc));
    let i = (0..doc.count(&v, "name"))
        .find(|i| doc.get(&format!("{v}[{i}].name")) == Some(name))
        .unwrap_or_else(|| panic!("no volume {name}"));
    doc.must(&format!("{v}[{i}].{field}"))
}

#[test]
fn deploy_files_agree_with_each_other() {
    let img = image();
    let settings = container_settings();
    let key_file = match &settings.key_source {
        malgrupp::normalize::pseudonym::KeySource::File { path, .. } => path.clone(),
        other => panic!("the container reads the key from a file, not {other:?}"),
    };
    let uid = img.user.split(':').next().expect("uid").to_string();
    let gid = img.user.split(':').nth(1).unwrap_or(&uid).to_string();
    let port = img.expose.clone();
    assert_eq!(settings.serve.listen.port().to_string(), port);
    assert!(settings.lake_root.starts_with(&img.volume));

    // Kubernetes: the image's user, volume, key path and port; one PVC name.
    let pvc = k8s_doc("deploy/kubernetes/pvc.yaml", "PersistentVolumeClaim");
    let cron = k8s_doc("deploy/kubernetes/cronjob.yaml", "CronJob");
    let deploy = k8s_doc("deploy/kubernetes/deployment.yaml", "Deployment");
    let service = k8s_doc("deploy/kubernetes/deployment.yaml", "Service");
    for doc in [&cron, &deploy] {
        let p = pod(doc);
        let c = format!("{p}.containers[0]");
        assert_eq!(
            doc.must(&format!("{p}.securityContext.runAsNonRoot")),
            "true"
        );
        assert_eq!(doc.must(&format!("{p}.securityContext.runAsUser")), uid);
        assert_eq!(doc.must(&format!("{p}.securityContext.runAsGroup")), gid);
        assert_eq!(doc.must(&format!("{p}.securityContext.fsGroup")), gid);
        assert_eq!(
            doc.must(&format!("{c}.securityContext.readOnlyRootFilesystem")),
            "true"
        );
        assert_eq!(
            doc.must(&format!("{c}.securityContext.allowPrivilegeEscalation")),
            "false"
        );
        for r in ["requests.cpu", "requests.memory", "limits.memory"] {
            doc.must(&format!("{c}.resources.{r}"));
        }
        assert_eq!(mount(doc, "lake").0, img.volume);
        assert_eq!(
            volume(doc, "lake", "persistentVolumeClaim.claimName"),
            pvc.must("metadata.name")
        );
        let (key_path, sub) = mount(doc, "pseudonym-key");
        assert_eq!(Path::new(&key_path), key_file);
        assert_eq!(sub.as_deref(), Some("pseudonym.key"));
        assert_eq!(
            volume(doc, "pseudonym-key", "secret.secretName"),
            "malgrupp"
        );
        assert_eq!(mount(doc, "tmp").0, "/tmp");
    }
    assert_eq!(pvc.must("spec.accessModes[0]"), "ReadWriteOnce");
    assert_eq!(cron.must("spec.timeZone"), "Europe/Stockholm");
    assert_eq!(cron.must("spec.concurrencyPolicy"), "Forbid");
    for f in [
        "spec.startingDeadlineSeconds",
        "spec.successfulJobsHistoryLimit",
        "spec.failedJobsHistoryLimit",
    ] {
        cron.must(f);
    }
    assert_eq!(deploy.must("spec.replicas"), "1");
    assert_eq!(deploy.must("spec.strategy.type"), "Recreate");
    let c = "spec.template.spec.containers[0]";
    assert_eq!(
        deploy.must(&format!("{c}.livenessProbe.httpGet.path")),
        "/healthz"
    );
    assert_eq!(
        deploy.must(&format!("{c}.readinessProbe.httpGet.path")),
        "/readyz"
    );
    assert_eq!(deploy.must(&format!("{c}.ports[0].containerPort")), port);
    assert_eq!(
        deploy.must(&format!("{c}.env[0].name")),
        settings.serve.tokens_env
    );
    assert_eq!(
        deploy
            .must("spec.template.spec.terminationGracePeriodSeconds")
            .parse::<u64>()
            .expect("seconds"),
        STOP_GRACE_SECS
    );
    assert_eq!(service.must("spec.ports[0].port"), port);

    // Compose: the image's command, healthcheck, volume, key path and port.
    let compose = &yaml_docs("deploy/docker/compose.yaml")[0];
    let s = "services.malgrupp";
    assert_eq!(compose.list(&format!("{s}.command")), img.cmd);
    assert_eq!(
        compose.list(&format!("{s}.healthcheck.test")),
        [vec!["CMD".to_string()], img.healthcheck.clone()].concat()
    );
    assert_eq!(
        compose.must(&format!("{s}.volumes[0]")),
        format!("lake:{}", img.volume)
    );
    assert_eq!(
        Path::new("/run/secrets").join(compose.must(&format!("{s}.secrets[0].target"))),
        key_file
    );
    assert!(
        compose
            .must(&format!("{s}.ports[0]"))
            .ends_with(&format!(":{port}:{port}"))
    );
    assert_eq!(
        duration_secs(compose.must(&format!("{s}.stop_grace_period"))),
        STOP_GRACE_SECS
    );
    assert_eq!(compose.must(&format!("{s}.stop_signal")), "SIGTERM");
    compose.must(&format!("{s}.restart"));
    let env_file = compose.must(&format!("{s}.env_file[0]"));
    let example = read(&format!("deploy/docker/{env_file}.example"));
    assert!(
        example
            .lines()
            .any(|l| l == format!("{}=", settings.serve.tokens_env)),
        "{env_file}.example names {} with an empty value",
        settings.serve.tokens_env
    );
}

// ---------------------------------------------------------------------------- compose

#[test]
fn compose_file_passes_the_compose_spec_schema() {
    let compose = repo().join("deploy/docker/compose.yaml");
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
        "compose.yaml does not match the Compose Specification ({}):\n{}{}",
        out.status,
        text(&out.stdout),
        text(&out.stderr)
    );
}

// ------------------------------------------------------------------ settings and binary

fn container_settings() -> malgrupp::config::Settings {
    let path = repo().join("deploy/docker/malgrupp.toml");
    malgrupp::config::Settings::load(Some(&path))
        .unwrap_or_else(|e| panic!("deploy/docker/malgrupp.toml is not valid: {e}"))
}

#[test]
fn container_settings_file_is_valid() {
    let s = container_settings();
    assert_eq!(s.lake_root, Path::new("/var/lib/malgrupp/data"));
    assert_eq!(s.pipelines_dir, Path::new("/opt/malgrupp/pipelines"));
    assert_eq!(s.sql_dir, Path::new("/opt/malgrupp/sql"));
    assert_eq!(s.agreements_dir, Path::new("/opt/malgrupp/agreements"));
    assert!(
        matches!(
            &s.key_source,
            malgrupp::normalize::pseudonym::KeySource::File { explicit: true, .. }
        ),
        "the container must name its key file: {:?}",
        s.key_source
    );
}

/// Every `malgrupp …` command line in the deploy files, without the program.
fn command_lines() -> Vec<(String, Vec<String>)> {
    let img = image();
    let mut lines = vec![
        (
            "Dockerfile ENTRYPOINT + CMD".to_string(),
            [&img.entrypoint[1..], &img.cmd[..]].concat(),
        ),
        (
            "Dockerfile HEALTHCHECK".into(),
            img.healthcheck[1..].to_vec(),
        ),
    ];
    let compose = &yaml_docs("deploy/docker/compose.yaml")[0];
    lines.push((
        "compose command".into(),
        [
            &img.entrypoint[1..],
            &compose.list("services.malgrupp.command")[..],
        ]
        .concat(),
    ));
    lines.push((
        "compose healthcheck".into(),
        compose.list("services.malgrupp.healthcheck.test")[2..].to_vec(),
    ));
    for (file, kind) in [
        ("deploy/kubernetes/cronjob.yaml", "CronJob"),
        ("deploy/kubernetes/deployment.yaml", "Deployment"),
    ] {
        let doc = k8s_doc(file, kind);
        let args = doc.list(&format!("{}.containers[0].args", pod(&doc)));
        lines.push((
            format!("{file} args"),
            [&img.entrypoint[1..], &args[..]].concat(),
        ));
    }
    for unit in ["malgrupp.service", "malgrupp-run.service"] {
        let text = read(&format!("deploy/systemd/{unit}"));
        for exec in unit_lines(&text, "ExecStart") {
            let mut words = exec.split_whitespace().map(str::to_string);
            assert_eq!(words.next().as_deref(), Some("/usr/local/bin/malgrupp"));
            lines.push((format!("{unit} ExecStart"), words.collect()));
        }
    }
    lines
}

#[test]
fn every_command_line_in_deploy_is_accepted_by_the_binary() {
    let mut rejected = Vec::new();
    for (place, args) in command_lines() {
        // `--help` parses everything before it (subcommand, flags, values) and then
        // stops: nothing runs, no settings are read.
        let out = Command::new(BIN)
            .args(&args)
            .arg("--help")
            .output()
            .expect("run the binary");
        if !out.status.success() {
            rejected.push(format!(
                "{place}: `malgrupp {}` → {}",
                args.join(" "),
                text(&out.stderr).lines().next().unwrap_or("").trim()
            ));
        }
    }
    assert!(
        rejected.is_empty(),
        "the binary rejects command lines of the deploy files:\n{}",
        rejected.join("\n")
    );
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read_dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

/// The image's file layout without Docker: the COPYed folders under `<tmp>/opt/malgrupp`,
/// the container settings with `/opt`, `/var/lib` and `/run/secrets` moved under `<tmp>`,
/// `malgrupp run` from WORKDIR. Catches paths and working-directory assumptions that
/// only the container would reveal.
#[test]
fn container_layout_runs_the_sample_pipelines() {
    let (_, stages) = dockerfile();
    let last = stages.last().expect("stages");
    let workdir = last_instr(last, "WORKDIR").args.clone();
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path();
    let under = |p: &str| root.join(p.trim_start_matches('/'));
    for c in instr(last, "COPY") {
        let (flags, words) = flags_and_words(&c.args);
        if flags.iter().any(|f| f.starts_with("--from=")) {
            continue;
        }
        let (dest, srcs) = words.split_last().expect("COPY dest");
        for src in srcs {
            let from = repo().join(src);
            if from.is_dir() {
                copy_dir(&from, &under(dest));
            } else {
                std::fs::create_dir_all(under(dest).parent().expect("parent")).expect("mkdir");
                std::fs::copy(&from, under(dest)).expect("copy");
            }
        }
    }
    let settings_path = under("/etc/malgrupp/malgrupp.toml");
    let settings = std::fs::read_to_string(&settings_path).expect("settings copied by COPY");
    let root_s = root.to_string_lossy();
    let settings = settings
        .replace("\"/opt/", &format!("\"{root_s}/opt/"))
        .replace("\"/var/lib/", &format!("\"{root_s}/var/lib/"))
        .replace("\"/run/secrets/", &format!("\"{root_s}/run/secrets/"));
    std::fs::write(&settings_path, settings).expect("write settings");
    // The image creates the lake directory (owned by the malgrupp user) before VOLUME.
    std::fs::create_dir_all(under("/var/lib/malgrupp/data")).expect("mkdir lake");
    let key = under("/run/secrets/malgrupp_pseudonym_key");
    std::fs::create_dir_all(key.parent().expect("parent")).expect("mkdir");
    std::fs::write(&key, format!("{}\n", "5a".repeat(32))).expect("key");

    let out = Command::new(BIN)
        .arg("--config")
        .arg(&settings_path)
        .arg("run")
        .current_dir(under(&workdir))
        .output()
        .expect("run the binary");
    assert!(
        out.status.success(),
        "`malgrupp run` in the image's layout failed ({}):\n{}\n{}",
        out.status,
        text(&out.stdout),
        text(&out.stderr)
    );
    let published = under("/var/lib/malgrupp/data/published");
    let files = std::fs::read_dir(&published)
        .unwrap_or_else(|e| panic!("nothing published at {}: {e}", published.display()))
        .count();
    assert!(files > 0, "the run published nothing");
}
