#!/usr/bin/env python3
"""stage_bench.py: klabel side by side with the Python stages a user would
otherwise write, on one real Kafka broker, in one run (`make bench`).

Systems: (a) klabel pass-through (stage.inference=false, the ceiling),
(b) klabel with the model, (c) confluent-kafka + fastText
(peers/ck_fasttext.py), (d) Quix Streams + fastText
(peers/quix_fasttext.py). Same events (THUCNews headlines replayed), same
model (stage_model.py), same broker, fresh topics for every run.

For each system:
  saturation  pre-load --sat-events into a 4-partition topic, let the
              machine settle (sync, broker idle), start the
              stage, read every result back (klbench collect): throughput
              between the first and the last result, and the stage
              process's user+sys CPU seconds over that window per million
              events (capped at --sat-cap s of results). No system stamps
              latency headers here (klabel loads no kl_trace_ic.so, the
              Python stages run without --trace): the stamps are the
              benchmark's instruments, not the stage's own cost;
  rates       new topics, the stage started and warmed up, then each
              offered rate (klbench gen, paced) for --rate-seconds:
              consume-to-produce (the stage's bench.c_us -> bench.p_us
              stamps) and end-to-end (generator send -> collector receive)
              p50 / p99 / p99.9, or "fell behind" with the achieved rate.
For klabel, /metrics is scraped around every phase (batch close reasons
and lateness, klabel's own latency histograms). (b) then runs the rates
once more with batch.close.idle=false, so that deadlines close its
batches: the batch close lateness target counts those closes.

Writes results/bench/<time>/results.json, latency_vs_load.png,
latency_cdf_10k.png, the logs, and the section "## Stage throughput and
latency" of docs/benchmarks.md (plots copied to docs/img/). Run with the
reference venv's python (it needs confluent-kafka, quixstreams, fasttext,
matplotlib); `make bench` builds the tools and does so."""
import argparse
import datetime
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
import stage_procs as sp  # noqa: E402
import stage_report as rep  # noqa: E402

SYSTEMS = [
    ("a", "klabel pass-through", "klabel"),
    ("b", "klabel + model", "klabel"),
    ("c", "confluent-kafka + fastText (Python)", "ck"),
    ("d", "Quix Streams + fastText (Python)", "quix"),
]
WARMUP_BASE = 900_000_000


class Bench:
    def __init__(self, a):
        self.a = a
        self.t0 = time.time()
        self.stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
        self.out = os.path.abspath(os.path.join(a.out, self.stamp))
        self.work = os.path.join(self.out, "work")
        os.makedirs(self.work, exist_ok=True)
        self.run_id = self.stamp.replace("-", "")
        self.broker_sh = os.path.join(REPO, "tests", "kafka", "broker.sh")
        self.broker_dir = os.path.join(self.work, "broker")
        self.keys = self.klabel_keys()
        self.rt = self.rt_priority()
        # The paced generator keeps its schedule better under SCHED_FIFO on
        # the busy machine (it fell up to ~60 ms behind without): where
        # permitted, for every system alike.
        gp = self.a.gen_rt_priority
        self.gen_prefix = (["chrt", "-f", str(gp)] if gp > 0 and shutil.which("chrt")
                           and self.may_rt(gp) else [])

    def log(self, msg):
        print(f"[bench {time.time() - self.t0:6.1f}s] {msg}", flush=True)

    def rt_priority(self):
        """The stage.source.rt.priority (a) and (b) run with: --rt-priority
        where this klabel has the key and the process may use SCHED_FIFO at
        that priority (root, or RLIMIT_RTPRIO), else 0."""
        p = self.a.rt_priority
        if p <= 0 or "stage.source.rt.priority" not in self.keys:
            return 0
        return p if self.may_rt(p) else 0

    @staticmethod
    def may_rt(prio):
        """True when this process (and its children) may use SCHED_FIFO prio."""
        soft = resource.getrlimit(resource.RLIMIT_RTPRIO)[0]
        return os.geteuid() == 0 or soft == resource.RLIM_INFINITY or soft >= prio

    def jitter(self, secs=5):
        """klbench jitter on the quiet machine (broker up, no stage): the
        scheduling noise floor under every latency figure."""
        r = subprocess.run([self.a.klbench, "jitter", "-s", str(secs)], capture_output=True, text=True)
        try:
            return json.loads(r.stdout)
        except ValueError:
            return {"error": (r.stderr or r.stdout).strip()[:300]}

    def klabel_keys(self):
        out = subprocess.run([self.a.klabel, "config", "--markdown"], capture_output=True, text=True).stdout
        return {line.split("`")[1] for line in out.splitlines() if line.startswith("| `")}

    # ------------------------------------------------------------ systems

    def klabel_conf(self, name, tin, tout, group, passthrough, metrics_port, trace, extra=None):
        conf = {
            "kafka.bootstrap.servers": self.bs,
            "input.topics": tin,
            "output.topic": tout,
            "dlq.topic": tout + "-dlq",
            "group.id": group,
            "model.path": self.model["safetensors"],
            "model.top.k": "1",
            "batch.max.size": str(self.a.batch),
            "batch.max.delay.us": str(self.a.delay_us),
            "log.level": "info",
        }
        if trace:
            conf["kafka.plugin.library.paths"] = self.a.trace_ic
        if "workers" in self.keys:
            conf["workers"] = str(self.a.workers)
        if passthrough:
            conf["stage.inference"] = "false"
        if self.rt:
            conf["stage.source.rt.priority"] = str(self.rt)
        if self.a.producer_nice > 0 and "stage.producer.nice" in self.keys:
            conf["stage.producer.nice"] = str(self.a.producer_nice)
        if metrics_port and "metrics.port" in self.keys:
            conf["metrics.port"] = str(metrics_port)
        conf.update(extra or {})
        path = os.path.join(self.work, name + ".properties")
        with open(path, "w") as f:
            f.write(f"# stage benchmark: {name}\n")
            f.writelines(f"{k}={v}\n" for k, v in conf.items())
        return path, conf

    def start_system(self, key, kind, name, tin, tout, group, trace=True, extra=None):
        """Starts system key on tin -> tout; returns (Proc, metrics_port).
        trace: stamp bench.c_us / bench.p_us into every result (the
        latency phases need them; saturation runs go without). extra:
        klabel settings of a variant run (not the reported settings)."""
        log = os.path.join(self.work, name + ".log")
        if kind == "klabel":
            port = sp.free_port() if "metrics.port" in self.keys else None
            path, conf = self.klabel_conf(name, tin, tout, group, key == "a", port, trace, extra)
            if extra:
                return sp.Proc(name, [self.a.klabel, "run", "-c", path], log), port
            self.klabel_settings = {k: v for k, v in conf.items()
                                    if k not in ("kafka.bootstrap.servers", "input.topics", "output.topic",
                                                 "dlq.topic", "group.id", "model.path", "metrics.port",
                                                 "kafka.plugin.library.paths")}
            return sp.Proc(name, [self.a.klabel, "run", "-c", path], log), port
        py = [sys.executable, os.path.join(HERE, "peers",
                                           "ck_fasttext.py" if kind == "ck" else "quix_fasttext.py"),
              "--bootstrap", self.bs, "--input", tin, "--output", tout, "--group", group,
              "--model", self.model["bin"]] + (["--trace"] if trace else [])
        if kind == "ck":
            py += ["--dlq", tout + "-dlq", "--batch", str(self.a.batch), "--timeout-ms", "1"]
        else:
            py += ["--state-dir", os.path.join(self.work, name + "-state")]
        return sp.Proc(name, py, log, cwd=self.work), None

    def topics(self, prefix):
        tin, tout = prefix + "-in", prefix + "-out"
        sp.make_topics(self.broker_sh, self.broker_dir, [(tin, 4), (tout, 4), (tout + "-dlq", 1)])
        return tin, tout

    # ------------------------------------------------------------- phases

    def saturation(self, key, kind, n, rnd=1):
        name = f"{key}-sat{rnd}"
        tin, tout = self.topics(f"b{self.run_id}-{key}-sat{rnd}")
        self.log(f"({key}) saturation, round {rnd}: pre-loading {n:,} events")
        g = sp.gen(self.a.klbench, self.bs, tin, self.model["texts"], 0, n, 0,
                   os.path.join(self.work, name + "-gen.log"))
        # Every round starts on a quiet machine: in the order a, b, c, d
        # each round of (b) began while the broker still wrote out and
        # deleted (a)'s two million records of the round before, and (b)'s
        # later rounds took 3.0-4.0 CPU s per 1M against 2.6-2.8 in its
        # first (which follows (a)'s light rate phases) in two runs.
        settle_s = sp.settle(self.broker_pid)
        col = sp.Collector(self.a.klbench, self.bs, tout, os.path.join(self.work, name + ".bin"),
                           os.path.join(self.work, name + "-collect.log"))
        t_start = sp.now_us()
        proc, port = self.start_system(key, kind, name, tin, tout, f"b{self.run_id}-{key}-sat{rnd}",
                                       trace=False)
        sampler = sp.CpuSampler({"stage": proc.pid, "broker": self.broker_pid, "collector": col.pid,
                                 "driver": os.getpid()}, mem=("stage",))
        sampler.start()
        t_wait = time.time()
        while col.count == 0 and proc.alive() and time.time() - t_wait < 120:
            time.sleep(0.02)
        # at most sat_cap s of results; give up after 15 s without a new one
        t_first, last_n, last_t = time.time(), col.count, time.time()
        while 0 < col.count < n and proc.alive() and time.time() - t_first < self.a.sat_cap:
            if col.count != last_n:
                last_n, last_t = col.count, time.time()
            elif time.time() - last_t > 15:
                break
            time.sleep(0.02)
        got = col.count
        after = sp.parse_metrics(sp.scrape(port)) if port and proc.alive() else None
        sampler.stop()
        hwm = sp.proc_mem_kb(proc.pid).get("VmHWM")  # the kernel's peak, file pages too
        rc = proc.stop()
        recs, labels = col.stop()
        res = rep.sat_stats(recs, sampler, ["stage", "broker", "collector", "driver"], "stage", t_start, n)
        if after:
            res["metrics"] = rep.stage_profile(after)
        res["stage_mem_mb"] = {
            "peak_rss_anon": (round(sampler.peak_anon_kb["stage"] / 1024, 1)
                              if "stage" in sampler.peak_anon_kb else None),
            "vm_hwm": round(hwm / 1024, 1) if hwm else None}
        res["generator_rate"] = round(g["achieved_rate"], 1)
        res["settle_s"] = settle_s
        res["exit_code"] = rc
        res["round"] = rnd
        if not got:
            res["note"] = "no result within 120 s: " + proc.tail(5)
        self.log(f"({key}) saturation: {res.get('throughput', 0):,.0f} events/s, "
                 f"{res.get('cpu_s_per_M', '?')} CPU s per 1M events ({res['received']:,} results, exit {rc})")
        self.labels[key] = (recs, labels)
        # Every round on the same broker state: a round leaves 1M-event
        # topics behind, and later rounds of (a) and (b) measured 15-30%
        # more CPU per event on a broker holding several of them.
        failed = sp.delete_topics(self.bs, [tin, tout, tout + "-dlq"])
        if failed:
            self.log(f"({key}) saturation round {rnd}: topics not deleted: {failed}")
        return res

    def rates(self, key, kind, variant="", extra=None):
        """The offered-rate phases of system key; variant/extra: a second
        run of klabel with other settings (its own topics, group and
        logs; no latency distribution plot)."""
        name = f"{key}-rates{variant}"
        tin, tout = self.topics(f"b{self.run_id}-{name}")
        col = sp.Collector(self.a.klbench, self.bs, tout, os.path.join(self.work, name + ".bin"),
                           os.path.join(self.work, name + "-collect.log"))
        proc, port = self.start_system(key, kind, name, tin, tout, f"b{self.run_id}-{name}", extra=extra)
        sampler = sp.CpuSampler({"stage": proc.pid, "broker": self.broker_pid, "collector": col.pid,
                                 "driver": os.getpid()})
        sampler.start()
        out, skipped, gens, scrapes = {}, {}, {}, {}
        wn = self.a.warmup
        gw = sp.gen(self.a.klbench, self.bs, tin, self.model["texts"], 1000, wn, WARMUP_BASE,
                    os.path.join(self.work, name + "-gen.log"))
        expected = gw["sent"]
        if col.wait_count(expected, 120, idle=20) < expected:
            sampler.stop()
            proc.stop()
            col.stop()
            raise RuntimeError(f"({key}) warm-up: {col.count} of {expected} results; log:\n{proc.tail()}")
        behind_at = None
        for i, rate in enumerate(self.a.rates):
            if behind_at is not None:
                skipped[str(rate)] = f"not run: the backlog of {behind_at:,}/s did not clear"
                continue
            if not proc.alive():
                skipped[str(rate)] = "not run: the stage exited"
                continue
            before = sp.parse_metrics(sp.scrape(port)) if port else None
            n = int(rate * self.a.rate_seconds)
            self.log(f"({key}) {rate:,}/s for {self.a.rate_seconds} s")
            g = sp.gen(self.a.klbench, self.bs, tin, self.model["texts"], rate, n, (i + 1) * 100_000_000,
                       os.path.join(self.work, name + "-gen.log"), sampler, self.gen_prefix)
            gens[str(rate)] = g
            expected += g["sent"]
            col.wait_count(expected, 3 + self.a.rate_seconds * 0.2, idle=3)
            after = sp.parse_metrics(sp.scrape(port)) if port else None
            scrapes[str(rate)] = (before, after)
            if col.count < expected and i + 1 < len(self.a.rates):
                # Let the backlog clear before the next rate (or give up).
                if col.wait_count(expected, 20, idle=10) < expected:
                    behind_at = rate
            out[str(rate)] = None
        sampler.stop()
        rc = proc.stop()
        recs, labels = col.stop()
        for i, rate in enumerate(self.a.rates):
            if str(rate) not in out:
                continue
            ph = rep.phase_stats(recs, (i + 1) * 100_000_000, gens[str(rate)], sampler,
                                 ["stage", "broker", "collector", "generator", "driver"], "stage")
            before, after = scrapes[str(rate)]
            if after:
                ph["metrics"] = {
                    "batch_close_lateness_s": rep.hist_quantiles(before, after, "klabel_batch_close_lateness_seconds"),
                    "batches_by_reason": rep.counter_delta(before, after, "klabel_batches_total"),
                    "batch_size": rep.hist_quantiles(before, after, "klabel_batch_size"),
                    "klabel_consume_to_produce_s": rep.hist_quantiles(before, after, "klabel_consume_to_produce_seconds"),
                }
            out[str(rate)] = ph
            if str(rate) == "10000" and not variant:
                sel = (recs["id"] >= (i + 1) * 100_000_000) & (recs["id"] < (i + 2) * 100_000_000)
                r = recs[sel]
                ok = (r["c"] > 0) & (r["p"] > 0)
                self.cdf[key] = {"c2p": (r["p"] - r["c"])[ok], "e2e": r["recv"] - r["sent"],
                                 "kept_up": ph.get("kept_up")}
            c = (ph.get("c2p_ms") or {})
            e = (ph.get("e2e_ms") or {})
            self.log(f"({key}) {rate:,}/s: {'kept up' if ph.get('kept_up') else 'FELL BEHIND'}, "
                     f"achieved {ph.get('achieved_rate')}/s, c2p p50/p99 {c.get('p50')}/{c.get('p99')} ms, "
                     f"e2e p50/p99 {e.get('p50')}/{e.get('p99')} ms")
        return {"rates": out, "rates_skipped": skipped, "rates_exit_code": rc,
                "warmup_events": wn}

    # ---------------------------------------------------------------- run

    def run(self):
        a = self.a
        self.log(f"results in {self.out}")
        # The broker keeps a round's topics until the round is over: about
        # 1 GB for 1M events in and out. A full disk stops the broker (its
        # log says "No space left on device") and every later phase fails.
        free_gb = shutil.disk_usage(self.out).free / 1e9
        self.log(f"free disk under {self.out}: {free_gb:.1f} GB")
        if free_gb < 5:
            sys.exit(f"stage_bench: only {free_gb:.1f} GB free under {self.out}; "
                     "the broker needs about 5 GB (free some space first)")
        la0 = os.getloadavg()
        self.log("model: fastText on THUCNews, imported into klabel")
        r = subprocess.run([sys.executable, os.path.join(HERE, "stage_model.py"), "--klabel", a.klabel,
                            "--data", a.data, "--out", a.model_dir], capture_output=True, text=True)
        if r.returncode:
            sys.exit(f"stage_model.py failed:\n{r.stderr}")
        self.model = json.loads(r.stdout)
        if a.bootstrap:
            self.bs, self.broker_dir = a.bootstrap, a.broker_dir
        else:
            self.log("starting a Kafka broker")
            self.bs = subprocess.run(["bash", self.broker_sh, "start", self.broker_dir], check=True,
                                     capture_output=True, text=True).stdout.strip()
        with open(os.path.join(self.broker_dir, "pid")) as f:
            self.broker_pid = int(f.read())
        self.labels, self.cdf = {}, {}
        self.log("machine jitter: a spinning thread for 5 s, broker idle")
        self.jitter_res = self.jitter()
        self.log(f"jitter: {self.jitter_res}")
        if self.gen_prefix:
            self.log(f"paced generator under {' '.join(self.gen_prefix)}")
        if self.rt:
            self.log(f"(a), (b): stage.source.rt.priority={self.rt}")
        else:
            self.log("(a), (b): without stage.source.rt.priority (off, or SCHED_FIFO not permitted)")
        systems = {}
        try:
            # The broker's JVM compiles its produce and fetch paths during
            # the first million records or so: the first saturation round
            # of a run measured 3-4x the broker CPU of every later round.
            # One unmeasured round of (b) first, so that every measured
            # round meets a warm broker.
            if "b" in a.systems and a.sat_rounds > 1:
                self.log("broker warm-up: one unmeasured saturation round of (b)")
                try:
                    self.saturation("b", "klabel", a.sat_events["b"], "warmup")
                except RuntimeError as e:
                    self.log(f"broker warm-up: {e}")
            for key, label, kind in SYSTEMS:
                if key not in a.systems:
                    continue
                s = systems[key] = {"name": label, "kind": kind, "available": True,
                                    "loadavg_before": os.getloadavg()}
                if key == "a" and "stage.inference" not in self.keys:
                    s.update(available=False, skipped="this klabel has no stage.inference key")
                    self.log("(a) skipped: no stage.inference in this klabel")
                    continue
                try:
                    s["saturation_rounds"] = [self.saturation(key, kind, a.sat_events[key])]
                    s.update(self.rates(key, kind))
                except RuntimeError as e:
                    s["error"] = str(e)
                    self.log(f"({key}) error: {e}")
                s["loadavg_after"] = os.getloadavg()
            # Batch close lateness where deadlines close the batches: in
            # the runs above an idle worker takes most batches at once, and
            # a rate phase has a few dozen to a few hundred deadline closes
            # (those that met a busy worker), too few for a p99. The same
            # rates again with batch.close.idle=false: every batch closes
            # at batch.max.delay.us (or full), thousands a second.
            b = systems.get("b")
            if b and b.get("available") and not b.get("error") and "batch.close.idle" in self.keys:
                self.log("(b) the rates again with batch.close.idle=false (deadline closes)")
                try:
                    b["deadline_rates"] = self.rates("b", "klabel", "-deadline",
                                                     {"batch.close.idle": "false"})["rates"]
                except RuntimeError as e:
                    self.log(f"(b) deadline rates: {e}")
            # More saturation rounds after all the rest, so that a burst of
            # other work on the shared machine hits one round, not all.
            # (a) and (b) get more of them (--ab-rounds): their ratio is a
            # target within the noise of one round (+-30% here), and each
            # pair of rounds one just after the other is one more look at
            # it (stage_report.targets).
            # Within a pair the order alternates (round 2: (b) first, round
            # 3: (a) first, ...), so that neither system always meets the
            # machine just after the other's round.
            for rnd in range(2, max(a.sat_rounds, a.ab_rounds) + 1):
                order = SYSTEMS if rnd % 2 else [SYSTEMS[1], SYSTEMS[0]] + SYSTEMS[2:]
                for key, label, kind in order:
                    s = systems.get(key)
                    if not s or not s.get("available") or s.get("error"):
                        continue
                    if rnd > (a.ab_rounds if key in "ab" else a.sat_rounds):
                        continue
                    try:
                        s["saturation_rounds"].append(self.saturation(key, kind, a.sat_events[key], rnd))
                    except RuntimeError as e:
                        self.log(f"({key}) saturation round {rnd}: {e}")
            for s in systems.values():
                # The extremes below are taken over the same rounds for
                # every system, 1 to --sat-rounds: the best of 10 or 20
                # rounds of (b) against the best of 5 of (c) would favour
                # (b) by its number of draws alone. The further rounds of
                # (a) and (b) count only in their pairs (stage_report).
                rounds = [r for i, r in enumerate(s.get("saturation_rounds", []))
                          if r.get("throughput") and r.get("round", i + 1) <= a.sat_rounds]
                if rounds:
                    # Throughput: the round with the most; CPU per event:
                    # the round with the least. Other work on the shared
                    # machine only ever slows a process and adds to its CPU
                    # (cache and scheduler disturbance), so each extreme is
                    # the least disturbed measurement, for every system.
                    s["saturation"] = dict(max(rounds, key=lambda r: r["throughput"]),
                                           rounds=len(rounds))
                    cpus = [r for r in rounds if r.get("cpu_s_per_M")]
                    if cpus:
                        least = min(cpus, key=lambda r: r["cpu_s_per_M"])
                        s["saturation"]["cpu_s_per_M"] = least["cpu_s_per_M"]
                        s["saturation"]["cpu_s_per_M_rounds"] = [r["cpu_s_per_M"] for r in cpus]
                    # Memory: the most any round needed (what to provision),
                    # of all rounds.
                    for m in ("peak_rss_anon", "vm_hwm"):
                        v = [r["stage_mem_mb"][m] for r in s["saturation_rounds"]
                             if (r.get("stage_mem_mb") or {}).get(m) is not None]
                        if v:
                            s["saturation"].setdefault("stage_mem_mb_max", {})[m] = max(v)
        finally:
            if not a.bootstrap:
                subprocess.run(["bash", self.broker_sh, "stop", self.broker_dir], capture_output=True)
        self.report(systems, la0)

    def agreement(self):
        """Share of events whose top label equals (b)'s, per system."""
        import numpy as np
        if "b" not in self.labels:
            return {}
        def table(key):
            recs, labels = self.labels[key]
            names = np.array(labels + [""], dtype=object)
            return dict(zip(recs["id"].tolist(), names[recs["label"]].tolist()))
        tb = table("b")
        out = {}
        for k in "cd":
            if k in self.labels:
                tk = table(k)
                common = [i for i in tk if i in tb]
                same = sum(1 for i in common if tk[i] == tb[i])
                out[k] = {"events": len(common), "same_label_as_b": same}
        return out

    def report(self, systems, la0):
        a = self.a
        versions = {"librdkafka_system": "2.0.2"}
        for mod in ("confluent_kafka", "quixstreams", "fasttext", "numpy", "matplotlib"):
            try:
                m = __import__(mod)
                versions[mod] = getattr(m, "__version__", None) or (m.version()[0] if mod == "confluent_kafka" else "?")
            except Exception:  # noqa: BLE001 - a missing module is reported as such
                versions[mod] = None
        jars = [f for f in os.listdir(os.path.join(REPO, ".cache", "kafka", "libs"))
                if f.startswith("kafka_2.13-")] if os.path.isdir(os.path.join(REPO, ".cache", "kafka", "libs")) else []
        versions["kafka"] = jars[0][len("kafka_2.13-"):-4] if jars else "?"
        cpu_model = "?"
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu_model = line.split(":", 1)[1].strip()
                    break
        with open("/proc/meminfo") as f:
            mem_gb = round(int(f.readline().split()[1]) / 1024 / 1024, 1)
        git = subprocess.run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"], capture_output=True,
                             text=True).stdout.strip()
        res = {
            "started": datetime.datetime.fromtimestamp(self.t0).isoformat(timespec="seconds"),
            "duration_s": round(time.time() - self.t0, 1),
            "command": a.command,
            "git_head": git,
            "machine": {"nproc": os.cpu_count(), "cpu_model": cpu_model, "mem_gb": mem_gb,
                        "kernel": platform.release(), "loadavg_start": la0, "loadavg_end": os.getloadavg(),
                        "jitter": getattr(self, "jitter_res", None)},
            "versions": versions,
            "model": {k: v for k, v in self.model.items() if k != "key"},
            "data": {"set": "THUCNews headlines", "replayed": "event i carries headline i mod "
                     f"{self.model['headlines']}; the saturation runs replay the set "
                     + ", ".join(f"({k}) {n / self.model['headlines']:.0f}x" for k, n in a.sat_events.items()
                                 if k in a.systems)},
            "config": {"rates": a.rates, "rate_seconds": a.rate_seconds, "sat_events": a.sat_events,
                       "sat_rounds": a.sat_rounds,
                       "ab_rounds": a.ab_rounds,
                       "broker_warmup": "b" in a.systems and a.sat_rounds > 1,
                       "sat_cap_s": a.sat_cap, "warmup_events": a.warmup,
                       "klabel": getattr(self, "klabel_settings", {}),
                       "generator_prefix": " ".join(self.gen_prefix),
                       "python_consume": {"num_messages": a.batch, "timeout_ms": 1},
                       "partitions": 4},
            "systems": systems,
            "label_agreement_with_b": self.agreement(),
        }
        res["targets"] = rep.targets(res, a.rates)
        res["bottleneck"] = rep.bottleneck(res)
        files = rep.plots(res, a.rates, self.cdf, self.out)
        res["plots"] = files
        with open(os.path.join(self.out, "results.json"), "w") as f:
            json.dump(res, f, indent=1, default=float)
        if a.docs:
            write_docs(res, a.rates, files, a.docs)
        if not a.keep_work:
            for f in os.listdir(self.work):
                if f.endswith(".bin"):
                    os.remove(os.path.join(self.work, f))
            if not a.bootstrap:  # only the broker this run started
                shutil.rmtree(self.broker_dir, ignore_errors=True)
        self.log(f"done: {os.path.join(self.out, 'results.json')}")
        for t in res["targets"]:
            self.log(f"target {t['target']}: {t['value']} -> {t['met']} {t.get('note', '')}")


def write_docs(res, rates, plots, docs):
    """The stage section of docs (markdown) and its plots in docs' img/."""
    img = os.path.join(os.path.dirname(os.path.abspath(docs)), "img")
    os.makedirs(img, exist_ok=True)
    rel = {}
    for k, p in plots.items():
        shutil.copy(p, os.path.join(img, "bench-stage-" + os.path.basename(p)))
        rel[k] = "img/bench-stage-" + os.path.basename(p)
    rep.write_doc(docs, rep.markdown(res, rates, rel))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--klabel", default=os.path.join(REPO, "build", "klabel"))
    ap.add_argument("--klbench", default=os.path.join(REPO, "build", "klbench"))
    ap.add_argument("--trace-ic", default=os.path.join(REPO, "build", "kl_trace_ic.so"))
    ap.add_argument("--data", default=os.path.join(REPO, ".cache", "data", "thucnews.tsv"))
    ap.add_argument("--model-dir", default=None, help="default: <klabel's folder>/bench-model")
    ap.add_argument("--out", default=os.path.join(REPO, "results", "bench"))
    ap.add_argument("--docs", default=os.path.join(REPO, "docs", "benchmarks.md"),
                    help="markdown file whose stage section is replaced ('' = none)")
    ap.add_argument("--systems", default="abcd")
    ap.add_argument("--rates", default="1000,10000,50000")
    ap.add_argument("--rate-seconds", type=float, default=10)
    ap.add_argument("--sat-events", default="a=1000000,b=1000000,c=200000,d=60000")
    ap.add_argument("--sat-cap", type=float, default=20, help="s of results per saturation run at most")
    ap.add_argument("--sat-rounds", type=int, default=5,
                    help="saturation runs per system (the most throughput and the least CPU count)")
    ap.add_argument("--ab-rounds", type=int, default=40,
                    help="saturation runs of (a) and (b); rounds 2.. run in pairs, order "
                         "alternating, and the median of the pairs' ratios is a target "
                         "(the best-of figures take rounds 1..--sat-rounds of every system)")
    ap.add_argument("--warmup", type=int, default=2000)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--delay-us", type=int, default=200)
    # workers=0: the source thread runs every batch itself. On this 2-core
    # machine, shared with the broker and the collector, handing batches
    # to a worker thread cost both (a) and (b) more CPU per event than it
    # bought (docs/architecture.md, "Threads and batching"); --workers 1
    # measures the threaded stage.
    ap.add_argument("--workers", type=int, default=0)
    ap.add_argument("--gen-rt-priority", type=int, default=5,
                    help="run the paced generator under chrt -f this where permitted (0 = off)")
    ap.add_argument("--rt-priority", type=int, default=10,
                    help="stage.source.rt.priority of (a) and (b) where permitted (0 = off)")
    ap.add_argument("--producer-nice", type=int, default=10,
                    help="stage.producer.nice of (a) and (b) (0 = off): the broker shares the stage's cores here")
    ap.add_argument("--bootstrap", default=None, help="use this broker (with --broker-dir)")
    ap.add_argument("--broker-dir", default=None)
    ap.add_argument("--quick", action="store_true", help="smoke run: small counts, 3 s per rate")
    ap.add_argument("--keep-work", action="store_true")
    ap.add_argument("--render", metavar="RESULTS_JSON", default=None,
                    help="only rewrite the docs section (and its plots) from an earlier run")
    a = ap.parse_args()
    if a.render:
        with open(a.render) as f:
            res = json.load(f)
        res["targets"] = rep.targets(res, res["config"]["rates"])
        res["bottleneck"] = rep.bottleneck(res)
        write_docs(res, res["config"]["rates"], res["plots"], a.docs)
        return
    a.command = "make bench" if os.environ.get("KL_BENCH_FROM_MAKE") else " ".join(sys.argv)
    a.rates = [int(x) for x in a.rates.split(",")]
    a.sat_events = {k: int(v) for k, v in (x.split("=") for x in a.sat_events.split(","))}
    if a.quick:
        a.rate_seconds = min(a.rate_seconds, 3)
        a.sat_events = {k: min(v, 50000) for k, v in a.sat_events.items()}
        a.sat_cap = min(a.sat_cap, 8)
        a.warmup = min(a.warmup, 500)
        a.sat_rounds = 1
        a.ab_rounds = 1
    a.model_dir = a.model_dir or os.path.join(os.path.dirname(os.path.abspath(a.klabel)), "bench-model")
    for p in (a.klabel, a.klbench, a.trace_ic, a.data):
        if not os.path.exists(p):
            sys.exit(f"stage_bench: {p} not found (make bench builds the tools; tests/data/fetch.sh the data)")
    Bench(a).run()


if __name__ == "__main__":
    main()
