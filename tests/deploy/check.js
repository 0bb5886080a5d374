// Validates the rendered deploy/ overlays: every object against its
// Kubernetes (or CRD) schema, then against the server and the Dockerfile
// (image, ports, flags, probes, scraping). Then a self-test: broken copies of
// the same objects must each be rejected, so that this check can fail.
//
// usage: node check.js ROOT RENDERED.yaml...
"use strict";

const fs = require("fs");
const path = require("path");
const yaml = require("js-yaml");

const MODELS = {
  "v1/ConfigMap": require("kubernetes-models/v1/ConfigMap").ConfigMap,
  "v1/Secret": require("kubernetes-models/v1/Secret").Secret,
  "v1/Service": require("kubernetes-models/v1/Service").Service,
  "apps/v1/Deployment": require("kubernetes-models/apps/v1/Deployment").Deployment,
  "batch/v1/Job": require("kubernetes-models/batch/v1/Job").Job,
  "policy/v1/PodDisruptionBudget":
    require("kubernetes-models/policy/v1/PodDisruptionBudget").PodDisruptionBudget,
  "networking.k8s.io/v1/NetworkPolicy":
    require("kubernetes-models/networking.k8s.io/v1/NetworkPolicy").NetworkPolicy,
  "monitoring.coreos.com/v1/PodMonitor":
    require("@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PodMonitor").PodMonitor,
};
const { Pod } = require("kubernetes-models/v1/Pod");

// What the server and the image promise, read from their sources.
function facts(root) {
  const read = (f) => fs.readFileSync(path.join(root, f), "utf8");
  const main = read("server/main.cc");
  const flags = new Set([...main.matchAll(/ABSL_FLAG\([\w:]+,\s*(\w+),/g)].map((m) => m[1]));
  const envList = main.match(/for \(const char\* name :\s*\{([^}]*)\}/);
  const envFlags = new Set([...envList[1].matchAll(/"(\w+)"/g)].map((m) => m[1]));
  const version = read("CMakeLists.txt").match(/project\(actionjournal VERSION ([\d.]+)/)[1];
  const exposed = new Set(
    [...read("Dockerfile").matchAll(/^EXPOSE\s+(.+)$/gm)]
      .flatMap((m) => m[1].trim().split(/\s+/))
      .map(Number));
  // The image's own settings (ENV ACTIONJOURNAL_...=...), which a pod's
  // environment or flags override.
  const imageEnv = Object.fromEntries(
    [...read("Dockerfile").matchAll(/\b(ACTIONJOURNAL_\w+)=(\S+)/g)].map((m) => [m[1], m[2]]));
  // The adapter's settings (JournalStoreOptions) and the Flink image that
  // carries its jars.
  const options = read("java/flink-agents/src/main/java/io/actionjournal/flink/agents/JournalStoreOptions.java");
  const security = read("java/client/src/main/java/io/actionjournal/client/ClientSecurity.java");
  const adapterEnv = new Set([...(options + security).matchAll(/"(ACTIONJOURNAL_\w+)"/g)]
    .map((m) => m[1]));
  const flinkImage = read("deploy/flink-image/Dockerfile");
  const flinkImageLibs = /COPY --from=jars \/out\/ \/opt\/flink\/lib\//.test(flinkImage);
  // The Flink the Java tests run (java/pom.xml) is the one the image and the
  // FlinkDeployment name.
  const flinkVersion = read("java/pom.xml").match(/<flink\.version>([\d.]+)<\/flink\.version>/)[1];
  const flinkImageBase = (flinkImage.match(/^FROM (flink:\S+)/m) || [])[1] || "";
  return { flags, envFlags, version, exposed, imageEnv, adapterEnv, flinkImageLibs,
           flinkVersion, flinkImageBase,
           grpcPort: 7450, metricsPort: 9450, healthPort: 7451 };
}

// Every pod spec an object carries, with the labels its pods get.
function podSpecs(doc) {
  const out = [];
  const add = (template, where) => {
    if (template && template.spec) {
      out.push({ spec: template.spec, labels: (template.metadata || {}).labels || {}, where,
                 annotations: (template.metadata || {}).annotations || {} });
    }
  };
  if (doc.kind === "Deployment" || doc.kind === "Job") add(doc.spec && doc.spec.template, doc.kind);
  if (doc.kind === "FlinkDeployment") {
    add(doc.spec && doc.spec.podTemplate, "FlinkDeployment.podTemplate");
    add(doc.spec && doc.spec.jobManager && doc.spec.jobManager.podTemplate, "jobManager.podTemplate");
    add(doc.spec && doc.spec.taskManager && doc.spec.taskManager.podTemplate, "taskManager.podTemplate");
  }
  return out;
}

function check(docs, f) {
  const errors = [];
  const err = (doc, msg) => errors.push(`${doc.kind}/${(doc.metadata || {}).name}: ${msg}`);
  const byKindName = new Map(docs.map((d) => [`${d.kind}/${(d.metadata || {}).name}`, d]));

  // 1. Schemas.
  for (const doc of docs) {
    const key = `${doc.apiVersion}/${doc.kind}`;
    try {
      if (MODELS[key]) {
        new MODELS[key](doc).validate();
      } else if (key === "flink.apache.org/v1beta1/FlinkDeployment") {
        for (const field of ["image", "flinkVersion", "jobManager", "taskManager"]) {
          if (!doc.spec || doc.spec[field] === undefined) err(doc, `spec.${field} missing`);
        }
        if (doc.spec && doc.spec.job && !/^(local|https?|s3):\/\//.test(doc.spec.job.jarURI || "")) {
          err(doc, "spec.job.jarURI must be a URI");
        }
        for (const p of podSpecs(doc)) {
          // The operator merges its main container into this one, which may
          // therefore leave out its image.
          const spec = JSON.parse(JSON.stringify(p.spec));
          for (const c of spec.containers || []) c.image = c.image || "flink";
          new Pod({ metadata: { name: "template", labels: p.labels }, spec }).validate();
        }
      } else {
        err(doc, `no schema known for ${key}`);
      }
    } catch (e) {
      err(doc, `schema: ${e.message.split("\n").slice(0, 3).join("; ")}`);
    }
  }

  // 2. The server's containers against the server and the image.
  let servers = 0;
  const serverPods = [];
  for (const doc of docs) {
    for (const pod of podSpecs(doc)) {
      const all = [...(pod.spec.initContainers || []).map((c) => [c, true]),
                   ...(pod.spec.containers || []).map((c) => [c, false])];
      for (const [c, init] of all) {
        if (c.name !== "actionjournal") continue;
        servers += 1;
        const where = `${pod.where} container ${c.name}`;
        const image = c.image || "";
        if (!new RegExp(`(^|/)actionjournal:${f.version.replace(/\./g, "\\.")}$`).test(image)) {
          err(doc, `${where}: image '${image}' is not actionjournal:${f.version}`);
        }
        if (init && c.restartPolicy !== "Always") {
          err(doc, `${where}: a sidecar in initContainers needs restartPolicy: Always`);
        }
        // Environment: every ACTIONJOURNAL_* variable must name a flag the
        // server reads from the environment.
        const names = (c.env || []).map((e) => e.name);
        // What the server will see: the image's ENV, then envFrom, then env
        // (Kubernetes lets env win over envFrom).
        const effective = { ...f.imageEnv };
        for (const from of c.envFrom || []) {
          const ref = from.configMapRef ? `ConfigMap/${from.configMapRef.name}`
                                        : `Secret/${(from.secretRef || {}).name}`;
          const src = byKindName.get(ref);
          if (!src) { err(doc, `${where}: envFrom ${ref} is not in the render`); continue; }
          names.push(...Object.keys(src.data || {}), ...Object.keys(src.stringData || {}));
          Object.assign(effective, src.data || {}, src.stringData || {});
        }
        for (const e of c.env || []) effective[e.name] = e.value;
        for (const n of names.filter((n) => n.startsWith("ACTIONJOURNAL_"))) {
          const flag = n.slice("ACTIONJOURNAL_".length).toLowerCase();
          if (!f.envFlags.has(flag)) err(doc, `${where}: ${n} is no flag the server reads`);
        }
        for (const a of [...(c.command || []), ...(c.args || [])].filter((a) => a.startsWith("--"))) {
          const flag = a.slice(2).split("=")[0].replace(/-/g, "_");
          if (!f.flags.has(flag)) err(doc, `${where}: ${a} is no server flag`);
        }
        if (doc.kind === "Job") {
          if (JSON.stringify(c.args) !== JSON.stringify(["migrate"])) {
            err(doc, `${where}: a migration Job runs 'actionjournal-server migrate'`);
          }
          continue;
        }
        // A setting as the server sees it: a flag wins over the environment.
        const setting = (flag) => {
          let value = effective[`ACTIONJOURNAL_${flag.toUpperCase()}`];
          for (const a of [...(c.command || []), ...(c.args || [])]) {
            const m = a.match(/^--([\w-]+)(?:=(.*))?$/);
            if (m && m[1].replace(/-/g, "_") === flag) value = m[2] === undefined ? "true" : m[2];
          }
          return value;
        };
        // gRPC: a sidecar keeps it on loopback (or a Unix socket) so that
        // nothing else in the cluster reaches it; a shared server listens
        // on every address, with mutual TLS and per-job tokens.
        const listen = setting("listen") || "";
        if (init) {
          if (!new RegExp(`^((127\\.0\\.0\\.1|localhost|\\[::1\\]):${f.grpcPort}|unix:.+)$`).test(listen)) {
            err(doc, `${where}: a sidecar's gRPC (--listen) is '${listen}', not loopback ` +
                     `127.0.0.1:${f.grpcPort} or a unix: socket`);
          }
        } else if (!new RegExp(`^(0\\.0\\.0\\.0|\\[::\\]):${f.grpcPort}$`).test(listen)) {
          err(doc, `${where}: ACTIONJOURNAL_LISTEN (or --listen) is '${listen}', not 0.0.0.0:${f.grpcPort}`);
        }
        // Metrics and the probes' health port: every address, since
        // Prometheus and kubelet dial the pod IP.
        for (const [flag, port] of [["metrics_listen", f.metricsPort], ["health_listen", f.healthPort]]) {
          const address = setting(flag);
          if (!new RegExp(`^(0\\.0\\.0\\.0|\\[::\\]):${port}$`).test(address || "")) {
            err(doc, `${where}: ACTIONJOURNAL_${flag.toUpperCase()} (or --${flag.replace(/_/g, "-")}) ` +
                     `is '${address}', not 0.0.0.0:${port}`);
          }
        }
        if (setting("insecure_allow_unauthenticated") !== undefined &&
            setting("insecure_allow_unauthenticated") !== "false") {
          err(doc, `${where}: --insecure-allow-unauthenticated is not for deploy/`);
        }
        // Key material and tokens come from Secret volumes.
        const secretDirs = (c.volumeMounts || [])
          .filter((m) => ((pod.spec.volumes || []).find((v) => v.name === m.name) || {}).secret)
          .map((m) => m.mountPath.replace(/\/$/, "") + "/");
        const fromSecret = (flag) => {
          const file = setting(flag);
          if (!file) return false;
          if (!secretDirs.some((d) => file.startsWith(d))) {
            err(doc, `${where}: ${flag} '${file}' is not in a mounted Secret`);
          }
          return true;
        };
        const required = init ? [] : ["tls_cert_file", "tls_key_file", "tls_client_ca_file",
                                       "auth_tokens_file"];
        for (const flag of ["tls_cert_file", "tls_key_file", "tls_client_ca_file", "auth_tokens_file",
                            "metrics_tls_cert_file", "metrics_tls_key_file"]) {
          if (!fromSecret(flag) && required.includes(flag)) {
            err(doc, `${where}: a shared server needs mutual TLS and tokens: ACTIONJOURNAL_` +
                     `${flag.toUpperCase()} is not set`);
          }
        }
        const metricsTls = setting("metrics_tls_cert_file") !== undefined;
        serverPods.push({ pod, metricsTls, sidecar: init });
        // Ports as the image exposes them; probes on gRPC health.
        const ports = Object.fromEntries((c.ports || []).map((p) => [p.name, p.containerPort]));
        if (ports.grpc !== f.grpcPort) err(doc, `${where}: port grpc must be ${f.grpcPort}`);
        if (ports.metrics !== f.metricsPort) err(doc, `${where}: port metrics must be ${f.metricsPort}`);
        if (ports.health !== f.healthPort) err(doc, `${where}: port health must be ${f.healthPort}`);
        for (const p of Object.values(ports)) {
          if (!f.exposed.has(p)) err(doc, `${where}: port ${p} is not EXPOSEd by the Dockerfile`);
        }
        for (const probe of ["startupProbe", "readinessProbe", "livenessProbe"]) {
          // kubelet's gRPC probes speak plaintext: the health-only port.
          const g = c[probe] && c[probe].grpc;
          if (!g || g.port !== f.healthPort) {
            err(doc, `${where}: ${probe} must be a gRPC probe on the health port ${f.healthPort}`);
          }
        }
        if (c.livenessProbe && c.livenessProbe.grpc && c.livenessProbe.grpc.service !== "liveness") {
          err(doc, `${where}: livenessProbe must ask the 'liveness' service`);
        }
        if (!c.resources || !c.resources.requests || !c.resources.limits) {
          err(doc, `${where}: needs resource requests and limits`);
        }
        const a = pod.annotations;
        if (a["prometheus.io/scrape"] !== "true" || a["prometheus.io/port"] !== String(f.metricsPort) ||
            a["prometheus.io/path"] !== "/metrics") {
          err(doc, `${where}: prometheus.io annotations must point at ${f.metricsPort}/metrics`);
        }
        if ((a["prometheus.io/scheme"] === "https") !== metricsTls) {
          err(doc, `${where}: prometheus.io/scheme must be ${metricsTls ? "https" : "http (or unset)"}`);
        }
      }
    }
  }
  if (servers === 0) errors.push("no actionjournal container in the render");

  // 3. A FlinkDeployment the operator accepts, whose Flink loads the adapter
  // and reaches its journal.
  for (const doc of docs.filter((d) => d.kind === "FlinkDeployment")) {
    const spec = doc.spec || {};
    const conf = spec.flinkConfiguration || {};
    const mode = (spec.job || {}).upgradeMode || "stateless";
    if ((mode === "savepoint" || mode === "last-state") && !conf["state.savepoints.dir"]) {
      err(doc, `upgradeMode ${mode} needs flinkConfiguration state.savepoints.dir`);
    }
    if (mode === "last-state" && !conf["high-availability.type"] && !conf["high-availability"]) {
      err(doc, "upgradeMode last-state needs high availability");
    }
    const [major, minor] = f.flinkVersion.split(".");
    if (spec.flinkVersion !== `v${major}_${minor}`) {
      err(doc, `flinkVersion ${spec.flinkVersion}: the adapter is tested on Flink ${f.flinkVersion} (v${major}_${minor}, java/pom.xml)`);
    }
    if (!f.flinkImageBase.startsWith(`flink:${f.flinkVersion}-`)) {
      err(doc, `deploy/flink-image/Dockerfile is based on '${f.flinkImageBase}', not Flink ${f.flinkVersion} (java/pom.xml)`);
    }
    const interval = conf["execution.checkpointing.interval"];
    if (!interval || /^0+\s*(ms|s|min)?$/.test(String(interval))) {
      err(doc, "checkpointing must be on (execution.checkpointing.interval): the journal is pruned per checkpoint");
    }
    // The adapter's jars: the derived image (deploy/flink-image), or an init
    // container that copies them into a volume the Flink container mounts
    // under /opt/flink/lib, in every pod template Flink runs in.
    const derived = new RegExp(`(^|/)actionjournal-flink:${f.version.replace(/\./g, "\\.")}$`)
      .test(spec.image || "");
    if (derived && !f.flinkImageLibs) err(doc, "deploy/flink-image/Dockerfile does not put the jars in /opt/flink/lib");
    if (!derived) {
      for (const p of [spec.jobManager, spec.taskManager].map((x) => (x || {}).podTemplate)) {
        const ps = (p || {}).spec || {};
        const init = (ps.initContainers || []).find((c) => c.name === "actionjournal-jars");
        const main = (ps.containers || []).find((c) => c.name === "flink-main-container");
        const vols = new Set(((init || {}).volumeMounts || []).map((m) => m.name));
        const mounted = ((main || {}).volumeMounts || [])
          .some((m) => vols.has(m.name) && /^\/opt\/flink\/lib(\/|$)/.test(m.mountPath));
        if (!init || !mounted) {
          err(doc, `image '${spec.image}' lacks the adapter: use actionjournal-flink:${f.version} ` +
                   "(deploy/flink-image) or an init container 'actionjournal-jars' whose volume " +
                   "flink-main-container mounts under /opt/flink/lib, for the JobManager and the TaskManagers");
          break;
        }
      }
    }
    // The adapter's environment: names it reads, and a target that is the
    // sidecar's gRPC port when the pod carries the server.
    for (const p of podSpecs(doc)) {
      const main = (p.spec.containers || []).find((c) => c.name === "flink-main-container");
      if (!main) continue;
      const env = Object.fromEntries((main.env || []).map((e) => [e.name, e.value]));
      for (const n of Object.keys(env).filter((n) => n.startsWith("ACTIONJOURNAL_"))) {
        if (!f.adapterEnv.has(n)) err(doc, `${p.where}: ${n} is no setting the adapter reads`);
      }
      const sidecar = (p.spec.initContainers || []).some((c) => c.name === "actionjournal");
      if (sidecar && !new RegExp(`^(127\\.0\\.0\\.1|localhost):${f.grpcPort}$`).test(env.ACTIONJOURNAL_TARGET || "")) {
        err(doc, `${p.where}: ACTIONJOURNAL_TARGET is '${env.ACTIONJOURNAL_TARGET}', not the sidecar 127.0.0.1:${f.grpcPort}`);
      }
      if (sidecar && !env.ACTIONJOURNAL_JOB_ID) err(doc, `${p.where}: ACTIONJOURNAL_JOB_ID is not set`);
    }
  }

  // 4. Scraping and Services find what they select.
  const pods = docs.flatMap(podSpecs);
  const matches = (selector, labels) =>
    Object.entries(selector || {}).every(([k, v]) => labels[k] === v);
  const portNames = (pod) => new Set(
    [...(pod.spec.initContainers || []), ...(pod.spec.containers || [])]
      .flatMap((c) => (c.ports || []).map((p) => p.name)));
  for (const doc of docs) {
    if (doc.kind === "PodMonitor") {
      const selected = pods.filter((p) => matches(doc.spec.selector.matchLabels, p.labels));
      if (selected.length === 0) err(doc, "selects no pod of this render");
      for (const ep of doc.spec.podMetricsEndpoints || []) {
        for (const p of selected) {
          if (!portNames(p).has(ep.port)) err(doc, `port '${ep.port}' is on no container of ${p.where}`);
          // Scraped over TLS where the metrics use it, trusting a CA.
          const server = serverPods.find((s) => s.pod.spec === p.spec);
          if (!server) continue;
          const tls = ep.scheme === "https" && ep.tlsConfig && (ep.tlsConfig.ca || {}) &&
                      ((ep.tlsConfig.ca || {}).secret || (ep.tlsConfig.ca || {}).configMap);
          if (server.metricsTls && !tls) {
            err(doc, `the metrics of ${p.where} are HTTPS: scheme https and tlsConfig.ca needed`);
          }
          if (!server.metricsTls && ep.scheme === "https") {
            err(doc, `the metrics of ${p.where} are plain HTTP, not https`);
          }
        }
      }
    }
    if (doc.kind === "Service") {
      const selected = pods.filter((p) => matches(doc.spec.selector, p.labels));
      if (selected.length === 0) err(doc, "selects no pod of this render");
      for (const sp of doc.spec.ports || []) {
        if (sp.targetPort !== undefined && typeof sp.targetPort === "string") {
          for (const p of selected) {
            if (!portNames(p).has(sp.targetPort)) err(doc, `targetPort '${sp.targetPort}' unknown`);
          }
        }
      }
    }
  }
  // 5. A shared server is reachable only by TaskManagers (gRPC) and the
  // monitoring namespace (metrics).
  const policies = docs.filter((d) => d.kind === "NetworkPolicy");
  for (const server of serverPods.filter((s) => !s.sidecar)) {
    const covering = policies.filter((np) =>
      matches((np.spec.podSelector || {}).matchLabels, server.pod.labels) &&
      (np.spec.policyTypes || []).includes("Ingress"));
    if (covering.length === 0) {
      errors.push(`${server.pod.where}: no NetworkPolicy limits who reaches the shared server`);
      continue;
    }
    const allowed = { [f.grpcPort]: false, [f.metricsPort]: false };
    for (const np of covering) {
      for (const rule of np.spec.ingress || []) {
        const ports = (rule.ports || []).map((p) => p.port);
        if (!rule.from || rule.from.length === 0 || ports.length === 0) {
          err(np, "an ingress rule without 'from' and 'ports' lets everyone in");
          continue;
        }
        for (const port of ports) {
          if (port === f.grpcPort) {
            allowed[port] = true;
            if (!rule.from.every((peer) => !peer.namespaceSelector && !peer.ipBlock && peer.podSelector &&
                                           (peer.podSelector.matchLabels || {}).component === "taskmanager")) {
              err(np, `gRPC (${port}) must admit only TaskManager pods (component: taskmanager)`);
            }
          } else if (port === f.metricsPort) {
            allowed[port] = true;
            if (!rule.from.every((peer) => !peer.ipBlock && peer.namespaceSelector &&
                                           (peer.namespaceSelector.matchLabels || {})["kubernetes.io/metadata.name"] === "monitoring")) {
              err(np, `metrics (${port}) must admit only the monitoring namespace`);
            }
          } else {
            err(np, `port ${port} is opened, but only gRPC and metrics are meant to be reachable`);
          }
        }
      }
    }
    for (const [port, ok] of Object.entries(allowed)) {
      if (!ok) errors.push(`${server.pod.where}: no NetworkPolicy rule admits port ${port}`);
    }
  }
  return errors;
}

// Broken copies that the check must reject, one fault each. A fault returns
// false where it does not apply to a render.
const FAULTS = {
  "a port that is not a number": (docs) => {
    serverContainer(docs).ports[0].containerPort = "grpc";
  },
  "a Deployment without containers": (docs) => {
    const d = docs.find((x) => x.kind === "Deployment" || x.kind === "FlinkDeployment");
    podSpecs(d)[0].spec.containers = undefined;
  },
  "an environment variable no flag reads": (docs) => {
    docs.find((x) => x.kind === "ConfigMap").data.ACTIONJOURNAL_LISTEN_ADDRESS = "0.0.0.0:1";
  },
  "a flag the server does not have": (docs) => {
    serverContainer(docs).args = ["--listen-port=7450"];
  },
  "a probe on the wrong port": (docs) => {
    serverContainer(docs).readinessProbe.grpc.port = 7452;
  },
  "a probe on the TLS port, which kubelet cannot speak": (docs) => {
    serverContainer(docs).livenessProbe.grpc.port = 7450;
  },
  "a server started unauthenticated": (docs) => {
    serverContainer(docs).args.push("--insecure-allow-unauthenticated");
  },
  // Only for the shared server; false: not applicable here.
  "a shared server without mutual TLS": (docs) => {
    const c = serverContainer(docs);
    if (!c.env) return false;
    c.env = c.env.filter((e) => e.name !== "ACTIONJOURNAL_TLS_CLIENT_CA_FILE");
    return true;
  },
  "a shared server without tokens": (docs) => {
    const c = serverContainer(docs);
    if (!c.env) return false;
    c.env = c.env.filter((e) => e.name !== "ACTIONJOURNAL_AUTH_TOKENS_FILE");
    return true;
  },
  "TLS keys from a directory that is no Secret": (docs) => {
    const c = serverContainer(docs);
    if (!c.env) return false;
    c.env.find((e) => e.name === "ACTIONJOURNAL_TLS_KEY_FILE").value = "/tmp/tls.key";
    return true;
  },
  "no NetworkPolicy": (docs) => {
    const i = docs.findIndex((x) => x.kind === "NetworkPolicy");
    if (i < 0) return false;
    docs.splice(i, 1);
    return true;
  },
  "a NetworkPolicy that lets any pod reach gRPC": (docs) => {
    const np = docs.find((x) => x.kind === "NetworkPolicy");
    if (!np) return false;
    np.spec.ingress[0].from = [{ podSelector: {} }];
    return true;
  },
  "a NetworkPolicy rule open to all": (docs) => {
    const np = docs.find((x) => x.kind === "NetworkPolicy");
    if (!np) return false;
    delete np.spec.ingress[1].from;
    return true;
  },
  "metrics from any namespace": (docs) => {
    const np = docs.find((x) => x.kind === "NetworkPolicy");
    if (!np) return false;
    np.spec.ingress[1].from = [{ namespaceSelector: {} }];
    return true;
  },
  "HTTPS metrics scraped as plain HTTP": (docs) => {
    const pm = docs.find((x) => x.kind === "PodMonitor");
    const ep = pm.spec.podMetricsEndpoints[0];
    if (ep.scheme !== "https") return false;
    delete ep.scheme;
    delete ep.tlsConfig;
    return true;
  },
  // Only for the sidecar.
  "a sidecar reachable from the cluster": (docs) => {
    const c = serverContainer(docs);
    if (c.restartPolicy === undefined) return false;
    c.args = c.args.map((a) => a.replace("--listen=127.0.0.1:7450", "--listen=0.0.0.0:7450"));
    return true;
  },
  "an image of another name": (docs) => {
    serverContainer(docs).image = "journal:latest";
  },
  "a PodMonitor that selects nothing": (docs) => {
    docs.find((x) => x.kind === "PodMonitor").spec.selector.matchLabels = { app: "nope" };
  },
  "a server that listens on loopback only": (docs) => {
    serverContainer(docs).args = ["--listen=127.0.0.1:7450", "--metrics-listen=0.0.0.0:9450"];
  },
  "metrics on another port than the one declared": (docs) => {
    serverContainer(docs).args = ["--listen=0.0.0.0:7450", "--metrics-listen=0.0.0.0:9451"];
  },
  "a metrics port the image does not expose": (docs) => {
    serverContainer(docs).ports[1].containerPort = 9451;
  },
  // Only where there is a FlinkDeployment; false: not applicable here.
  "a savepoint upgrade without a savepoint directory": (docs) => {
    const d = docs.find((x) => x.kind === "FlinkDeployment");
    if (!d) return false;
    delete d.spec.flinkConfiguration["state.savepoints.dir"];
    return true;
  },
  "a job that never checkpoints": (docs) => {
    const d = docs.find((x) => x.kind === "FlinkDeployment");
    if (!d) return false;
    delete d.spec.flinkConfiguration["execution.checkpointing.interval"];
    return true;
  },
  "a FlinkDeployment on another Flink than the tests run": (docs) => {
    const d = docs.find((x) => x.kind === "FlinkDeployment");
    if (!d) return false;
    d.spec.flinkVersion = "v1_20";
    return true;
  },
  "a Flink image without the adapter's jars": (docs) => {
    const d = docs.find((x) => x.kind === "FlinkDeployment");
    if (!d) return false;
    d.spec.image = "flink:1.20";
    return true;
  },
  "an adapter pointed away from its sidecar": (docs) => {
    const d = docs.find((x) => x.kind === "FlinkDeployment");
    if (!d) return false;
    const main = d.spec.taskManager.podTemplate.spec.containers
      .find((c) => c.name === "flink-main-container");
    main.env.find((e) => e.name === "ACTIONJOURNAL_TARGET").value = "127.0.0.1:7451";
    return true;
  },
  "an adapter setting that does not exist": (docs) => {
    const d = docs.find((x) => x.kind === "FlinkDeployment");
    if (!d) return false;
    d.spec.taskManager.podTemplate.spec.containers
      .find((c) => c.name === "flink-main-container").env.push({ name: "ACTIONJOURNAL_TARGETS", value: "x" });
    return true;
  },
  // Only where the server is a sidecar; false: not applicable here.
  "a sidecar that would not outlive its TaskManager": (docs) => {
    const c = serverContainer(docs);
    if (c.restartPolicy === undefined) return false;
    delete c.restartPolicy;
    return true;
  },
};

function serverContainer(docs) {
  for (const doc of docs) {
    if (doc.kind === "Job") continue;
    for (const p of podSpecs(doc)) {
      for (const c of [...(p.spec.initContainers || []), ...(p.spec.containers || [])]) {
        if (c.name === "actionjournal") return c;
      }
    }
  }
  throw new Error("no server container");
}

function main() {
  const [root, ...files] = process.argv.slice(2);
  const f = facts(root);
  let failed = false;
  for (const file of files) {
    const docs = yaml.loadAll(fs.readFileSync(file, "utf8")).filter(Boolean);
    const errors = check(docs, f);
    console.log(`${path.basename(file)}: ${docs.length} objects (${docs.map((d) => d.kind).join(", ")}): ` +
                (errors.length ? `${errors.length} error(s)` : "valid"));
    for (const e of errors) console.log(`  ${e}`);
    failed = failed || errors.length > 0;
    let applied = 0;
    for (const [name, fault] of Object.entries(FAULTS)) {
      const broken = JSON.parse(JSON.stringify(docs));
      if (fault(broken) === false) continue;
      applied += 1;
      const found = check(broken, f);
      if (found.length === 0) {
        console.log(`  self-test: ${name}: NOT rejected`);
        failed = true;
      }
    }
    console.log(`  self-test: ${applied} broken copies, each rejected` +
                (failed ? " (see above)" : ""));
  }
  process.exit(failed ? 1 : 0);
}

main();
