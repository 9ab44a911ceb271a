#!/usr/bin/env python3
"""ModifyStockInfo throughput: weixin_kit (sync and asyncio) against wechatpayv3 2.0.4.

Every call is the same valid change to one existing stock (a fresh out_request_no each time, so
every call is applied), signed by the client, verified by the sandbox, answered 204 and signed
by the sandbox, and the answer's signature verified by the client. The sandbox runs as a
separate process (the release binary); its CPU time is read from /proc/<pid>/stat around each
case, so the table shows whether the server could have been the bottleneck.

    python -m venv target/py-bench
    target/py-bench/bin/pip install ./bindings-python wechatpayv3==2.0.4
    cargo build --release -p weixin-kit-sandbox
    target/py-bench/bin/python bindings-python/bench/modify_stock_info.py [--seconds 5] [--concurrency 8] [--warmup 1]

The sandbox binary is target/release/weixin-kit-sandbox, or $WEIXIN_KIT_SANDBOX_BIN. Prints numbers,
asserts nothing about them (see bench/README.md for how to read them).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import platform
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, List, Optional, Tuple

ROOT = Path(__file__).resolve().parents[2]
CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


# -- the sandbox process -----------------------------------------------------------------------


class SandboxProcess:
    """The stand-alone sandbox: prints one JSON line (base_url, credentials), serves until killed."""

    def __init__(self, binary: str, cores: Optional[set] = None) -> None:
        if not Path(binary).exists():
            sys.exit(
                f"{binary} not found: run `cargo build --release -p weixin-kit-sandbox` "
                "(or set WEIXIN_KIT_SANDBOX_BIN)"
            )
        # Pinned before exec, so every thread the sandbox starts inherits the affinity.
        pin = (lambda: os.sched_setaffinity(0, cores)) if cores else None
        self.proc = subprocess.Popen(
            [binary], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=pin
        )
        line = self.proc.stdout.readline()
        if not line:
            sys.exit(f"the sandbox did not start: {self.proc.stderr.read()}")
        info = json.loads(line)
        self.base_url: str = info["base_url"]
        self.credentials = info["credentials"]

    def control(self, method: str, path: str, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(
            self.base_url + path,
            data=data,
            method=method,
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=30) as resp:
            text = resp.read()
        return json.loads(text) if text else None

    def cpu_seconds(self) -> Optional[float]:
        """utime + stime of the sandbox process (all its threads), from /proc/<pid>/stat."""
        try:
            with open(f"/proc/{self.proc.pid}/stat") as f:
                stat = f.read()
        except OSError:
            return None
        fields = stat[stat.rindex(")") + 2 :].split()  # after "pid (comm) "
        return (int(fields[11]) + int(fields[12])) / CLK_TCK  # fields 14 and 15 of stat(5)

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


# -- the clients -------------------------------------------------------------------------------


def weixin_kit_clients(sb: SandboxProcess):
    import weixin_kit

    c = sb.credentials
    kwargs = dict(
        mchid=c["mchid"],
        serial_no=c["merchant_serial_no"],
        private_key=c["merchant_private_key_pem"],
        wechatpay_public_key_id=c["wechatpay_public_key_id"],
        wechatpay_public_key=c["wechatpay_public_key_pem"],
        base_url=sb.base_url,  # no backup host: a custom base_url never fails over to WeChat
    )
    return weixin_kit.PayClient(**kwargs), weixin_kit.AsyncPayClient(**kwargs)


def wechatpayv3_client(sb: SandboxProcess):
    """wechatpayv3 in public-key mode, its gateway pointed at the sandbox BEFORE anything can
    be sent (the SDK hard-codes api.mch.weixin.qq.com; in certificate mode its constructor
    downloads certificates, so the gateway is set in _init_certificates too)."""
    import wechatpayv3.core as core
    from wechatpayv3 import WeChatPay, WeChatPayType

    c = sb.credentials
    original = core.Core._init_certificates

    def init_certificates(self):
        self._gate_way = sb.base_url
        original(self)

    core.Core._init_certificates = init_certificates
    try:
        pay = WeChatPay(
            wechatpay_type=WeChatPayType.MINIPROG,
            mchid=c["mchid"],
            private_key=c["merchant_private_key_pem"],
            cert_serial_no=c["merchant_serial_no"],
            appid=c["appid"],
            apiv3_key=c["apiv3_key"],
            public_key=c["wechatpay_public_key_pem"],
            public_key_id=c["wechatpay_public_key_id"],
        )
    finally:
        core.Core._init_certificates = original
    pay._core._gate_way = sb.base_url
    assert pay._core._gate_way.startswith("http://127.0.0.1:"), pay._core._gate_way
    return pay


# -- running a case ----------------------------------------------------------------------------


@dataclass
class Result:
    name: str
    client: str
    mode: str
    workers: int
    calls: int = 0
    errors: int = 0
    elapsed: float = 0.0
    latencies: List[float] = field(default_factory=list)
    client_cpu: float = 0.0
    server_cpu: Optional[float] = None
    server_calls: int = 0
    machine_cpu: Optional[float] = None  # every process on the machine (others' load included)

    @property
    def rate(self) -> float:
        return self.calls / self.elapsed if self.elapsed else 0.0

    def add(self, other: "Result") -> None:
        """Adds another measurement of the same case (a round of --repeat)."""
        first = self.elapsed == 0.0
        self.calls += other.calls
        self.errors += other.errors
        self.elapsed += other.elapsed
        self.latencies.extend(other.latencies)
        self.client_cpu += other.client_cpu
        self.server_calls += other.server_calls
        self.server_cpu = _plus(self.server_cpu, other.server_cpu, first)
        self.machine_cpu = _plus(self.machine_cpu, other.machine_cpu, first)

    def pct(self, q: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


class Workload:
    """A fresh stock per case; unique out_request_no per call."""

    def __init__(self, sb: SandboxProcess, case: str) -> None:
        self.stock_id = sb.control("POST", "/sandbox/stocks", {"stock_name": "压测券"})["stock_id"]
        self.prefix = f"{case}-{os.getpid()}-"
        self._numbers = itertools.count()

    def out_request_no(self) -> str:
        return self.prefix + str(next(self._numbers))  # next() on a count is atomic under the GIL


def run_threads(call: Callable[[], None], workers: int, seconds: float, result: Result) -> None:
    deadline = time.perf_counter() + seconds
    lock = threading.Lock()

    def worker():
        mine, errors = [], 0
        while True:
            start = time.perf_counter()
            if start >= deadline:
                break
            try:
                call()
            except Exception as e:  # counted and shown: a failing client must not look fast
                errors += 1
                if errors == 1:
                    print(f"  {result.name}: {type(e).__name__}: {e}", file=sys.stderr)
            mine.append(time.perf_counter() - start)
        with lock:
            result.latencies.extend(mine)
            result.errors += errors

    threads = [threading.Thread(target=worker) for _ in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def run_tasks(
    make_call: Callable[[], "asyncio.Future"], workers: int, seconds: float, result: Result
) -> None:
    async def main():
        deadline = time.perf_counter() + seconds

        async def worker():
            while True:
                start = time.perf_counter()
                if start >= deadline:
                    break
                try:
                    await make_call()
                except Exception as e:
                    result.errors += 1
                    if result.errors == 1:
                        print(f"  {result.name}: {type(e).__name__}: {e}", file=sys.stderr)
                result.latencies.append(time.perf_counter() - start)

        await asyncio.gather(*[worker() for _ in range(workers)])

    asyncio.run(main())


def _plus(a: Optional[float], b: Optional[float], first: bool) -> Optional[float]:
    if first:
        return b
    return None if a is None or b is None else a + b


def machine_busy_seconds() -> Optional[float]:
    """CPU seconds every core of the machine spent busy so far (/proc/stat: all but idle and
    iowait), whoever used them."""
    try:
        with open("/proc/stat") as f:
            fields = [int(x) for x in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return (sum(fields[:8]) - idle) / CLK_TCK


def measure(
    sb: SandboxProcess,
    result: Result,
    run: Callable[[float, Result], None],
    seconds: float,
    warmup: float,
) -> Result:
    if warmup > 0:
        run(warmup, Result(result.name, result.client, result.mode, result.workers))
    sb.control("DELETE", "/sandbox/requests")  # log and counters start empty for this case
    server_before = sb.cpu_seconds()
    machine_before = machine_busy_seconds()
    client_before = time.process_time()  # this process, every thread (Rust runtime included)
    started = time.perf_counter()
    run(seconds, result)
    result.elapsed = time.perf_counter() - started
    result.client_cpu = time.process_time() - client_before
    server_after = sb.cpu_seconds()
    machine_after = machine_busy_seconds()
    if machine_before is not None and machine_after is not None:
        result.machine_cpu = machine_after - machine_before
    if server_before is not None and server_after is not None:
        result.server_cpu = server_after - server_before
    result.calls = len(result.latencies) - result.errors
    result.server_calls = sb.control("GET", "/sandbox/counters")["requests"].get(
        "ModifyStockInfo", 0
    )
    return result



# -- what a call costs at least, and the import ---------------------------------------------------


@dataclass
class CryptoFloor:
    """One RSA-2048 PKCS#1 v1.5 SHA-256 signature (the request's) plus one verification (the
    answer's): what every client must spend per call. Measured in this process, in this run, by
    the core's own key types with the keys parsed once (as a client holds them), on one thread
    (its CPU time, so other load on the machine does not count)."""

    sign_us: float
    verify_us: float

    @property
    def us(self) -> float:
        return self.sign_us + self.verify_us

    @staticmethod
    def measure(credentials, seconds: float = 1.0) -> "CryptoFloor":
        from weixin_kit import _native

        c = credentials
        if not hasattr(_native, "_crypto_floor"):  # an extension built before it existed
            return CryptoFloor(float("nan"), float("nan"))
        sign_us, verify_us = _native._crypto_floor(
            c["merchant_private_key_pem"], c["wechatpay_public_key_pem"], seconds
        )
        return CryptoFloor(sign_us, verify_us)


def import_time(runs: int = 7) -> Tuple[float, str]:
    """`python -X importtime -c "import weixin_kit"`: weixin_kit's cumulative ms (best of `runs`
    fresh interpreters), and its three costliest direct imports."""
    best: Optional[Tuple[int, str]] = None
    for _ in range(runs):
        proc = subprocess.run(
            [sys.executable, "-X", "importtime", "-c", "import weixin_kit"],
            capture_output=True,
            text=True,
        )
        rows = []
        for line in proc.stderr.splitlines():
            parts = line.split("|")
            if len(parts) == 3 and parts[1].strip().isdigit():
                rows.append((int(parts[1]), parts[2].rstrip()))
        total = next((us for us, name in rows if name.strip() == "weixin_kit"), None)
        if total is None:
            continue
        children = sorted(
            ((us, name.strip()) for us, name in rows if name.startswith("   ") and not name.startswith("    ")),
            reverse=True,
        )
        detail = ", ".join(f"{name} {us / 1000:.1f}" for us, name in children[:3])
        if best is None or total < best[0]:
            best = (total, detail)
    if best is None:
        return float("nan"), "import failed"
    return best[0] / 1000, best[1]


def others_cores(r: "Result") -> str:
    if r.machine_cpu is None or r.server_cpu is None or not r.elapsed:
        return "n/a"
    return f"{max((r.machine_cpu - r.client_cpu - r.server_cpu) / r.elapsed, 0.0):.2f}"


def summary(
    results: List["Result"], floor: CryptoFloor, imports: Tuple[float, str], cores: int, pinned: bool
) -> None:
    ours = [r for r in results if r.client.startswith("weixin_kit") and r.calls]
    print(
        f"crypto floor per call (one RSA-2048 sign + one verify, measured in this run): "
        f"{floor.sign_us:.0f} + {floor.verify_us:.0f} = {floor.us:.0f} µs"
    )
    print(
        "bound: 1 / (client CPU + server CPU per call) = the rate of one call at a time with no "
        "waiting;\n       concurrent rows can reach at most cores × bound "
        f"({cores} usable cores{', the sandbox pinned to one of them, the client on the rest' if pinned else ''})"
    )
    header = (
        f"{'client':<27}{'conc':>5}{'calls/s':>9}{'client µs':>11}{'x floor':>9}"
        f"{'server µs':>11}{'bound/s':>9}{'x bound':>9}{'others':>8}"
    )
    print(header)
    print("-" * len(header))
    for r in ours:
        client_us = r.client_cpu / r.calls * 1e6
        server_us = r.server_cpu / r.calls * 1e6 if r.server_cpu is not None else None
        if server_us is None:
            bound, of_bound = "n/a", "n/a"
        else:
            b = 1e6 / (client_us + server_us)
            bound, of_bound = f"{b:.0f}", f"{r.rate / b:.2f}"
        print(
            f"{r.client:<27}{r.workers:>5}{r.rate:>9.0f}{client_us:>11.0f}"
            f"{client_us / floor.us:>9.2f}{server_us if server_us is not None else float('nan'):>11.0f}"
            f"{bound:>9}{of_bound:>9}{others_cores(r):>8}"
        )
    print(
        "target: client µs per call within 1.3x the floor · others: cores the machine's other "
        "processes kept busy meanwhile (taken from the client and the sandbox)"
    )
    by = {(r.client, r.workers): r for r in ours}
    pairs = sorted({w for (c, w) in by if (("weixin_kit PayClient", w) in by and ("weixin_kit AsyncPayClient", w) in by)})
    for w in pairs:
        s, a = by[("weixin_kit PayClient", w)], by[("weixin_kit AsyncPayClient", w)]
        print(
            f"asyncio vs sync, {w} in flight: {a.rate / s.rate:.2f}x calls/s "
            f"({a.rate:.0f} vs {s.rate:.0f}), client CPU per call {a.client_cpu / a.calls * 1e6:.0f} "
            f"vs {s.client_cpu / s.calls * 1e6:.0f} µs"
        )
    widest = max(r.workers for r in ours) if ours else 0
    for r in [r for r in ours if r.workers == widest and widest > 1]:
        client = r.client_cpu / r.elapsed
        server = (r.server_cpu or 0) / r.elapsed
        busy = client + server
        others = None
        if r.machine_cpu is not None:
            others = max(r.machine_cpu / r.elapsed - busy, 0.0)
        if busy >= 0.9 * cores:
            verdict = "saturated by real work"
        elif others is not None and busy + others >= 0.9 * cores:
            verdict = f"the rest went to other processes ({others:.2f} cores): the machine is busy, not idle"
        else:
            verdict = f"not saturated: {cores - busy - (others or 0):.2f} cores idle (waiting, not working)"
        print(
            f"{r.client}, {widest} in flight: client {client:.2f} + sandbox {server:.2f} = "
            f"{busy:.2f} of {cores} cores: {verdict}"
        )
    ms, detail = imports
    print(
        f'import: python -X importtime -c "import weixin_kit": {ms:.1f} ms cumulative, best of 7 '
        f"(target <= 50 ms; largest direct imports, ms: {detail})"
    )


# -- main --------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--seconds", type=float, default=5.0, help="measured seconds per case (default 5)"
    )
    parser.add_argument(
        "--concurrency", type=int, default=8, help="threads / in-flight tasks (default 8)"
    )
    parser.add_argument(
        "--wide",
        type=int,
        default=32,
        help="in-flight calls of the wide weixin_kit cases (default 32; 0 = skip them)",
    )
    parser.add_argument(
        "--warmup", type=float, default=1.0, help="unmeasured seconds before each case (default 1)"
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="rounds: every case runs once per round, in turn, and the rounds are added up "
        "(spreads a shared machine's varying load over all cases; default 1)",
    )
    parser.add_argument(
        "--only", default="", help="comma-separated substrings of case names to run"
    )
    parser.add_argument(
        "--pin",
        action="store_true",
        help="give the sandbox its own core and the client the others (needs >= 2 cores): "
        "the server's CPU column then shows its headroom directly",
    )
    args = parser.parse_args()

    binary = os.environ.get("WEIXIN_KIT_SANDBOX_BIN") or str(
        ROOT / "target" / "release" / "weixin-kit-sandbox"
    )
    pinned_server = None
    if args.pin:
        usable_cores = sorted(os.sched_getaffinity(0))
        if len(usable_cores) < 2:
            sys.exit("--pin needs at least 2 usable cores")
        pinned_server = {usable_cores[-1]}
        # Before any client exists: the Rust runtime's threads start later and inherit this.
        os.sched_setaffinity(0, set(usable_cores[:-1]))
    sb = SandboxProcess(binary, pinned_server)
    try:
        import weixin_kit
        import wechatpayv3

        sync_pay, async_pay = weixin_kit_clients(sb)
        v3 = wechatpayv3_client(sb)
        n = args.concurrency

        def sync_case(name: str, workers: int):
            work = Workload(sb, name)

            def call():
                sync_pay.busifavor.modify_stock_info(
                    stock_id=work.stock_id, out_request_no=work.out_request_no(), comment="活动使用"
                )

            return lambda seconds, result: run_threads(call, workers, seconds, result)

        def async_case(name: str, workers: int):
            work = Workload(sb, name)

            def call():
                return async_pay.busifavor.modify_stock_info(
                    stock_id=work.stock_id, out_request_no=work.out_request_no(), comment="活动使用"
                )

            return lambda seconds, result: run_tasks(call, workers, seconds, result)

        def v3_case(name: str, workers: int):
            work = Workload(sb, name)

            def call():
                code, text = v3.marketing_busifavor_stock_modify(
                    stock_id=work.stock_id, out_request_no=work.out_request_no(), comment="活动使用"
                )
                if code != 204:
                    raise RuntimeError(f"HTTP {code}: {text!r}")

            return lambda seconds, result: run_threads(call, workers, seconds, result)

        wide = [args.wide] if args.wide and args.wide != n else []
        cases = [
            ("weixin_kit PayClient", "sequential", 1, sync_case),
            ("weixin_kit PayClient", "concurrent", n, sync_case),
            *[("weixin_kit PayClient", "concurrent", w, sync_case) for w in wide],
            ("weixin_kit AsyncPayClient", "sequential", 1, async_case),
            ("weixin_kit AsyncPayClient", "concurrent", n, async_case),
            *[("weixin_kit AsyncPayClient", "concurrent", w, async_case) for w in wide],
            ("wechatpayv3 2.0.4", "sequential", 1, v3_case),
            ("wechatpayv3 2.0.4", "concurrent", n, v3_case),
        ]
        only = [s.strip().lower() for s in args.only.split(",") if s.strip()]
        cpus = os.cpu_count() or 0
        try:
            usable = len(os.sched_getaffinity(0))
        except AttributeError:
            usable = cpus
        print(
            f"weixin_kit {weixin_kit.__version__} · wechatpayv3 {wechatpayv3.__version__} · "
            f"Python {platform.python_version()} · {platform.machine()} · cores: {cpus} "
            f"(usable by this process: {usable})"
        )
        print(f"sandbox: {binary} (pid {sb.proc.pid}) at {sb.base_url}")
        if pinned_server:
            print(
                f"pinned: sandbox on core {sorted(pinned_server)}, client on cores "
                f"{sorted(os.sched_getaffinity(0))} (server CPU < 1.00 = headroom)"
            )
        print(
            f"workload: ModifyStockInfo, one stock per case, unique out_request_no per call; "
            f"{args.seconds:g} s per case after {args.warmup:g} s warm-up; concurrency {n} "
            f"(threads for sync clients, in-flight tasks for asyncio)\n"
        )

        floor = CryptoFloor.measure(sb.credentials)
        imports = import_time()

        results: List[Result] = []
        selected = []
        for client, mode, workers, factory in cases:
            name = f"{client} {mode}" + (f" {workers}" if workers not in (1, n) else "")
            if only and not any(s in name.lower() for s in only):
                continue
            selected.append((name, client, mode, workers, factory))
            results.append(Result(name, client, mode, workers))
        # --repeat: the cases in turn, round after round, each round's figures added up, so
        # that load from other processes (a shared machine) falls on every case alike.
        for round_no in range(args.repeat):
            for (name, client, mode, workers, factory), total in zip(selected, results):
                label = ("task" if factory is async_case else "thread") + (
                    "s" if workers > 1 else ""
                )
                suffix = f" (round {round_no + 1}/{args.repeat})" if args.repeat > 1 else ""
                print(f"running {name} ({workers} {label}){suffix} …", file=sys.stderr, flush=True)
                run = factory(f"{name}-{round_no}".replace(" ", "_"), workers)
                one = measure(
                    sb, Result(name, client, mode, workers), run, args.seconds, args.warmup
                )
                total.add(one)

        baseline = {r.workers: r.rate for r in results if r.client.startswith("wechatpayv3")}
        header = (
            f"{'client':<27}{'mode':<12}{'conc':>5}{'calls/s':>10}{'vs v3':>7}{'p50 ms':>8}"
            f"{'p99 ms':>8}{'errors':>7}{'client CPU':>11}{'µs/call':>9}{'server CPU':>11}{'µs/call':>9}"
        )
        print(header)
        print("-" * len(header))
        for r in results:
            ratio = f"{r.rate / baseline[r.workers]:.2f}x" if baseline.get(r.workers) else "-"
            client_cores = r.client_cpu / r.elapsed
            client_us = r.client_cpu / r.calls * 1e6 if r.calls else float("nan")
            if r.server_cpu is None:
                server_cores, server_us = "n/a", "n/a"
            else:
                server_cores = f"{r.server_cpu / r.elapsed:.2f}"
                server_us = f"{r.server_cpu / r.calls * 1e6:.0f}" if r.calls else "-"
            print(
                f"{r.client:<27}{r.mode:<12}{r.workers:>5}{r.rate:>10.0f}{ratio:>7}{r.pct(0.50):>8.2f}"
                f"{r.pct(0.99):>8.2f}{r.errors:>7}{client_cores:>11.2f}{client_us:>9.0f}"
                f"{server_cores:>11}{server_us:>9}"
            )
        print()
        print(
            "calls/s: successful calls per wall-clock second · vs v3: calls/s over wechatpayv3's in the "
            "same mode · CPU columns: cores busy on average (CPU seconds / wall seconds) and CPU µs "
            "per call, for this process (client) and the sandbox process (server)"
        )
        mismatched = [r.name for r in results if r.server_calls != r.calls + r.errors]
        if mismatched:
            print(
                f"note: the sandbox counted a different number of requests for: {', '.join(mismatched)} "
                "(retries, or calls cut off at the deadline)"
            )
        if any(r.server_cpu is not None for r in results):
            busiest = max(results, key=lambda r: (r.server_cpu or 0) / r.elapsed)
            server = busiest.server_cpu / busiest.elapsed
            client = busiest.client_cpu / busiest.elapsed
            if pinned_server:
                print(
                    f"server busiest in '{busiest.name}': {server:.2f} of its own core "
                    f"(client: {client:.2f} of {usable}). Under 1.00 the server had headroom; "
                    f"near 1.00 it is as busy as the client, since both sides do one RSA sign "
                    f"and one verify per call (see bench/README.md)."
                )
            else:
                print(
                    f"server busiest in '{busiest.name}': {server:.2f} cores, while the client "
                    f"used {client:.2f} of the {usable} cores: {max(usable - client, 0):.2f} left "
                    f"to the server. The server is not the bottleneck while its CPU stays well "
                    f"under what is left to it (see bench/README.md)."
                )
        print()
        # Pinned: the client has `usable` cores and the sandbox one more of its own.
        pinned = pinned_server is not None
        summary(results, floor, imports, usable + (1 if pinned else 0), pinned)
    finally:
        sb.close()


if __name__ == "__main__":
    main()
