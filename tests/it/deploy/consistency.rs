//! The deploy files agree with each other and with the binary; the image's layout runs
//! the shipped pipelines.

use super::*;

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
        assert_hardened(doc, "containers[0]", &uid, &gid);
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

/// The image's file layout without Docker (see [`image_layout`]), `malgrupp run` from
/// WORKDIR. Catches paths and working-directory assumptions that only the container
/// would reveal.
#[test]
fn container_layout_runs_the_sample_pipelines() {
    let layout = image_layout("deploy/docker/malgrupp.toml");
    layout.run(&[]);
    let under = |p: &str| layout.under(p);
    let published = under("/var/lib/malgrupp/data/published");
    let files = std::fs::read_dir(&published)
        .unwrap_or_else(|e| panic!("nothing published at {}: {e}", published.display()))
        .count();
    assert!(files > 0, "the run published nothing");
}

/// The Kubernetes variant without a volume claim: the lake's home on S3 (`[lake] root`)
/// and its cache on an emptyDir at the image's volume, the S3 settings mounted where the
/// ENTRYPOINT reads them, no init container (`serve` brings an empty cache in itself,
/// tests/it/deploy/s3.rs), and `serve` running the schedules itself.
#[test]
fn the_kubernetes_variant_without_a_claim_keeps_the_lake_on_s3() {
    let img = image();
    let file = "deploy/kubernetes/object-storage.yaml";
    let doc = k8s_doc(file, "Deployment");
    let p = pod(&doc);
    assert!(!read(file).contains("persistentVolumeClaim"));
    assert_eq!(mount(&doc, "lake").0, img.volume);
    volume(&doc, "lake", "emptyDir.sizeLimit");
    let settings_path = &img.entrypoint[img
        .entrypoint
        .iter()
        .position(|a| a == "--config")
        .expect("--config")
        + 1];
    assert_eq!(
        mount(&doc, "settings"),
        (settings_path.clone(), Some("malgrupp.toml".to_string()))
    );
    assert_eq!(
        volume(&doc, "settings", "configMap.name"),
        "malgrupp-settings"
    );
    // The settings deploy/README.md makes that ConfigMap from: the container's, with the
    // lake's copy on S3.
    assert!(
        read("deploy/README.md").contains(
            "kubectl create configmap malgrupp-settings --from-file=malgrupp.toml=deploy/docker/malgrupp.s3.toml"
        )
    );
    let s3 = malgrupp::config::Settings::load(Some(&repo().join("deploy/docker/malgrupp.s3.toml")))
        .expect("malgrupp.s3.toml");
    assert!(
        matches!(
            s3.lake_store,
            Some(malgrupp::lake::location::Location::Object(_))
        ),
        "{:?}",
        s3.lake_store
    );
    assert!(s3.lake_root.starts_with(&img.volume));

    assert_eq!(doc.count(&format!("{p}.initContainers"), "name"), 0);
    // Bringing the lake in comes before serve listens: liveness waits until it answers.
    assert_eq!(
        doc.must(&format!("{p}.containers[0].startupProbe.httpGet.path")),
        "/healthz"
    );
    let patience: u64 = ["periodSeconds", "failureThreshold"]
        .iter()
        .map(|k| {
            doc.must(&format!("{p}.containers[0].startupProbe.{k}"))
                .parse::<u64>()
                .expect("a number")
        })
        .product();
    assert!(patience >= 600, "{patience} s to bring the lake in");
    let main = format!("{p}.containers[0]");
    let args = doc.list(&format!("{main}.args"));
    assert!(args.contains(&"serve".to_string()), "{args:?}");
    assert!(!args.contains(&"--no-scheduler".to_string()), "{args:?}");
    let mounts = |c: &str| {
        let m = format!("{c}.volumeMounts");
        (0..doc.count(&m, "name"))
            .map(|i| {
                (
                    doc.must(&format!("{m}[{i}].name")).to_string(),
                    doc.must(&format!("{m}[{i}].mountPath")).to_string(),
                )
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(
        mounts(&main),
        [
            ("lake", img.volume.as_str()),
            ("settings", settings_path.as_str()),
            ("pseudonym-key", "/run/secrets/malgrupp_pseudonym_key"),
            ("tmp", "/tmp"),
        ]
        .map(|(n, m)| (n.to_string(), m.to_string()))
    );
    assert_eq!(
        doc.must(&format!("{main}.envFrom[0].secretRef.name")),
        "malgrupp-s3"
    );
    let uid = img.user.split(':').next().expect("uid").to_string();
    let gid = img.user.split(':').nth(1).unwrap_or(&uid).to_string();
    assert_hardened(&doc, "containers[0]", &uid, &gid);
    assert_eq!(doc.must("spec.replicas"), "1");
    assert_eq!(doc.must("spec.strategy.type"), "Recreate");
}

/// The pod runs as the image's user `uid`:`gid`, never as root, and its `container` (a
/// path under the pod spec) with a read-only root, no privilege escalation, CPU and
/// memory requests and a memory limit.
fn assert_hardened(doc: &Doc, container: &str, uid: &str, gid: &str) {
    let p = pod(doc);
    let c = format!("{p}.{container}");
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
}
