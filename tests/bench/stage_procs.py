"""stage_procs.py: the processes of the stage benchmark (used by
stage_bench.py): the systems under test as child processes, a sampler of
their CPU time (/proc/PID/stat utime + stime, the whole process with all
its threads) and of the whole machine's (/proc/stat), the latency
collector (klbench collect) followed through its progress lines, the load
generator (klbench gen), topic creation through the broker harness, and
scrapes of klabel's /metrics.

Clocks: CPU samples are stamped with time.time_ns() // 1000, CLOCK_REALTIME
microseconds, the clock of every stamp the collector records, so a CPU
reading can be interpolated at the moment of any result."""
import json
import os
import signal
import socket
import subprocess
import threading
import time
import urllib.request

import numpy as np

REC = np.dtype([("id", "<i8"), ("recv", "<i8"), ("sent", "<i8"), ("c", "<i8"),
                ("p", "<i8"), ("part", "<i4"), ("label", "<i4")])
TICK = os.sysconf("SC_CLK_TCK")


def now_us():
    return time.time_ns() // 1000


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def proc_cpu_s(pid):
    """utime + stime of pid in seconds (all threads), None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            parts = f.read().rsplit(")", 1)[1].split()
        return (int(parts[11]) + int(parts[12])) / TICK
    except (OSError, IndexError, ValueError):
        return None


def proc_mem_kb(pid):
    """{"RssAnon": kB, "VmHWM": kB} of pid from /proc/PID/status (the
    fields it has), {} if it is gone."""
    out = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                k, _, v = line.partition(":")
                if k in ("RssAnon", "VmHWM"):
                    out[k] = int(v.split()[0])
    except (OSError, IndexError, ValueError):
        return {}
    return out


def settle(pid, max_s=20.0, idle_cores=0.05, step=0.5):
    """Flushes the page cache's dirty pages (the broker's log writes) and
    waits until process pid (the broker) uses under idle_cores for one
    step, max_s at most; returns the seconds it took. A saturation round
    that starts right after another must not pay for the other's
    writeback and topic deletion."""
    t0 = time.time()
    os.sync()
    prev = proc_cpu_s(pid)
    while time.time() - t0 < max_s:
        time.sleep(step)
        cur = proc_cpu_s(pid)
        if prev is not None and cur is not None and cur - prev < idle_cores * step:
            break
        prev = cur
    return round(time.time() - t0, 2)


def machine_cpu_s():
    """(busy, total) CPU seconds of the whole machine since boot."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + (v[4] if len(v) > 4 else 0)
    total = sum(v[:8])
    return (total - idle) / TICK, total / TICK


class Proc:
    """A child process with its output in a log file."""

    def __init__(self, name, argv, log, env=None, cwd=None):
        self.name, self.argv, self.log = name, argv, log
        self.f = open(log, "ab")
        self.p = subprocess.Popen(argv, stdout=self.f, stderr=subprocess.STDOUT, env=env,
                                  cwd=cwd, start_new_session=True)
        self.pid = self.p.pid
        self.rc = None

    def alive(self):
        return self.p.poll() is None

    def stop(self, timeout=20):
        """SIGTERM, then SIGKILL after timeout s; returns the exit code."""
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(timeout)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        self.rc = self.p.returncode
        self.f.close()
        return self.rc

    def tail(self, n=15):
        try:
            with open(self.log, errors="replace") as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return ""


class CpuSampler(threading.Thread):
    """Samples the CPU seconds of named pids and of the machine every
    interval s: samples = [(t_us, {name: cpu_s}, (busy_s, total_s))]; for
    the names in mem also the largest anonymous resident memory seen
    (peak_anon_kb[name], kB)."""

    def __init__(self, pids, interval=0.05, mem=()):
        super().__init__(daemon=True)
        self.pids, self.interval = dict(pids), interval
        self.mem = tuple(mem)
        self.peak_anon_kb = {}
        self.samples = []
        self.halt = threading.Event()
        self.lock = threading.Lock()

    def add(self, name, pid):
        with self.lock:
            self.pids[name] = pid

    def run(self):
        while not self.halt.is_set():
            self.sample()
            self.halt.wait(self.interval)
        self.sample()

    def sample(self):
        with self.lock:
            pids = dict(self.pids)
        t = now_us()
        cpu = {n: proc_cpu_s(p) for n, p in pids.items()}
        self.samples.append((t, cpu, machine_cpu_s()))
        for n in self.mem:
            kb = proc_mem_kb(pids[n]).get("RssAnon") if n in pids else None
            if kb is not None and kb > self.peak_anon_kb.get(n, -1):
                self.peak_anon_kb[n] = kb

    def stop(self):
        self.halt.set()
        self.join()

    def at(self, name, t_us):
        """CPU seconds of name at t_us, interpolated between samples."""
        pts = [(t, c[name]) for t, c, _ in self.samples if c.get(name) is not None]
        if not pts:
            return None
        ts = np.array([p[0] for p in pts], dtype=np.float64)
        vs = np.array([p[1] for p in pts], dtype=np.float64)
        return float(np.interp(t_us, ts, vs))

    def machine_at(self, t_us):
        ts = np.array([s[0] for s in self.samples], dtype=np.float64)
        busy = np.array([s[2][0] for s in self.samples])
        total = np.array([s[2][1] for s in self.samples])
        return float(np.interp(t_us, ts, busy)), float(np.interp(t_us, ts, total))

    def window(self, t0, t1, names):
        """CPU seconds used by each name in [t0, t1] (µs), plus "machine"
        (all processes, in cores busy on average) and "others" (what the
        machine used beyond the named processes, in core-seconds)."""
        out = {}
        for n in names:
            a, b = self.at(n, t0), self.at(n, t1)
            out[n] = None if a is None or b is None else round(b - a, 3)
        b0, tot0 = self.machine_at(t0)
        b1, tot1 = self.machine_at(t1)
        secs = (t1 - t0) / 1e6
        busy = b1 - b0
        out["machine_busy_cores"] = round(busy / secs, 3) if secs > 0 else None
        out["machine_cores"] = round((tot1 - tot0) / secs, 2) if secs > 0 else None
        known = sum(v for k, v in out.items() if k in names and v is not None)
        out["others"] = round(busy - known, 3)
        return out


class Collector:
    """klbench collect on a topic, followed through its progress lines."""

    def __init__(self, klbench, bootstrap, topic, out_path, log):
        self.out_path = out_path
        self.logf = open(log, "ab")
        self.p = subprocess.Popen([klbench, "collect", "-b", bootstrap, "-t", topic, "-o", out_path,
                                   "--progress-ms", "50"], stdout=subprocess.PIPE,
                                  stderr=self.logf, start_new_session=True)
        self.pid = self.p.pid
        self.count, self.last_recv, self.ready, self.ended = 0, 0, threading.Event(), None
        self.t = threading.Thread(target=self._read, daemon=True)
        self.t.start()
        if not self.ready.wait(30):
            raise RuntimeError(f"collector on {topic} did not start (see {log})")

    def _read(self):
        for line in self.p.stdout:
            s = line.decode().split()
            if not s:
                continue
            if s[0] == "READY":
                self.ready.set()
            elif s[0] == "P":
                self.count, self.last_recv = int(s[1]), int(s[2])
            elif s[0] == "END":
                self.ended = int(s[1])

    def wait_count(self, n, timeout, first_timeout=None, idle=None):
        """Waits until count >= n; gives up after timeout s, or first_timeout
        s without any result, or idle s without a new one. Returns count."""
        t0 = time.time()
        last_n, last_t = self.count, t0
        while self.count < n:
            now = time.time()
            if now - t0 > timeout:
                break
            if first_timeout and self.count == 0 and now - t0 > first_timeout:
                break
            if self.count != last_n:
                last_n, last_t = self.count, now
            elif idle and self.count > 0 and now - last_t > idle:
                break
            if self.p.poll() is not None:
                raise RuntimeError("collector exited")
            time.sleep(0.02)
        return self.count

    def stop(self):
        """Stops it and returns (records, labels)."""
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
        try:
            self.p.wait(30)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()
        self.t.join(5)
        self.logf.close()
        recs = np.fromfile(self.out_path, dtype=REC)
        with open(self.out_path + ".labels", encoding="utf-8") as f:
            labels = [x.rstrip("\n") for x in f]
        return recs, labels


def broker_last_error(broker_dir):
    """The last ERROR line of the broker's log (e.g. a full disk), or ''."""
    try:
        with open(os.path.join(broker_dir, "broker.out"), encoding="utf-8",
                  errors="replace") as f:
            lines = [x.strip() for x in f if " ERROR " in x]
    except OSError:
        return ""
    return lines[-1][:300] if lines else ""


def make_topics(broker_sh, broker_dir, specs):
    """specs: [(name, partitions)]; created through the broker harness.
    Raises RuntimeError (with the broker's last error) when that fails, so
    that a phase fails and the run reports what it measured."""
    args = ["bash", broker_sh, "topic", broker_dir]
    for name, parts in specs:
        args += [name, str(parts)]
    r = subprocess.run(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                       text=True)
    if r.returncode != 0:
        last = broker_last_error(broker_dir)
        raise RuntimeError(f"creating topics failed: {r.stderr.strip()[-300:]}"
                           + (f"; the broker's last error: {last}" if last else ""))


def delete_topics(bootstrap, names, timeout=60):
    """Deletes topics through the broker's admin API and waits for the
    answer; returns ["name: reason", ...] for those it could not delete."""
    from confluent_kafka.admin import AdminClient
    admin = AdminClient({"bootstrap.servers": bootstrap})
    failed = []
    for name, fut in admin.delete_topics(list(names), operation_timeout=timeout,
                                         request_timeout=timeout).items():
        try:
            fut.result()
        except Exception as e:  # reported by the caller, the run goes on
            failed.append(f"{name}: {e}")
    return failed


def gen(klbench, bootstrap, topic, texts, rate, count, id_base, log, sampler=None, prefix=()):
    """Runs klbench gen to the end (its CPU sampled as "generator" when a
    sampler is given), after the command words of prefix (e.g. chrt);
    returns its figures (a dict) with t_start_us / t_end_us (when it ran,
    CLOCK_REALTIME)."""
    t0 = now_us()
    with open(log, "ab") as lf:
        p = subprocess.Popen([*prefix, klbench, "gen", "-b", bootstrap, "-t", topic, "-i", texts,
                              "-r", str(rate), "-n", str(count), "--id-base", str(id_base)],
                             stdout=subprocess.PIPE, stderr=lf)
        if sampler:
            sampler.add("generator", p.pid)
        stdout, _ = p.communicate()
    out = stdout.decode().strip().splitlines()
    if p.returncode != 0 or not out:
        raise RuntimeError(f"klbench gen to {topic} failed (rc {p.returncode}, see {log})")
    d = json.loads(out[-1])
    d["t_start_us"], d["t_end_us"] = t0, now_us()
    return d


def scrape(port):
    """The text of klabel's /metrics, or None."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
            return r.read().decode("utf-8")
    except OSError:
        return None


def parse_metrics(text):
    """{(name, frozenset(labels.items())): value} of a Prometheus text page."""
    out = {}
    for line in (text or "").splitlines():
        if not line or line[0] == "#":
            continue
        try:
            head, val = line.rsplit(" ", 1)
            if "{" in head:
                name, rest = head.split("{", 1)
                labels = {}
                for kv in rest.rstrip("}").split(","):
                    if "=" in kv:
                        k, v = kv.split("=", 1)
                        labels[k] = v.strip('"')
            else:
                name, labels = head, {}
            out[(name, frozenset(labels.items()))] = float(val)
        except ValueError:
            continue
    return out
