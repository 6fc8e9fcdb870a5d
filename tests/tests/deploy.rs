//! The deployment files validate offline — compose against the compose specification, Kubernetes
//! core resources with kubernetes-validate (strict), KEDA and Gateway API resources with their
//! published schemas — and describe the system we ship: every worker type deployed and scaled on
//! its own queue, POST routed to the gateway and the rest to status, probes, resources, non-root
//! images, and a Grafana dashboard that only queries metrics the services export.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use userhub_domain::TaskAction;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn tool(name: &str) -> PathBuf {
    let path = root().join(".tools/venv/bin").join(name);
    assert!(
        path.exists(),
        "{} is missing: run `bash scripts/test-tools.sh` (make test does)",
        path.display()
    );
    path
}

fn run(command: &mut Command) -> String {
    let output = command.current_dir(root()).output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "{command:?} failed:\n{text}");
    text
}

/// The YAML documents of a file, as JSON.
fn yaml(path: &str) -> Vec<Value> {
    let script = root().join("tests/js/yaml-to-json.mjs");
    let text = run(Command::new("node").arg(script).arg(root().join(path)));
    serde_json::from_str(&text).unwrap()
}

fn worker_name(action: TaskAction) -> String {
    format!("worker-{}", action.as_str().replace('_', "-"))
}

#[test]
fn compose_validates_and_runs_every_part_of_the_system() {
    run(Command::new(tool("check-jsonschema"))
        .args(["--builtin-schema", "vendor.compose-spec"])
        .arg("deploy/compose.yaml"));
    let compose = yaml("deploy/compose.yaml").remove(0);
    let services = compose["services"].as_object().unwrap();
    for name in [
        "postgres",
        "rabbitmq",
        "migrate",
        "gateway",
        "status",
        "edge",
        "prometheus",
        "grafana",
    ] {
        assert!(services.contains_key(name), "no {name} service");
    }
    for action in TaskAction::ALL {
        let worker = &services[&worker_name(action)];
        assert_eq!(worker["command"][0], "worker");
        assert_eq!(worker["command"][1], action.as_str());
        assert_eq!(worker["image"], "userhub:latest");
    }
    assert_eq!(services["gateway"]["command"][0], "gateway");
    assert_eq!(services["status"]["command"][0], "status");
    assert_eq!(
        services["gateway"]["depends_on"]["migrate"]["condition"],
        "service_completed_successfully"
    );
    let operator_token = services["status"]["environment"]["USERHUB__OPS__OPERATOR_TOKEN"]
        .as_str()
        .unwrap();
    assert!(operator_token.contains(":?"), "the token must be given");
    let grafana_password = services["grafana"]["environment"]["GF_SECURITY_ADMIN_PASSWORD"]
        .as_str()
        .unwrap();
    assert!(
        grafana_password.contains(":?"),
        "no default Grafana password"
    );
    // No usable default credential or cookie: each must be given.
    let gateway_env = &services["gateway"]["environment"];
    let required = [
        &services["postgres"]["environment"]["POSTGRES_PASSWORD"],
        &services["rabbitmq"]["environment"]["RABBITMQ_DEFAULT_PASS"],
        &services["rabbitmq"]["environment"]["RABBITMQ_ERLANG_COOKIE"],
        &gateway_env["USERHUB__DATABASE__URL"],
        &gateway_env["USERHUB__BROKER__URL"],
    ];
    for value in required {
        let value = value.as_str().unwrap();
        assert!(value.contains(":?"), "a default is usable: {value}");
    }
    // Metrics on a port of their own (never published); client addresses from the edge alone.
    assert_eq!(gateway_env["USERHUB__HTTP__METRICS_ADDR"], "0.0.0.0:9464");
    assert_eq!(
        gateway_env["USERHUB__HTTP__TRUSTED_PROXIES"],
        services["edge"]["networks"]["default"]["ipv4_address"]
    );
    assert_eq!(
        gateway_env["USERHUB__HTTP__CLIENT_ADDRESS_HEADER"],
        "X-Forwarded-For"
    );
    // Only the API is published beyond this machine.
    for (name, service) in services {
        for port in service["ports"].as_array().into_iter().flatten() {
            let port = port.as_str().unwrap();
            assert!(
                name == "edge" || port.starts_with("127.0.0.1:"),
                "{name} publishes {port} on every interface"
            );
        }
    }

    // The edge routes by method; Prometheus finds every worker type.
    let edge = std::fs::read_to_string(root().join("deploy/edge/nginx.conf")).unwrap();
    assert!(edge.contains("POST    gateway;") && edge.contains("default status;"));
    assert!(
        edge.contains("PUT     gateway;"),
        "the HelpCrunch endpoint is a PUT"
    );
    assert!(edge.contains("proxy_request_buffering off;"));
    assert!(edge.contains("X-Forwarded-For $proxy_add_x_forwarded_for"));
    let prometheus = yaml("deploy/prometheus/prometheus.yml").remove(0);
    let names: BTreeSet<String> = prometheus["scrape_configs"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|job| {
            job["dns_sd_configs"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .flat_map(|config| config["names"].as_array().cloned().unwrap())
        .map(|name| name.as_str().unwrap().to_owned())
        .collect();
    let workers: BTreeSet<String> = TaskAction::ALL.into_iter().map(worker_name).collect();
    assert_eq!(names, workers);
}

#[test]
fn kubernetes_manifests_validate_and_scale_each_worker_on_its_queue() {
    let core = [
        "namespace.yaml",
        "config.yaml",
        "secret.yaml",
        "migrate-job.yaml",
        "gateway.yaml",
        "status.yaml",
        "workers.yaml",
        "networkpolicy.yaml",
    ];
    // The example Secret's operator token is a placeholder the server refuses to start with.
    let secret = yaml("deploy/k8s/secret.yaml").remove(0);
    let mut settings = userhub_server::settings::Settings::default();
    settings.ops.operator_token = secret["stringData"]["operator-token"]
        .as_str()
        .map(str::to_owned);
    assert!(settings.ops.operator_token.is_some());
    assert!(
        settings.validate().is_err(),
        "the placeholder operator token passes validation"
    );
    let report = run(Command::new(tool("kubernetes-validate"))
        .arg("--strict")
        .args(core.iter().map(|file| format!("deploy/k8s/{file}"))));
    assert!(
        !report.contains("ERROR") && !report.contains("WARN"),
        "{report}"
    );
    assert_eq!(
        report.matches(" passed for resource ").count(),
        8 + TaskAction::ALL.len() + 5,
        "{report}"
    );
    let crds = run(Command::new("node")
        .arg("tests/js/validate-crds.mjs")
        .arg("deploy/k8s/keda.yaml")
        .arg("deploy/k8s/httproute.yaml"));
    assert_eq!(
        crds.matches("ok ").count(),
        2 + TaskAction::ALL.len(),
        "{crds}"
    );

    // The broker and database for operator-run clusters (deploy/k8s/data): CloudNativePG's
    // Cluster and Pooler against their schemas; the RabbitmqCluster (no published model) by the
    // fields userhub relies on.
    let data = run(Command::new("node")
        .arg("tests/js/validate-crds.mjs")
        .arg("deploy/k8s/data/postgres.yaml"));
    assert_eq!(data.matches("ok ").count(), 2, "{data}");
    let postgres = yaml("deploy/k8s/data/postgres.yaml");
    assert_eq!(postgres[0]["spec"]["instances"], 3);
    assert_eq!(
        postgres[1]["spec"]["cluster"]["name"],
        postgres[0]["metadata"]["name"]
    );
    assert_eq!(
        postgres[1]["spec"]["pgbouncer"]["poolMode"], "session",
        "userhub prepares statements per connection"
    );
    let rabbit = yaml("deploy/k8s/data/rabbitmq.yaml").remove(0);
    assert_eq!(rabbit["apiVersion"], "rabbitmq.com/v1beta1");
    assert_eq!(rabbit["kind"], "RabbitmqCluster");
    assert_eq!(
        rabbit["spec"]["replicas"], 3,
        "quorum queues need three nodes"
    );
    let listed_data: BTreeSet<String> = yaml("deploy/k8s/data/kustomization.yaml")[0]["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|file| file.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        listed_data,
        BTreeSet::from(["postgres.yaml".to_owned(), "rabbitmq.yaml".to_owned()])
    );

    // kustomization.yaml lists every manifest of the directory.
    let listed: BTreeSet<String> = yaml("deploy/k8s/kustomization.yaml")[0]["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|file| file.as_str().unwrap().to_owned())
        .collect();
    let present: BTreeSet<String> = std::fs::read_dir(root().join("deploy/k8s"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .filter(|name| name.ends_with(".yaml") && name != "kustomization.yaml")
        .collect();
    assert_eq!(listed, present);

    let mut deployments = Vec::new();
    for file in ["gateway.yaml", "status.yaml", "workers.yaml"] {
        deployments.extend(
            yaml(&format!("deploy/k8s/{file}"))
                .into_iter()
                .filter(|resource| resource["kind"] == "Deployment"),
        );
    }
    assert_eq!(deployments.len(), 2 + TaskAction::ALL.len());
    let job = yaml("deploy/k8s/migrate-job.yaml").remove(0);
    assert_eq!(
        job["spec"]["template"]["spec"]["automountServiceAccountToken"], false,
        "the migrate job mounts a service-account token"
    );
    let policies = yaml("deploy/k8s/networkpolicy.yaml");
    let component_of = |labels: &Value| labels["app.kubernetes.io/component"].clone();
    for deployment in &deployments {
        let name = deployment["metadata"]["name"].as_str().unwrap();
        let pod = &deployment["spec"]["template"]["spec"];
        assert_eq!(pod["securityContext"]["runAsNonRoot"], true, "{name}");
        assert_eq!(pod["automountServiceAccountToken"], false, "{name}");
        let component = component_of(&deployment["spec"]["template"]["metadata"]["labels"]);
        let policy = policies
            .iter()
            .find(|policy| component_of(&policy["spec"]["podSelector"]["matchLabels"]) == component)
            .unwrap_or_else(|| panic!("no NetworkPolicy for {name}"));
        let ingress_ports: Vec<&Value> = policy["spec"]["ingress"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|rule| rule["ports"].as_array().unwrap())
            .map(|port| &port["port"])
            .collect();
        assert!(
            ingress_ports.contains(&&Value::from(9464)),
            "{name}: metrics"
        );
        let public = component == "gateway" || component == "status";
        assert_eq!(
            ingress_ports.contains(&&Value::from(8080)),
            public,
            "{name}"
        );
        let container = &pod["containers"][0];
        assert_eq!(container["readinessProbe"]["httpGet"]["path"], "/readyz");
        assert_eq!(container["livenessProbe"]["httpGet"]["path"], "/healthz");
        for kind in ["requests", "limits"] {
            assert!(container["resources"][kind]["memory"].is_string(), "{name}");
            assert!(container["resources"][kind]["cpu"].is_string(), "{name}");
        }
    }
    let scaled: Vec<Value> = yaml("deploy/k8s/keda.yaml")
        .into_iter()
        .filter(|resource| resource["kind"] == "ScaledObject")
        .collect();
    for action in TaskAction::ALL {
        let name = worker_name(action);
        let deployment = deployments
            .iter()
            .find(|deployment| deployment["metadata"]["name"] == name.as_str())
            .unwrap_or_else(|| panic!("no Deployment {name}"));
        let args = &deployment["spec"]["template"]["spec"]["containers"][0]["args"];
        assert_eq!(args[0], "worker");
        assert_eq!(args[1], action.as_str());
        let scaler = scaled
            .iter()
            .find(|scaler| scaler["spec"]["scaleTargetRef"]["name"] == name.as_str())
            .unwrap_or_else(|| panic!("no ScaledObject for {name}"));
        let trigger = &scaler["spec"]["triggers"][0];
        assert_eq!(trigger["type"], "rabbitmq");
        let metadata = &trigger["metadata"];
        assert_eq!(metadata["useRegex"], "true");
        assert_eq!(metadata["operation"], "sum");
        assert_eq!(
            metadata["protocol"], "http",
            "regex needs the management API"
        );
        // The pattern sums exactly the queues the workers consume (default settings, broker
        // prefix `userhub`): every work queue, no retry or dead-letter queue.
        let pattern = metadata["queueName"].as_str().unwrap();
        let inner = pattern
            .strip_prefix(&format!("^userhub\\.q\\.{}\\.(", action.as_str()))
            .and_then(|rest| rest.strip_suffix(")$"))
            .unwrap_or_else(|| panic!("unexpected pattern {pattern}"));
        assert_eq!(inner, "fast\\.[0-9]+|bulk\\.[0-9]+|retried");
        let topology = userhub_broker::Topology::new(&userhub_broker::BrokerSettings::default());
        let matches = |queue: &str| {
            let tail = queue
                .strip_prefix(&format!("userhub.q.{}.", action.as_str()))
                .unwrap_or("");
            tail == "retried"
                || ["fast.", "bulk."].iter().any(|lane| {
                    tail.strip_prefix(lane).is_some_and(|shard| {
                        !shard.is_empty() && shard.bytes().all(|b| b.is_ascii_digit())
                    })
                })
        };
        let work: Vec<String> = topology
            .work_queues(action)
            .into_iter()
            .map(|q| q.name)
            .collect();
        for queue in topology.all_queues(action) {
            assert_eq!(matches(&queue), work.contains(&queue), "{queue}");
        }
    }
    let route = yaml("deploy/k8s/httproute.yaml").remove(0);
    let rules = route["spec"]["rules"].as_array().unwrap();
    assert_eq!(rules[0]["matches"][0]["method"], "POST");
    let writes: Vec<(&str, &str)> = rules[0]["matches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["method"].as_str().unwrap(),
                m["path"]["value"].as_str().unwrap(),
            )
        })
        .collect();
    assert!(writes.contains(&("POST", "/api/")), "{writes:?}");
    assert!(
        writes.contains(&("PUT", "/v1/customers/batch")),
        "{writes:?}"
    );
    assert_eq!(rules[0]["backendRefs"][0]["name"], "gateway");
    assert_eq!(rules[1]["backendRefs"][0]["name"], "status");
}

#[test]
fn the_image_is_multi_stage_non_root_and_ships_both_binaries() {
    let dockerfile = std::fs::read_to_string(root().join("deploy/Dockerfile")).unwrap();
    let stages = dockerfile
        .lines()
        .filter(|line| line.starts_with("FROM "))
        .count();
    assert!(stages >= 2, "multi-stage");
    let user = dockerfile
        .lines()
        .rfind(|line| line.starts_with("USER "))
        .expect("a USER line");
    assert!(!user.contains("root") && !user.contains(" 0"), "{user}");
    assert!(dockerfile.contains("-p userhub-server -p userhub-cli"));
    assert!(dockerfile.contains("--locked"));
    assert!(Path::new(&root().join("Cargo.lock")).exists());
}

fn metric_base(name: &str) -> &str {
    ["_total", "_bucket", "_sum", "_count"]
        .iter()
        .find_map(|suffix| name.strip_suffix(suffix))
        .unwrap_or(name)
}

#[test]
fn the_grafana_dashboard_queries_only_exported_metrics() {
    // Families show only once they have a sample: give each one.
    use userhub_telemetry::*;
    let metrics = Metrics::new();
    let action = || ActionLabels {
        action: "a".to_owned(),
    };
    let state = || StateLabels {
        state: "s".to_owned(),
    };
    let route = "r".to_owned();
    metrics
        .http_requests
        .get_or_create(&HttpLabels {
            method: "GET".to_owned(),
            route: route.clone(),
            status: 200,
        })
        .inc();
    metrics
        .http_duration
        .get_or_create(&RouteLabels { route })
        .observe(0.1);
    metrics.tasks_accepted.get_or_create(&action()).inc();
    metrics.tasks_completed.get_or_create(&action()).inc();
    metrics
        .records
        .get_or_create(&OutcomeLabels {
            action: "a".to_owned(),
            outcome: "o".to_owned(),
        })
        .inc();
    metrics
        .chunks
        .get_or_create(&ChunkLabels {
            action: "a".to_owned(),
            result: "r".to_owned(),
        })
        .inc();
    metrics.chunk_duration.get_or_create(&action()).observe(0.1);
    metrics.open_tasks.get_or_create(&state()).set(1);
    metrics
        .queue_messages
        .get_or_create(&QueueLabels {
            action: "a".to_owned(),
            queue: "q".to_owned(),
        })
        .set(1);
    metrics.pool_connections.get_or_create(&state()).set(1);
    let exported: BTreeSet<String> = metrics
        .render()
        .lines()
        .filter_map(|line| line.strip_prefix("# TYPE "))
        .map(|line| line.split(' ').next().unwrap().to_owned())
        .collect();
    assert!(exported.len() >= 10, "{exported:?}");
    let dashboard: Value = serde_json::from_slice(
        &std::fs::read(root().join("deploy/grafana/dashboards/userhub.json")).unwrap(),
    )
    .unwrap();
    let panels = dashboard["panels"].as_array().unwrap();
    assert!(panels.len() >= 8);
    let mut used = BTreeSet::new();
    for panel in panels {
        for target in panel["targets"].as_array().unwrap() {
            let expr = target["expr"].as_str().unwrap();
            let mut rest = expr;
            while let Some(at) = rest.find("userhub_") {
                let name: String = rest[at..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                rest = &rest[at + name.len()..];
                let base = metric_base(&name).to_owned();
                assert!(
                    exported.contains(&base),
                    "{name} in `{expr}` is not exported"
                );
                used.insert(base);
            }
        }
    }
    assert!(used.len() >= 8, "{used:?}");
    let provisioning = yaml("deploy/grafana/provisioning/dashboards/userhub.yaml").remove(0);
    assert_eq!(
        provisioning["providers"][0]["options"]["path"],
        "/var/lib/grafana/dashboards"
    );
}
