#!/usr/bin/env python3
"""check_compose.py - part (c) of compose/check.sh: the consistency of
compose/docker-compose.yml, compose/Dockerfile, compose/stack.sh and
compose/klabel.properties with each other and with the code (plugin/config_keys.c,
the klabel binary's --help, tests/kafka/pom.xml, scripts/deps.sh, Makefile).

Usage: check_compose.py REPO [HELPFILE]   (HELPFILE: `klabel --help`,
`klabel run --help` and `klabel train --help` output, or "" when there is no
binary). Prints what it compared, one "PROBLEM: ..." line per problem, and
exits 1 if there is any. Needs PyYAML.
"""
import os, re, shlex, sys
import yaml

repo = sys.argv[1]
helpfile = sys.argv[2] if len(sys.argv) > 2 else ""
C = os.path.join(repo, "compose")
problems = []
def problem(msg): problems.append(msg)
def read(p): return open(os.path.join(repo, p), encoding="utf-8").read()

def interp(v):
    """Compose interpolation with no variables set: defaults, and $$ -> $."""
    if isinstance(v, str):
        v = re.sub(r"\$\{(\w+):?-([^}]*)\}", r"\2", v)
        return v.replace("$$", "$")
    if isinstance(v, list): return [interp(x) for x in v]
    if isinstance(v, dict): return {k: interp(x) for k, x in v.items()}
    return v

dc = interp(yaml.safe_load(read("compose/docker-compose.yml")))
sv = dc.get("services", {})
want = {"kafka", "init", "trainer", "klabel", "producer", "consumer"}
if set(sv) != want:
    problem(f"services are {sorted(sv)}, expected {sorted(want)}")
def cmd(name):
    c = sv.get(name, {}).get("command", [])
    return shlex.split(c) if isinstance(c, str) else list(c)
def env(name): return sv.get(name, {}).get("environment", {}) or {}

stack = read("compose/stack.sh")
def sh_array(name):
    m = re.search(rf"^{name}=\((.*)\)$", stack, re.M)
    if not m: problem(f"stack.sh has no {name}=(...) line"); return []
    return shlex.split(m.group(1))
def sh_var(name):
    m = re.search(rf"^{name}=(\S+)", stack, re.M)
    if not m: problem(f"stack.sh has no {name}= line"); return None
    return m.group(1)

props = {}
for line in read("compose/klabel.properties").splitlines():
    line = line.strip()
    if line and line[0] not in "#!":
        k, _, v = line.partition("=")
        props[k.strip()] = v.strip()

# -- topics -----------------------------------------------------------------
ct = env("init").get("TOPICS", "")
compose_topics = dict(t.split(":", 1) for t in ct.split())
st = sh_array("TOPICS")
stack_topics = dict(zip(st[0::2], st[1::2]))
print(f"topics: compose {compose_topics}")
if compose_topics != stack_topics:
    problem(f"topics differ: compose init TOPICS {compose_topics} vs stack.sh TOPICS {stack_topics}")
if "$TOPICS" not in " ".join(cmd("init")) and "${TOPICS}" not in " ".join(cmd("init")):
    problem("the init command does not use $TOPICS")
def topic_args(c):
    s = " ".join(c)
    return re.findall(r"--topic[ =]+([\w.-]+)", s)
prod_topics = topic_args(cmd("producer"))
cons_topics = topic_args(cmd("consumer"))
for t in prod_topics + cons_topics:
    if t not in compose_topics: problem(f"compose uses topic {t!r}, which init does not create")
inputs = [t.strip() for t in props.get("input.topics", "").split(",") if t.strip()]
for k, ts in (("input.topics", inputs), ("output.topic", [props.get("output.topic")]),
              ("dlq.topic", [props.get("dlq.topic", "klabel-dlq")])):
    for t in ts:
        if t not in compose_topics: problem(f"klabel.properties {k}={t} is not a topic that init creates")
if set(compose_topics) != set(inputs) | {props.get("output.topic"), props.get("dlq.topic", "klabel-dlq")}:
    problem(f"init creates {sorted(compose_topics)} but klabel.properties uses "
            f"{sorted(set(inputs) | {props.get('output.topic'), props.get('dlq.topic')})}")
if prod_topics != [sh_var("INPUT_TOPIC")] or sh_var("INPUT_TOPIC") not in inputs:
    problem(f"producer topic {prod_topics} / stack.sh INPUT_TOPIC {sh_var('INPUT_TOPIC')} / input.topics {inputs} disagree")
if cons_topics != [props.get("output.topic")] or sh_var("OUTPUT_TOPIC") != props.get("output.topic"):
    problem(f"consumer topic {cons_topics} / stack.sh OUTPUT_TOPIC / output.topic={props.get('output.topic')} disagree")
if sh_var("DLQ_TOPIC") != props.get("dlq.topic"):
    problem(f"stack.sh DLQ_TOPIC {sh_var('DLQ_TOPIC')} != dlq.topic {props.get('dlq.topic')}")

# -- bootstrap: the in-network listener everywhere --------------------------
bs = props.get("kafka.bootstrap.servers")
adv = env("kafka").get("KAFKA_ADVERTISED_LISTENERS", "")
if not bs or f"//{bs}" not in adv:
    problem(f"kafka.bootstrap.servers={bs} is not an advertised listener of kafka ({adv})")
for s in ("init", "producer"):
    if env(s).get("BOOTSTRAP") != bs: problem(f"{s} BOOTSTRAP={env(s).get('BOOTSTRAP')} != {bs}")
c = cmd("consumer")
if "--bootstrap-server" not in c or c[c.index("--bootstrap-server") + 1] != bs:
    problem(f"consumer --bootstrap-server is not {bs}")
hc = " ".join(sv["kafka"].get("healthcheck", {}).get("test", []))
if bs not in hc: problem(f"the kafka healthcheck does not probe {bs}")
for k in ("kafka.bootstrap.servers", "model.path"):
    if "s|^" + k.replace(".", "\\.") + "=" not in stack:
        problem(f"stack.sh does not rewrite {k}")

# -- model path and training arguments --------------------------------------
t = cmd("trainer")
if t[:1] != ["train"] or "-o" not in t or "-i" not in t:
    problem(f"trainer command is not 'train -i ... -o ...': {t}")
else:
    out = t[t.index("-o") + 1]
    if out != props.get("model.path"):
        problem(f"trainer writes {out} but klabel.properties model.path={props.get('model.path')}")
    vols = sv["trainer"].get("volumes", []) + sv["klabel"].get("volumes", [])
    mdir = os.path.dirname(out)
    for s in ("trainer", "klabel"):
        if not any(v.split(":")[1] == mdir for v in sv[s].get("volumes", [])):
            problem(f"{s} does not mount a volume at {mdir}")
    rest = [x for i, x in enumerate(t[1:], 1) if t[i - 1] not in ("-i", "-o") and x not in ("-i", "-o")]
    stack_args = sh_array("TRAIN_ARGS")
    if rest != stack_args:
        problem(f"training args differ: compose {rest} vs stack.sh TRAIN_ARGS {stack_args}")
    df = read("compose/Dockerfile")
    m = re.search(r"FROM runtime AS trainer.*?CMD (\[.*?\])\s*(?:\n\s*\n|\n#|$)", df, re.S)
    if not m:
        problem("Dockerfile trainer stage has no CMD [...]")
    else:
        import json
        dcmd = json.loads(m.group(1).replace("\\\n", ""))
        if dcmd != t:
            problem(f"Dockerfile trainer CMD {dcmd} != compose trainer command {t}")
    print(f"trainer: klabel {' '.join(t)}")
    if "-i" in t:
        inp = t[t.index("-i") + 1]
        if os.path.basename(inp) not in df: problem(f"Dockerfile does not put {inp} in the trainer image")

# -- the klabel service ------------------------------------------------------
k = cmd("klabel")
if k[:2] != ["run", "-c"] or len(k) < 3:
    problem(f"klabel command is not 'run -c FILE': {k}")
else:
    if not any(v.startswith("./klabel.properties:" + k[2]) for v in sv["klabel"].get("volumes", [])):
        problem(f"klabel does not mount ./klabel.properties at {k[2]}")
dep = sv["klabel"].get("depends_on", {})
for s in ("init", "trainer"):
    if dep.get(s, {}).get("condition") != "service_completed_successfully":
        problem(f"klabel does not wait for {s} to complete successfully")
if sv["klabel"].get("restart") != "on-failure": problem("klabel restart is not on-failure")
for s in ("init", "producer", "consumer"):
    d = sv[s].get("depends_on", {})
    key = "kafka" if s == "init" else "init"
    cond = "service_healthy" if s == "init" else "service_completed_successfully"
    if d.get(key, {}).get("condition") != cond: problem(f"{s} does not depend on {key} ({cond})")
p = " ".join(cmd("producer"))
for frag in ("kafka-console-producer.sh", "parse.key=true", "key.separator="):
    if frag not in p: problem(f"producer command lacks {frag}")
    if frag.split(".sh")[0] != "kafka-console-producer" and frag not in stack:
        problem(f"stack.sh producer lacks {frag}")
if "kafka-console-consumer.sh" not in " ".join(cmd("consumer")): problem("consumer does not run kafka-console-consumer.sh")
for cls in ("org.apache.kafka.tools.ConsoleProducer", "org.apache.kafka.tools.consumer.ConsoleConsumer"):
    if cls not in stack: problem(f"stack.sh does not use {cls}")
if "print.key=true" not in stack: problem("stack.sh consumer does not print keys")
if re.search(r"klabel.properties", stack) is None: problem("stack.sh does not read compose/klabel.properties")

# -- config keys: declared in plugin/config_keys.c (and the binary's --help) -
keys_c = os.path.join(repo, "plugin/config_keys.c")
declared = set(re.findall(r'\{\s*"([a-z0-9_.]+)"\s*,\s*KL_CFG_', open(keys_c).read())) if os.path.exists(keys_c) else None
helptext = open(helpfile, encoding="utf-8", errors="replace").read() if helpfile and os.path.exists(helpfile) else ""
for key in props:
    if key.startswith("kafka."):
        continue
    if declared is not None and key not in declared:
        problem(f"klabel.properties key {key} is not declared in plugin/config_keys.c")
    if helptext and key not in helptext:
        problem(f"klabel.properties key {key} is not in `klabel run --help`")
for key in ("input.topics", "output.topic", "model.path", "kafka.bootstrap.servers"):
    if key not in props: problem(f"klabel.properties lacks {key}")
if helptext:
    for word in ("train", "run"):
        if not re.search(rf"\b{word}\b", helptext): problem(f"`klabel --help` does not mention the {word} command")
    for flag in [x for x in t if x.startswith("-")]:
        if flag not in helptext: problem(f"`klabel train --help` does not mention {flag}")

# -- image versions ------------------------------------------------------------
pom = read("tests/kafka/pom.xml")
m = re.search(r"<kafka.version>([^<]+)</kafka.version>", pom)
kv = m.group(1) if m else None
imgs = {s: sv[s].get("image") for s in ("kafka", "init", "consumer")}
for s, img in imgs.items():
    if img != f"apache/kafka:{kv}":
        problem(f"{s} image {img} != apache/kafka:{kv} of tests/kafka/pom.xml (the harness stack.sh runs)")
m = re.search(r"^ARG KAFKA_IMAGE=(\S+)", df, re.M)
if not m or m.group(1) != f"apache/kafka:{kv}":
    problem(f"Dockerfile ARG KAFKA_IMAGE is not apache/kafka:{kv}")
print(f"kafka image: apache/kafka:{kv} (harness jars {kv})")

# -- Dockerfile: packages and sources ---------------------------------------
deps = read("scripts/deps.sh")
# test-only libraries: Criterion (unit tests), clang's runtime (libFuzzer)
dev_deps = {p for p in re.findall(r"\blib[\w.+-]*-dev\b", deps)
            if p != "libcriterion-dev" and not p.startswith("libclang-rt-")}
build_stage = df.split("AS build", 1)[1].split("\nFROM ", 1)[0]
missing = sorted(p for p in dev_deps if p not in build_stage)
if missing: problem(f"Dockerfile build stage lacks {missing} of scripts/deps.sh")
mk = read("Makefile")
src_dirs = set(re.findall(r"\$\(wildcard ([\w-]+)/", mk)) - {"tests"}
copied = set(re.findall(r"^COPY (?!--from)([\w-]+)/", build_stage, re.M))
if src_dirs - copied: problem(f"Makefile builds from {sorted(src_dirs)}, Dockerfile copies {sorted(copied)}")
print(f"build stage copies {sorted(copied)}; Makefile sources {sorted(src_dirs)}")
# Every COPY source (not --from) exists in the work tree, and a folder is not
# empty (git keeps no empty folder, so a fresh clone would lack it).
for line in re.findall(r"^COPY (?!--from)(.+)$", df, re.M):
    for src in shlex.split(line)[:-1]:
        if src.startswith("--"):
            continue
        path = os.path.join(repo, src)
        if not os.path.exists(path):
            problem(f"Dockerfile copies {src}, which does not exist")
        elif os.path.isdir(path) and not any(files for _, _, files in os.walk(path)):
            problem(f"Dockerfile copies {src}, an empty folder (absent from a fresh clone)")
for f in ("train.tsv", "events.txt", "truth.tsv"):
    if f not in read("compose/thucnews.py"): problem(f"thucnews.py does not write {f}")
pr = " ".join(cmd("producer"))
for f in re.findall(r"/usr/share/klabel/data/([\w.-]+)", pr):
    if not re.search(rf"COPY --from=data[^\n]*/data/{re.escape(f)}[^\n]*/usr/share/klabel/data/", df):
        problem(f"producer reads {f}, which the Dockerfile does not copy into the producer image")

for p in problems: print(f"PROBLEM: {p}")
sys.exit(1 if problems else 0)
