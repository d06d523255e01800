#!/usr/bin/env bash
# Checks deploy/observability offline, as CI does:
#   - prometheus.yml, alerts.yml and the alerts' unit tests (alerts.test.yml) with promtool;
#   - otel-collector.yaml against schemas/otelcol-config.schema.json (no schema of the
#     Collector's configuration is published; that file says where it comes from), and
#     that its pipelines name configured components;
#   - grafana/morning.json against Grafana's dashboard model and each panel's options
#     against its plugin's, as the TypeScript types @grafana/schema publishes on npm
#     say (turned into JSON schemas by ts-json-schema-generator); its queries through
#     promtool;
#   - that every lienlac_* metric the rules and the dashboard use is one the services
#     record (services/**/*.rs).
# What it lacks it keeps under .local/observability/: promtool taken out of Debian's
# `prometheus` package (nothing is installed, no server started), the npm packages at
# the versions below, and the schemas made from them.
#   deploy/observability/check.sh
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
CACHE="$ROOT/.local/observability"
GRAFANA_SCHEMA_VERSION=13.2.3 # @grafana/schema: the dashboard model of Grafana 13.2
GENERATOR_VERSION=2.4.0       # ts-json-schema-generator, the last for Node 18 and 20
TYPESCRIPT_VERSION=5.9.3
PROMTOOL_HINT="sudo apt-get install -y --no-install-recommends prometheus (then: sudo systemctl disable --now prometheus), or set PROMTOOL"
APT_UPDATED=0
FAILED=0
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

say() { printf '%s\n' "$*"; }
die() { printf 'check.sh: error: %s\n' "$*" >&2; exit 1; }
is_root() { [[ $(id -u) -eq 0 ]]; }
rel() { printf '%s' "${1#"$ROOT"/}"; }

apt_update_once() {
  if ((APT_UPDATED == 0)); then apt-get update -q >/dev/null || die "apt-get update failed"; APT_UPDATED=1; fi
}

# promtool alone, out of Debian's package: installing the package would start a
# Prometheus server. apt-get download needs no root while the package lists are there.
fetch_promtool() {
  local tmp="$WORK/deb" sandbox=()
  if ! command -v apt-get >/dev/null || ! command -v dpkg-deb >/dev/null; then
    die "promtool is missing; install it: $PROMTOOL_HINT"
  fi
  is_root && sandbox=(-o APT::Sandbox::User=root)
  mkdir -p "$tmp" "$CACHE/bin"
  say "promtool: taking it out of Debian's prometheus package..."
  if ! (cd "$tmp" && apt-get download -q "${sandbox[@]}" prometheus >/dev/null 2>&1); then
    is_root || die "cannot download Debian's prometheus package; run: sudo apt-get update, or install promtool: $PROMTOOL_HINT"
    apt_update_once
    (cd "$tmp" && apt-get download -q "${sandbox[@]}" prometheus >/dev/null) || die "apt-get download prometheus failed"
  fi
  dpkg-deb --fsys-tarfile "$tmp"/prometheus_*.deb | tar -xO ./usr/bin/promtool >"$CACHE/bin/promtool.part"
  chmod +x "$CACHE/bin/promtool.part"
  mv "$CACHE/bin/promtool.part" "$CACHE/bin/promtool"
}

find_promtool() {
  if [[ -n ${PROMTOOL:-} ]]; then return; fi
  if PROMTOOL="$(command -v promtool)"; then return; fi
  [[ -x $CACHE/bin/promtool ]] || fetch_promtool
  PROMTOOL="$CACHE/bin/promtool"
}

# jsonschema and PyYAML: the machine's, else pinned copies under the cache.
python_deps() {
  python3 -c 'import jsonschema, yaml' 2>/dev/null && return
  say "python: installing jsonschema and PyYAML under $(rel "$CACHE")/python..."
  python3 -m pip install -q --target "$CACHE/python" jsonschema==4.26.0 PyYAML==6.0.3 ||
    die "pip install jsonschema PyYAML failed"
  export PYTHONPATH="$CACHE/python${PYTHONPATH:+:$PYTHONPATH}"
}

# Grafana's dashboard model and its panels' options as JSON schemas, made once per
# version from the TypeScript types of @grafana/schema, which Grafana generates from
# its CUE definitions of them.
GRAFANA_KEY="grafana-schema-$GRAFANA_SCHEMA_VERSION-generator-$GENERATOR_VERSION"
NPM_DIR="$CACHE/npm/$GRAFANA_KEY"
GRAFANA_TYPES="$NPM_DIR/node_modules/@grafana/schema/dist/types/raw"
SCHEMAS="$CACHE/schemas/$GRAFANA_KEY"

grafana_tools() {
  [[ -x $NPM_DIR/node_modules/.bin/ts-json-schema-generator && -d $GRAFANA_TYPES ]] && return
  if ! command -v npm >/dev/null; then
    is_root || die "npm is missing; install it: sudo apt-get install -y npm"
    apt_update_once
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends npm >/dev/null || die "apt-get install npm failed"
  fi
  say "grafana: installing @grafana/schema $GRAFANA_SCHEMA_VERSION and ts-json-schema-generator $GENERATOR_VERSION..."
  npm install --no-audit --no-fund --no-update-notifier --loglevel=error --prefix "$NPM_DIR" \
    "@grafana/schema@$GRAFANA_SCHEMA_VERSION" "ts-json-schema-generator@$GENERATOR_VERSION" \
    "typescript@$TYPESCRIPT_VERSION" >/dev/null || die "npm install failed"
}

# grafana_schema NAME TYPES_FILE TYPE: $SCHEMAS/NAME.json from TYPE of TYPES_FILE.
grafana_schema() {
  [[ -s $SCHEMAS/$1.json ]] && return
  grafana_tools
  mkdir -p "$SCHEMAS"
  "$NPM_DIR/node_modules/.bin/ts-json-schema-generator" --path "$GRAFANA_TYPES/$2" --type "$3" \
    --no-type-check --out "$SCHEMAS/$1.json.part" || die "generating the schema of $3 ($2) failed"
  mv "$SCHEMAS/$1.json.part" "$SCHEMAS/$1.json"
}

# The dashboard, and the options (and field options) of each kind of panel it holds.
grafana_schemas() {
  local type types
  grafana_schema dashboard dashboard/x/types.gen.d.ts Dashboard
  # A dashboard that does not parse gets no panel schemas; its own check says why.
  types="$(validate panel-types "$HERE/grafana/morning.json" 2>/dev/null)" || types=""
  for type in $types; do
    [[ -e $SCHEMAS/panel-$type.none || -s $SCHEMAS/panel-$type-options.json ]] && continue
    grafana_tools
    local file="composable/$type/panelcfg/x/types.gen.d.ts"
    if [[ ! -f $GRAFANA_TYPES/$file ]]; then
      mkdir -p "$SCHEMAS" && : >"$SCHEMAS/panel-$type.none"
      continue
    fi
    grafana_schema "panel-$type-options" "$file" Options
    if grep -q '^export interface FieldConfig ' "$GRAFANA_TYPES/$file"; then
      grafana_schema "panel-$type-fieldconfig" "$file" FieldConfig
    fi
  done
}

# check LABEL COMMAND...: runs it, says ok with its last line, or shows its output.
check() {
  local label="$1" out; shift
  if out="$("$@" 2>&1)"; then
    say "ok    $label${out:+: ${out##*$'\n'}}"
  else
    say "FAIL  $label"
    printf '%s\n' "$out" | sed 's/^/      /'
    FAILED=$((FAILED + 1))
  fi
}

promtool_quiet() { "$PROMTOOL" "$@" >/dev/null; }

read -r -d '' VALIDATE <<'PY' || true
import json, re, sys, pathlib
import jsonschema, yaml

def fail(message):
    sys.exit(message)

def schema_errors(validator, document, at=""):
    errors = sorted(validator.iter_errors(document), key=lambda e: [str(p) for p in e.absolute_path])
    for error in errors[:10]:
        best = jsonschema.exceptions.best_match([error])
        where = "/".join([at] * bool(at) + [str(p) for p in best.absolute_path]) or "(top)"
        print(f"{where}: {best.message}")
    return len(errors)

def collector(path, schema_path):
    config = yaml.safe_load(open(path))
    schema = json.load(open(schema_path))
    if schema_errors(jsonschema.Draft202012Validator(schema), config):
        fail("does not match the schema")
    # What the schema cannot say: a pipeline names only configured components.
    defined = {kind: set(config.get(kind) or {}) for kind in ("receivers", "processors", "exporters", "extensions", "connectors")}
    problems = [f"service.extensions: {x} is not configured" for x in config["service"].get("extensions", []) if x not in defined["extensions"]]
    pipelines = config["service"]["pipelines"]
    for name, pipeline in pipelines.items():
        for kind in ("receivers", "processors", "exporters"):
            known = defined[kind] | (defined["connectors"] if kind != "processors" else set())
            problems += [f"pipeline {name}: {kind[:-1]} {x} is not configured" for x in pipeline.get(kind, []) if x not in known]
        if any(p.split("/")[0] == "memory_limiter" for p in pipeline.get("processors", [])[1:]):
            problems.append(f"pipeline {name}: memory_limiter must come first")
    if problems:
        print("\n".join(problems))
        fail("pipelines do not hold together")
    print(f"{len(pipelines)} pipelines, schema {pathlib.Path(schema_path).name}")

def panel_types(path):
    print(" ".join(sorted({p["type"] for p in json.load(open(path)).get("panels", []) if p.get("type") not in (None, "row")})))

# A panel's options as its plugin's types say, without their `required`: those are
# the fields with defaults, which Grafana fills in when a dashboard leaves them out.
def optional(schema):
    if isinstance(schema, dict):
        return {k: optional(v) for k, v in schema.items() if k != "required"}
    return [optional(v) for v in schema] if isinstance(schema, list) else schema

def dashboard(path, schema_dir, rules_out):
    board = json.load(open(path))
    schemas = pathlib.Path(schema_dir)
    definitions = json.load(open(schemas / "dashboard.json"))["definitions"]
    def errors(definition, document, at=""):
        schema = {"$ref": f"#/definitions/{definition}", "definitions": definitions}
        return schema_errors(jsonschema.Draft7Validator(schema), document, at)
    # Each panel against its own kind: the model's either-or would blame the wrong one.
    count = errors("Dashboard", {**board, "panels": []})
    for i, panel in enumerate(board.get("panels", [])):
        count += errors("RowPanel" if panel.get("type") == "row" else "Panel", panel, f"panels/{i}")
        for part, at, document in (("options", "options", panel.get("options")),
                                   ("fieldconfig", "fieldConfig/defaults/custom", panel.get("fieldConfig", {}).get("defaults", {}).get("custom"))):
            schema = schemas / f"panel-{panel.get('type')}-{part}.json"
            if document is not None and schema.exists():
                count += schema_errors(jsonschema.Draft7Validator(optional(json.load(open(schema)))), document, f"panels/{i}/{at}")
    if count:
        fail("does not match the dashboard model")
    variables = {v["name"]: v for v in board.get("templating", {}).get("list", [])}
    problems = []
    if variables.get("datasource", {}).get("type") != "datasource":
        problems.append("no `datasource` variable of type datasource")
    panels = board.get("panels", [])
    ids = [p["id"] for p in panels]
    if len(ids) != len(set(ids)):
        problems.append("panel ids repeat")
    taken = {}
    rules = []
    for panel in panels:
        grid = panel["gridPos"]
        if grid["x"] + grid["w"] > 24:
            problems.append(f"panel {panel['id']}: wider than the grid")
        cells = {(x, y) for x in range(grid["x"], grid["x"] + grid["w"]) for y in range(grid["y"], grid["y"] + grid["h"])}
        for other in sorted({taken[cell] for cell in cells if cell in taken}):
            problems.append(f"panel {panel['id']} overlaps panel {other}")
        taken.update(dict.fromkeys(cells, panel["id"]))
        for target in [panel] + panel.get("targets", []):
            if target.get("datasource", {}).get("uid") != "${datasource}":
                problems.append(f"panel {panel['id']}: not on the ${{datasource}} variable")
        for target in panel.get("targets", []):
            expr = re.sub(r"\$__(rate_interval|interval|range)", "5m", target["expr"])
            rules.append({"record": f"dashboard:panel{panel['id']}_{target['refId']}", "expr": expr})
    if problems:
        print("\n".join(problems))
        fail("the dashboard does not hold together")
    pathlib.Path(rules_out).write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    print(f"{len(panels)} panels, {len(rules)} queries")

# Every lienlac_* series the rules and the dashboard read must be one the services
# record, so that a renamed metric fails here and not at 7 a.m.
def metric_names(root, *files):
    recorded = {}
    for source in pathlib.Path(root, "services").rglob("*.rs"):
        for kind, name in re.findall(r'metrics::(counter|gauge|histogram)!\(\s*"(lienlac_\w+)"', source.read_text()):
            recorded[name] = kind
    known = set(recorded) | {name + suffix for name, kind in recorded.items() if kind == "histogram" for suffix in ("_bucket", "_sum", "_count")}
    used = {path: set(re.findall(r"\blienlac_[a-z0-9_]+", pathlib.Path(path).read_text())) for path in files}
    unknown = [f"{pathlib.Path(path).name}: {name} is recorded by no service" for path, names in used.items() for name in sorted(names - known)]
    if unknown:
        print("\n".join(unknown))
        fail("unknown metrics")
    print(f"{len(set().union(*used.values()))} used, all recorded by the services")

def provisioning(*paths):
    for path in paths:
        document = yaml.safe_load(open(path))
        if not isinstance(document, dict) or document.get("apiVersion") != 1:
            fail(f"{path}: not a Grafana provisioning file (apiVersion: 1)")
    print(f"{len(paths)} files")

try:
    {"collector": collector, "dashboard": dashboard, "panel-types": panel_types, "metrics": metric_names, "provisioning": provisioning}[sys.argv[1]](*sys.argv[2:])
except (OSError, ValueError, yaml.YAMLError) as error:  # a file that does not parse
    fail(f"{type(error).__name__}: {error}")
PY

validate() { python3 -c "$VALIDATE" "$@"; }

find_promtool
python_deps
grafana_schemas
say "$("$PROMTOOL" --version 2>&1 | head -n 1)"

cd "$HERE"

check "prometheus.yml (promtool check config)" promtool_quiet check config prometheus.yml
check "alerts.yml (promtool check rules)" promtool_quiet check rules alerts.yml
check "alerts.test.yml (promtool test rules)" promtool_quiet test rules alerts.test.yml
check "otel-collector.yaml" validate collector otel-collector.yaml schemas/otelcol-config.schema.json
check "grafana/morning.json (@grafana/schema $GRAFANA_SCHEMA_VERSION)" validate dashboard grafana/morning.json "$SCHEMAS" "$WORK/dashboard.rules.yml"
if [[ -s $WORK/dashboard.rules.yml ]]; then
  check "grafana/morning.json queries (promtool check rules)" promtool_quiet check rules "$WORK/dashboard.rules.yml"
fi
check "grafana/provisioning" validate provisioning grafana/provisioning/*/*.yml
check "metric names (rules, tests, dashboard)" validate metrics "$ROOT" alerts.yml alerts.test.yml grafana/morning.json

if ((FAILED)); then
  say "$FAILED check(s) failed"
  exit 1
fi
say "all checks passed"
