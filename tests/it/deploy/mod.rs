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

const MANIFESTS: [&str; 4] = [
    "deploy/kubernetes/pvc.yaml",
    "deploy/kubernetes/cronjob.yaml",
    "deploy/kubernetes/deployment.yaml",
    "deploy/kubernetes/object-storage.yaml",
];

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

fn container_settings() -> malgrupp::config::Settings {
    let path = repo().join("deploy/docker/malgrupp.toml");
    malgrupp::config::Settings::load(Some(&path))
        .unwrap_or_else(|e| panic!("deploy/docker/malgrupp.toml is not valid: {e}"))
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
    for (file, kind, container) in [
        ("deploy/kubernetes/cronjob.yaml", "CronJob", "containers[0]"),
        (
            "deploy/kubernetes/deployment.yaml",
            "Deployment",
            "containers[0]",
        ),
        (
            "deploy/kubernetes/object-storage.yaml",
            "Deployment",
            "containers[0]",
        ),
        (
            "deploy/kubernetes/object-storage.yaml",
            "Deployment",
            "initContainers[0]",
        ),
    ] {
        let doc = k8s_doc(file, kind);
        let args = doc.list(&format!("{}.{container}.args", pod(&doc)));
        lines.push((
            format!("{file} {container} args"),
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

/// The image's file layout under a temporary root: the COPYed folders under
/// `<root>/opt/malgrupp`, the settings file `settings` (the repository path of what is
/// at /etc/malgrupp/malgrupp.toml: the image's own, or one compose mounts over it) with
/// `/opt`, `/var/lib` and `/run/secrets` moved under the root, the lake directory and a
/// pseudonymization key.
struct Layout {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    /// Where the settings file is.
    settings: PathBuf,
    /// The image's WORKDIR.
    workdir: String,
}

impl Layout {
    /// `p`, an absolute path in the image, under the root.
    fn under(&self, p: &str) -> PathBuf {
        self.root.join(p.trim_start_matches('/'))
    }

    /// `malgrupp run` with these settings from WORKDIR, `env` added; it must succeed.
    fn run(&self, env: &[(String, String)]) {
        self.malgrupp(&["run"], env);
    }

    /// `malgrupp ARGS` with these settings from WORKDIR, `env` added; it must succeed.
    /// Returns its output.
    /// `malgrupp ARGS` as the image runs it, not started yet.
    fn command(&self, args: &[&str], env: &[(String, String)]) -> Command {
        let mut c = Command::new(BIN);
        c.arg("--config")
            .arg(&self.settings)
            .args(args)
            .current_dir(self.under(&self.workdir))
            .envs(env.iter().cloned());
        c
    }

    fn malgrupp(&self, args: &[&str], env: &[(String, String)]) -> String {
        let out = self.command(args, env).output().expect("run the binary");
        assert!(
            out.status.success(),
            "`malgrupp {}` in the image's layout failed ({}):\n{}\n{}",
            args.join(" "),
            out.status,
            text(&out.stdout),
            text(&out.stderr)
        );
        text(&out.stdout)
    }
}

fn image_layout(settings: &str) -> Layout {
    let (_, stages) = dockerfile();
    let last = stages.last().expect("stages");
    let workdir = last_instr(last, "WORKDIR").args.clone();
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path().to_path_buf();
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
    assert!(
        settings_path.is_file(),
        "the Dockerfile COPYs no /etc/malgrupp/malgrupp.toml"
    );
    let text = read(settings);
    let root_s = root.to_string_lossy();
    let text = text
        .replace("\"/opt/", &format!("\"{root_s}/opt/"))
        .replace("\"/var/lib/", &format!("\"{root_s}/var/lib/"))
        .replace("\"/run/secrets/", &format!("\"{root_s}/run/secrets/"));
    std::fs::write(&settings_path, text).expect("write settings");
    // The image creates the lake directory (owned by the malgrupp user) before VOLUME.
    std::fs::create_dir_all(under("/var/lib/malgrupp/data")).expect("mkdir lake");
    let key = under("/run/secrets/malgrupp_pseudonym_key");
    std::fs::create_dir_all(key.parent().expect("parent")).expect("mkdir");
    std::fs::write(&key, format!("{}\n", "5a".repeat(32))).expect("key");
    Layout {
        _tmp: tmp,
        root,
        settings: settings_path,
        workdir,
    }
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

mod consistency;
mod docker;
mod s3;
mod validators;
