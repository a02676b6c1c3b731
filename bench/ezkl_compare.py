#!/usr/bin/env python3
"""Vouch vs EZKL: prove the same ONNX models with both and compare the costs.

Not part of CI. For each model (default: mnist_mlp, lenet5_mnist, gpt2_block_t32_d64_random from
../shared/models/make_models.py) it runs, back to back (EZKL then Vouch, or the reverse with
`--order vouch-first`):

  EZKL 23.0.5 through its Python API
      gen_settings (public input, public output, params `--ezkl-param-visibility`, default fixed)
      calibrate_settings (target "resources") -> compile_circuit
      SRS for the settings' logrows: get_srs, else gen_srs locally (cached in ~/.cache/vouch/ezkl-srs)
      setup -> gen_witness -> prove -> verify
  Vouch through the `vouch` CLI (see `vouch_commands`, the one place its argv is spelled)
      compile -> run (interpreter, for the error when there is no proof) -> setup -> prove -> verify

Every step runs in its own child process (EZKL steps: this script re-invoked with `--_ezkl-step`),
under a per-step timeout (`--timeout`, default 1800 s). For each step it records the wall time (for
EZKL also the time of the library call alone, which is what the tables show) and the child's peak
RSS (`ru_maxrss` from `os.wait4`, i.e. the per-child figure that `RUSAGE_CHILDREN` reports; EZKL's
includes the ~70 MB of the Python interpreter and the ezkl module). Per model it reports:

  k          EZKL: logrows from the calibrated settings; Vouch: `k`/`logrows` from setup/prove JSON
  setup s    key generation only (ezkl.setup / `vouch setup`); SRS generation and circuit
             compilation are in the JSON
  prove s    EZKL: gen_witness + prove (Vouch's prove also runs the model); each apart in the JSON
  verify ms  ezkl.verify / `vouch verify` (whole command)
  verify ms in-proc  Vouch: the proof check alone inside `vouch verify`, keys already loaded
  peak RSS   the largest peak RSS over setup, witness, prove and verify
  proof B    EZKL: the proof bytes (hex_proof decoded; the proof JSON's file size is in the JSON);
             Vouch: prove's "raw_proof_bytes", else the proof file's size
  max rel err  max_i |y_i - r_i| / max_i |r_i| of the system's dequantized outputs y against
             onnxruntime's r on the same input (the same measure as `vouch run --reference`)
  ratios     Vouch / EZKL for prove time, peak RSS and proof size (on the Vouch row)

Run it (any python3 >= 3.9; it creates or reuses a venv with ezkl==23.0.5, onnxruntime and numpy,
default ~/.cache/vouch/ezkl-venv, and re-executes itself there):

  python3 bench/ezkl_compare.py --quick                   # smoke run: mnist_mlp only
  python3 bench/ezkl_compare.py                           # the three default models
  python3 bench/ezkl_compare.py --model lenet5_mnist --systems ezkl --out /tmp/lenet.json

Timings are only as good as the machine is quiet: on a shared 2-core box expect large noise.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import time
import traceback
from pathlib import Path

SCRIPT = Path(__file__).resolve()
REPO = SCRIPT.parent.parent
CACHE = Path(os.environ.get("VOUCH_CACHE", Path.home() / ".cache" / "vouch"))
EZKL_VERSION = "23.0.5"
VENV_PACKAGES = [f"ezkl=={EZKL_VERSION}", "onnxruntime", "numpy"]
DEFAULT_MODELS = ["mnist_mlp", "lenet5_mnist", "gpt2_block_t32_d64_random"]
QUICK_MODELS = ["mnist_mlp"]
IN_VENV_ENV = "VOUCH_EZKL_BENCH_IN_VENV"


# --------------------------------------------------------------------------------------------
# Command line and the virtual environment
# --------------------------------------------------------------------------------------------


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description="Prove the same ONNX models with EZKL and with Vouch; print a comparison table.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--models-dir", type=Path, default=None,
                   help="output of make_models.py (default: $VOUCH_MODELS, else ../models/out "
                        "beside the repo, else the newest ~/.cache/vouch/models-*)")
    p.add_argument("--model", action="append", default=None, metavar="NAME",
                   help=f"model name from manifest.json; repeat for several (default: {' '.join(DEFAULT_MODELS)})")
    p.add_argument("--quick", action="store_true", help="smoke run: mnist_mlp only")
    p.add_argument("--systems", default="ezkl,vouch", help="comma-separated subset of ezkl,vouch")
    p.add_argument("--order", choices=["ezkl-first", "vouch-first"], default="ezkl-first",
                   help="which system runs first on each model")
    p.add_argument("--timeout", type=float, default=1800.0, help="seconds per step")
    p.add_argument("--out", type=Path, default=None,
                   help="raw results JSON (default: WORKDIR/results-<time>.json)")
    p.add_argument("--workdir", type=Path, default=CACHE / "ezkl-bench",
                   help="artifacts (settings, keys, proofs), one folder per model and system")
    p.add_argument("--keep-keys", action="store_true",
                   help="keep proving keys after each model (EZKL's pk alone is ~280 MB for mnist_mlp)")
    p.add_argument("--calibration-samples", type=int, default=64,
                   help="held-out samples used to calibrate both systems (models without a test set "
                        "use their reference input)")
    # EZKL
    p.add_argument("--venv", type=Path, default=Path(os.environ.get("VOUCH_EZKL_VENV", CACHE / "ezkl-venv")),
                   help="virtual environment for ezkl (env VOUCH_EZKL_VENV)")
    p.add_argument("--no-venv", action="store_true",
                   help="use the current interpreter as it is (it must have ezkl, onnxruntime, numpy)")
    p.add_argument("--ezkl-param-visibility", choices=["fixed", "polycommit", "hashed"], default="fixed")
    p.add_argument("--ezkl-max-logrows", type=int, default=None, help="cap for calibrate_settings")
    p.add_argument("--srs-dir", type=Path, default=CACHE / "ezkl-srs", help="SRS cache")
    p.add_argument("--srs", choices=["auto", "get", "gen"], default="auto",
                   help="auto: get_srs (public ceremony, needs the network), else gen_srs locally; "
                        "get: get_srs only; gen: gen_srs only")
    # Vouch
    p.add_argument("--vouch", type=Path, default=REPO / "target" / "release" / "vouch",
                   help="vouch binary (built with `cargo build --release -p vouch-cli` if missing)")
    p.add_argument("--no-build", action="store_true", help="never build the vouch binary")
    p.add_argument("--vouch-preset", choices=["provider", "client", "fixed"], default="provider",
                   help="visibility preset of `vouch setup` (provider: weights hashed, which EZKL's "
                        "--ezkl-param-visibility hashed matches; fixed is cheaper for EZKL)")
    p.add_argument("--vouch-backend", choices=["halo2", "gkr"], default="halo2",
                   help="proving backend of `vouch setup`; gkr takes only the fixed preset (input and "
                        "output public, weights in the key) and needs no SRS")
    return p.parse_args(argv)


def venv_python(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def venv_ready(python: Path) -> bool:
    """Whether the venv's interpreter imports the pinned ezkl, onnxruntime and numpy."""
    check = (
        "import importlib.metadata as m, ezkl, onnxruntime, numpy; "
        f"assert m.version('ezkl') == '{EZKL_VERSION}', m.version('ezkl')"
    )
    r = subprocess.run([str(python), "-c", check], capture_output=True)
    return r.returncode == 0


def ensure_venv(args: argparse.Namespace) -> None:
    """Re-executes this script inside the benchmark venv, creating/filling it first if needed."""
    if args.no_venv or os.environ.get(IN_VENV_ENV) == "1":
        return
    venv = args.venv.expanduser()
    python = venv_python(venv)
    if Path(sys.prefix).resolve() == venv.resolve():
        return
    if not python.exists():
        print(f"[venv] creating {venv}", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    if not venv_ready(python):
        print(f"[venv] pip install {' '.join(VENV_PACKAGES)}", flush=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "--upgrade", "pip"], check=False)
        subprocess.run([str(python), "-m", "pip", "install", "-q", *VENV_PACKAGES], check=True)
    env = dict(os.environ, **{IN_VENV_ENV: "1"})
    os.execve(str(python), [str(python), str(SCRIPT), *sys.argv[1:]], env)


# --------------------------------------------------------------------------------------------
# Models, inputs and the onnxruntime reference
# --------------------------------------------------------------------------------------------


def find_models_dir(arg: Path | None) -> Path:
    candidates = []
    if arg is not None:
        candidates.append(arg)
    if os.environ.get("VOUCH_MODELS"):
        candidates.append(Path(os.environ["VOUCH_MODELS"]))
    candidates.append(REPO.parent / "models" / "out")
    candidates += sorted(CACHE.glob("models-*"), key=lambda p: p.stat().st_mtime, reverse=True)
    for c in candidates:
        if (c / "manifest.json").is_file():
            return c
    sys.exit("error: no models directory with manifest.json found; run ../shared/models/make_models.py "
             "OUT_DIR (or ./scripts/test.sh) and pass --models-dir OUT_DIR")


def load_model_spec(models_dir: Path, name: str) -> dict:
    """The manifest entry plus resolved paths of the ONNX file and the reference input/output."""
    manifest = json.loads((models_dir / "manifest.json").read_text())
    entry = next((m for m in manifest["models"] if m["name"] == name), None)
    if entry is None:
        names = ", ".join(m["name"] for m in manifest["models"])
        raise SystemExit(f"error: model {name!r} is not in {models_dir}/manifest.json ({names})")
    if len(entry["inputs"]) != 1:
        raise SystemExit(f"error: {name} has {len(entry['inputs'])} inputs; only single-input models are supported")
    input_name, input_shape = next(iter(entry["inputs"].items()))
    spec = {
        "name": name,
        "onnx": models_dir / entry["file"],
        "input_name": input_name,
        "input_shape": input_shape,
        "ref_input": models_dir / "ref" / f"{name}.in.{input_name}.npy",
        "test_x": None,
    }
    if entry.get("test_set"):
        spec["test_x"] = models_dir / entry["test_set"].replace("*", "x.npy")
    return spec


def prepare_inputs(spec: dict, work: Path, n_calibration: int) -> dict:
    """Writes the proof input and the calibration set as .npy (Vouch) and JSON (EZKL), and runs
    onnxruntime on the input. Returns the paths and the reference output."""
    import numpy as np
    import onnxruntime as ort

    work.mkdir(parents=True, exist_ok=True)
    shape = spec["input_shape"]
    if spec["ref_input"].is_file():
        x = np.load(spec["ref_input"])
    else:  # no reference pair: a seeded input in [0, 1)
        x = np.random.default_rng(0).random(shape, dtype=np.float32)
    x = x.reshape(shape)
    if spec["test_x"] is not None and spec["test_x"].is_file():
        t = np.load(spec["test_x"])
        cal = t[:n_calibration].reshape([-1, *shape[1:]]).astype(x.dtype)
        cal_source = f"first {len(cal)} of {spec['test_x'].name}"
    else:
        cal = x.copy()
        cal_source = "the reference input"

    paths = {
        "input_npy": work / "input.npy",
        "input_json": work / "input.json",
        "cal_npy": work / "calibration.npy",
        "cal_json": work / "calibration.json",
    }
    np.save(paths["input_npy"], x)
    np.save(paths["cal_npy"], cal)
    # EZKL reads one flat list per model input; a longer calibration list is split into samples.
    paths["input_json"].write_text(json.dumps({"input_data": [x.reshape(-1).tolist()]}))
    paths["cal_json"].write_text(json.dumps({"input_data": [cal.reshape(-1).tolist()]}))

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    sess = ort.InferenceSession(str(spec["onnx"]), opts, providers=["CPUExecutionProvider"])
    reference = sess.run(None, {sess.get_inputs()[0].name: x})[0]
    return {"paths": paths, "reference": reference, "calibration_source": cal_source,
            "calibration_samples": int(len(cal))}


def output_error(outputs, reference) -> dict | None:
    """`max |y - r| / max |r|` and friends of the dequantized outputs against onnxruntime."""
    import numpy as np

    if outputs is None:
        return None
    y = np.asarray(outputs, dtype=np.float64).reshape(-1)
    r = np.asarray(reference, dtype=np.float64).reshape(-1)
    if y.size != r.size:
        return {"error": f"{y.size} output values, onnxruntime has {r.size}"}
    diff = np.abs(y - r)
    max_ref = float(np.max(np.abs(r))) or 1.0
    return {
        "max_rel_error": float(diff.max() / max_ref),
        "max_abs_error": float(diff.max()),
        "max_abs_reference": max_ref,
        "mean_abs_error": float(diff.mean()),
        "top1_agrees": bool(np.argmax(y) == np.argmax(r)),
    }


# --------------------------------------------------------------------------------------------
# Measured child processes
# --------------------------------------------------------------------------------------------


def maxrss_bytes(ru) -> int:
    # Linux reports kilobytes, macOS bytes.
    return int(ru.ru_maxrss) * (1 if sys.platform == "darwin" else 1024)


def kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def run_measured(argv: list[str], timeout: float, log: Path, env: dict | None = None) -> dict:
    """Runs argv as a child (own process group), stdout/stderr to files beside `log`.
    Returns status (ok | error | timeout), rc, wall_s, peak_rss_bytes (from wait4), stdout."""
    out_path, err_path = log.with_suffix(".out"), log.with_suffix(".err")
    t0 = time.perf_counter()
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        proc = subprocess.Popen(argv, stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                                env=env, start_new_session=True)
        status, ru, timed_out = None, None, False
        try:
            while True:
                pid, st, ru = os.wait4(proc.pid, os.WNOHANG)
                if pid == proc.pid:
                    status = st
                    break
                if time.perf_counter() - t0 > timeout:
                    timed_out = True
                    kill_group(proc.pid)
                    _, status, ru = os.wait4(proc.pid, 0)
                    break
                time.sleep(0.02)
        except BaseException:  # Ctrl-C or SIGTERM: the child is in its own session, take it down too
            kill_group(proc.pid)
            raise
    wall = time.perf_counter() - t0
    rc = os.waitstatus_to_exitcode(status)
    proc.returncode = rc  # reaped here; keep Popen from waiting again
    stdout = out_path.read_text(errors="replace")
    stderr = err_path.read_text(errors="replace")
    return {
        "status": "timeout" if timed_out else ("ok" if rc == 0 else "error"),
        "rc": rc,
        "wall_s": round(wall, 4),
        "peak_rss_bytes": maxrss_bytes(ru),
        "argv": [str(a) for a in argv],
        "stdout": stdout[-4000:],
        "stderr_tail": stderr[-4000:],
    }


def ezkl_step_child(payload: str) -> int:
    """Child side of an EZKL step: one library call, its own timing, result as JSON."""
    import asyncio
    import inspect

    import ezkl

    spec = json.loads(payload)
    kwargs = dict(spec.get("kwargs", {}))
    if "py_run_args" in kwargs:
        run_args = ezkl.PyRunArgs()
        for k, v in kwargs["py_run_args"].items():
            setattr(run_args, k, v)
        kwargs["py_run_args"] = run_args
    fn = getattr(ezkl, spec["fn"])

    async def call():
        # get_srs (and in some versions calibrate_settings) need a running event loop.
        r = fn(*spec.get("args", []), **kwargs)
        return await r if inspect.isawaitable(r) else r

    result = {"fn": spec["fn"]}
    t0 = time.perf_counter()
    try:
        ret = asyncio.run(call())
        result.update(ok=True, ret=ret if isinstance(ret, (bool, int, float, str, type(None))) else None)
    except Exception as e:  # noqa: BLE001 - reported to the parent
        result.update(ok=False, error=f"{type(e).__name__}: {e}", traceback=traceback.format_exc())
    result["call_s"] = time.perf_counter() - t0
    Path(spec["result"]).write_text(json.dumps(result))
    return 0 if result["ok"] else 1


def run_ezkl_step(fn: str, work: Path, timeout: float, args=(), kwargs=None, label: str | None = None) -> dict:
    """Runs one EZKL API call in a child process; merges the child's timing into the record."""
    label = label or fn
    result_path = work / f"step_{label}.result.json"
    result_path.unlink(missing_ok=True)
    def plain(v):
        return str(v) if isinstance(v, Path) else v

    payload = json.dumps({"fn": fn, "args": [plain(a) for a in args],
                          "kwargs": {k: plain(v) for k, v in (kwargs or {}).items()},
                          "result": str(result_path)})
    rec = run_measured([sys.executable, str(SCRIPT), "--_ezkl-step", payload], timeout, work / f"step_{label}.log")
    if result_path.is_file():
        child = json.loads(result_path.read_text())
        rec["call_s"] = round(child["call_s"], 4)
        if not child["ok"]:
            rec["status"] = "error"
            rec["error"] = child["error"]
    elif rec["status"] == "error":
        rec["error"] = (rec["stderr_tail"].strip().splitlines() or ["no output"])[-1]
    rec.pop("argv")  # the payload is long and says nothing new
    return rec


def step_seconds(rec: dict | None) -> float | None:
    if not rec or rec["status"] != "ok":
        return None
    return rec.get("call_s", rec["wall_s"])


def load_state() -> list[float]:
    try:
        return list(os.getloadavg())
    except OSError:
        return []


# --------------------------------------------------------------------------------------------
# EZKL
# --------------------------------------------------------------------------------------------


def ezkl_srs(settings: Path, k: int, work: Path, args: argparse.Namespace) -> dict:
    """The SRS for 2^k rows from the cache, else get_srs / gen_srs into the cache."""
    srs_dir = args.srs_dir.expanduser()
    srs_dir.mkdir(parents=True, exist_ok=True)
    path = srs_dir / f"kzg{k}.srs"
    if path.is_file():
        return {"status": "ok", "source": "cache", "path": str(path), "wall_s": 0.0, "peak_rss_bytes": None}
    tmp = srs_dir / f"kzg{k}.srs.tmp{os.getpid()}"
    rec = None
    if args.srs in ("auto", "get"):
        rec = run_ezkl_step("get_srs", work, args.timeout, kwargs={"settings_path": settings, "logrows": k,
                                                                   "srs_path": tmp}, label="get_srs")
        rec["source"] = "get_srs"
    if (rec is None or rec["status"] != "ok") and args.srs in ("auto", "gen"):
        failed_get = rec
        rec = run_ezkl_step("gen_srs", work, args.timeout, args=[tmp, k], label="gen_srs")
        rec["source"] = "gen_srs (local, insecure: for benchmarking only)"
        if failed_get is not None:
            rec["get_srs_error"] = failed_get.get("error")
    if rec["status"] == "ok":
        tmp.replace(path)
    else:
        tmp.unlink(missing_ok=True)
    rec["path"] = str(path)
    return rec


def ezkl_outputs(proof: dict, witness_path: Path, settings: dict):
    """EZKL's dequantized first output: the proof's rescaled_outputs, else the witness's felts."""
    pretty = proof.get("pretty_public_inputs") or {}
    if pretty.get("rescaled_outputs"):
        return [float(v) for v in pretty["rescaled_outputs"][0]]
    import ezkl

    witness = json.loads(witness_path.read_text())
    scale = settings["model_output_scales"][0]
    return [ezkl.felt_to_float(f, scale) for f in witness["outputs"][0]]


def proof_bytes(proof: dict) -> int | None:
    if isinstance(proof.get("hex_proof"), str):
        return len(bytes.fromhex(proof["hex_proof"].removeprefix("0x")))
    if isinstance(proof.get("proof"), list):
        return len(proof["proof"])
    if isinstance(proof.get("proof"), str):
        return len(bytes.fromhex(proof["proof"].removeprefix("0x")))
    return None


def run_ezkl(spec: dict, inputs: dict, work: Path, args: argparse.Namespace) -> dict:
    """The whole EZKL pipeline on one model; stops at the first step that does not succeed."""
    work.mkdir(parents=True, exist_ok=True)
    onnx = spec["onnx"]
    f = {n: work / n for n in ("settings.json", "model.compiled", "vk.key", "pk.key", "witness.json", "proof.json")}
    res = {"system": "ezkl", "version": EZKL_VERSION, "param_visibility": args.ezkl_param_visibility,
           "steps": {}, "load_before": load_state()}
    steps = res["steps"]
    run_args = {"input_visibility": "public", "output_visibility": "public",
                "param_visibility": args.ezkl_param_visibility}
    plan = [
        ("gen_settings", dict(model=onnx, output=f["settings.json"], py_run_args=run_args)),
        ("calibrate_settings", dict(data=inputs["paths"]["cal_json"], model=onnx, settings=f["settings.json"],
                                    target="resources", max_logrows=args.ezkl_max_logrows)),
        ("compile_circuit", dict(model=onnx, compiled_circuit=f["model.compiled"], settings_path=f["settings.json"])),
        ("srs", None),
        ("setup", dict(model=f["model.compiled"], vk_path=f["vk.key"], pk_path=f["pk.key"], srs_path=None)),
        ("gen_witness", dict(data=inputs["paths"]["input_json"], model=f["model.compiled"],
                             output=f["witness.json"], vk_path=f["vk.key"], srs_path=None)),
        ("prove", dict(witness=f["witness.json"], model=f["model.compiled"], pk_path=f["pk.key"],
                       proof_path=f["proof.json"], srs_path=None)),
        ("verify", dict(proof_path=f["proof.json"], settings_path=f["settings.json"], vk_path=f["vk.key"],
                        srs_path=None)),
    ]
    srs_path = None
    for name, kwargs in plan:
        print(f"  ezkl {name} ...", end=" ", flush=True)
        if name == "srs":
            settings = json.loads(f["settings.json"].read_text())
            res["logrows"] = settings["run_args"]["logrows"]
            res["num_rows"] = settings.get("num_rows")
            res["input_scale"] = settings["run_args"].get("input_scale")
            res["param_scale"] = settings["run_args"].get("param_scale")
            rec = ezkl_srs(f["settings.json"], res["logrows"], work, args)
            srs_path = rec["path"]
        else:
            if "srs_path" in kwargs:
                kwargs["srs_path"] = srs_path
            kwargs = {k: v for k, v in kwargs.items() if v is not None or k == "srs_path"}
            rec = run_ezkl_step(name, work, args.timeout, kwargs=kwargs)
            if name == "verify" and rec["status"] == "ok":
                ret = json.loads((work / "step_verify.result.json").read_text()).get("ret")
                if ret is False:
                    rec["status"], rec["error"] = "error", "verify returned False"
        steps[name] = rec
        shown = step_seconds(rec)
        rss = rec.get("peak_rss_bytes")
        print(f"{rec['status']}" + (f" {shown:.2f} s" if shown is not None else "")
              + (f", {rss / 1e9:.2f} GB" if shown is not None and rss is not None else "")
              + (f" ({rec.get('error')})" if rec.get("error") else ""), flush=True)
        if rec["status"] != "ok":
            res["status"] = f"ezkl: {name} {rec['status']}"
            res["failed_step"] = name
            break
    else:
        res["status"] = "ok"
        proof = json.loads(f["proof.json"].read_text())
        res["proof_bytes"] = proof_bytes(proof)
        res["proof_json_bytes"] = f["proof.json"].stat().st_size
        res["vk_bytes"] = f["vk.key"].stat().st_size
        res["pk_bytes"] = f["pk.key"].stat().st_size
        settings = json.loads(f["settings.json"].read_text())
        res["error_vs_onnxruntime"] = output_error(ezkl_outputs(proof, f["witness.json"], settings),
                                                   inputs["reference"])
        res["settings"] = settings
    res["load_after"] = load_state()
    if not args.keep_keys:
        f["pk.key"].unlink(missing_ok=True)
    return res


# --------------------------------------------------------------------------------------------
# Vouch
# --------------------------------------------------------------------------------------------


def vouch_commands(vouch: Path, onnx: Path, p: dict, preset: str,
                   backend: str = "halo2") -> dict[str, list[str]]:
    """The exact `vouch` argv of each step: adjust here when the CLI changes.

    p holds the paths: cal_npy, input_npy, model (.vouch), keys (folder), proof. run_vouch removes
    stale keys and proof files first, and reads JSON on stdout where a step prints it (setup and
    prove: "k"; prove: "outputs", "prove_ms", "raw_proof_bytes")."""
    v = str(vouch)
    return {
        "compile": [v, "compile", str(onnx), "--calibration", str(p["cal_npy"]), "-o", str(p["model"]), "--force"],
        # Not a proof: the quantized interpreter's output, for the error when prove is missing.
        "run": [v, "run", str(p["model"]), "--input", str(p["input_npy"]), "--json"],
        # "fixed" = EZKL's default setting: weights in the verifying key, input and output public.
        "setup": ([v, "setup", str(p["model"]), "--backend", "gkr", "--input-vis", "public",
                   "--weights-vis", "fixed", "--output-vis", "public", "-o", str(p["keys"]), "--json"]
                  if backend == "gkr" else
                  [v, "setup", str(p["model"]), "--backend", "halo2"]
                  + (["--preset", "provider", "--weights-vis", "fixed"] if preset == "fixed"
                     else ["--preset", preset])
                  + ["--insecure-dev-setup", "-o", str(p["keys"]), "--json"]),
        "prove": [v, "prove", str(p["model"]), "--keys", str(p["keys"]), "--input", str(p["input_npy"]),
                  "-o", str(p["proof"]), "--force", "--json"],
        "verify": [v, "verify", str(p["proof"]), "--keys", str(p["keys"]), "--json"],
    }


def vouch_subcommands(vouch: Path) -> set[str] | None:
    """Subcommands listed by `vouch --help` (None if it cannot be run)."""
    try:
        r = subprocess.run([str(vouch), "--help"], capture_output=True, text=True, timeout=60)
    except OSError:
        return None
    names, in_commands = set(), False
    for line in r.stdout.splitlines():
        if line.strip() == "Commands:":
            in_commands = True
        elif in_commands and line.startswith("  ") and line.strip():
            names.add(line.split()[0])
        elif in_commands and not line.strip():
            in_commands = False
    return names


def ensure_vouch(args: argparse.Namespace) -> str | None:
    """Builds the vouch binary if it is missing. Returns an error message or None."""
    if args.vouch.is_file():
        return None
    if args.no_build:
        return f"vouch: binary {args.vouch} missing (--no-build)"
    print("[vouch] cargo build --release -p vouch-cli", flush=True)
    r = subprocess.run(["cargo", "build", "--release", "-p", "vouch-cli"], cwd=REPO)
    if r.returncode != 0 or not args.vouch.is_file():
        return "vouch: build failed"
    return None


def parse_json_stdout(text: str):
    text = text.strip()
    if not text:
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        # Tolerate log lines before a final JSON document.
        start = text.rfind("\n{")
        try:
            return json.loads(text[start + 1:]) if start >= 0 else None
        except json.JSONDecodeError:
            return None


def first_output_values(outputs):
    """Flattens the first output of a `vouch ... --json` "outputs" field.

    Accepts [{name, shape, values}, ...] (as `vouch run` prints), {name: values}, or nested lists."""
    if outputs is None:
        return None
    if isinstance(outputs, dict):
        outputs = list(outputs.values())
        outputs = outputs[0] if outputs else None
    elif isinstance(outputs, list) and outputs and isinstance(outputs[0], dict):
        outputs = outputs[0].get("values")
    flat = []

    def walk(v):
        if isinstance(v, list):
            for i in v:
                walk(i)
        else:
            flat.append(float(v))

    walk(outputs)
    return flat


def dir_size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def run_vouch(spec: dict, inputs: dict, work: Path, args: argparse.Namespace, available: set[str] | None,
              build_error: str | None) -> dict:
    """The Vouch pipeline on one model through the CLI; a missing subcommand ends it gracefully."""
    work.mkdir(parents=True, exist_ok=True)
    p = {**inputs["paths"], "model": work / "model.vouch", "keys": work / "keys", "proof": work / "proof.proof"}
    res = {"system": "vouch", "binary": str(args.vouch), "steps": {}, "load_before": load_state()}
    if build_error:
        res["status"] = build_error
        return res
    cmds = vouch_commands(args.vouch, spec["onnx"], p, args.vouch_preset, args.vouch_backend)
    shutil.rmtree(p["keys"], ignore_errors=True)  # left by an earlier run: setup/prove refuse to overwrite
    p["proof"].unlink(missing_ok=True)
    for name, argv in cmds.items():
        print(f"  vouch {name} ...", end=" ", flush=True)
        if available is not None and argv[1] not in available:
            print("not available", flush=True)
            res["steps"][name] = {"status": "unavailable"}
            res["status"] = f"vouch: {argv[1]} not available"
            break
        rec = run_measured(argv, args.timeout, work / f"step_{name}.log")
        if rec["status"] == "error" and "unrecognized subcommand" in rec["stderr_tail"]:
            rec["status"] = "unavailable"
        # The record keeps only stdout's tail; the JSON (outputs included) is read whole.
        out_file = work / f"step_{name}.out"
        rec["json"] = parse_json_stdout(out_file.read_text(errors="replace") if out_file.exists() else rec["stdout"])
        res["steps"][name] = rec
        extra = f" {rec['wall_s']:.2f} s, {rec['peak_rss_bytes'] / 1e9:.2f} GB" if rec["status"] == "ok" else ""
        print(rec["status"] + extra, flush=True)
        if name == "run" and rec["status"] == "ok" and rec["json"]:
            res["interpreter_error_vs_onnxruntime"] = output_error(
                first_output_values(rec["json"].get("outputs")), inputs["reference"])
        if rec["status"] != "ok":
            if rec["status"] == "unavailable":
                res["status"] = f"vouch: {argv[1]} not available"
            else:
                msg = (rec["stderr_tail"].strip().splitlines() or [""])[-1][:200]
                res["status"] = f"vouch: {name} {rec['status']}" + (f" ({msg})" if msg else "")
            res["failed_step"] = name
            break
    else:
        res["status"] = "ok"
        prove_json = res["steps"]["prove"]["json"] or {}
        setup_json = res["steps"]["setup"]["json"] or {}
        for src in (prove_json, setup_json):
            for key in ("k", "logrows"):
                if key in src and "logrows" not in res:
                    res["logrows"] = src[key]
        res["prove_ms_reported"] = prove_json.get("prove_ms")
        # The proof check alone, keys already loaded (what a verifying service pays per proof).
        res["verify_ms_in_process"] = (res["steps"]["verify"]["json"] or {}).get("verify_ms")
        res["proof_file_bytes"] = p["proof"].stat().st_size if p["proof"].exists() else None
        # The bare proof, like EZKL's decoded hex_proof; the file adds the statement and metadata.
        res["proof_bytes"] = prove_json.get("raw_proof_bytes") or res["proof_file_bytes"]
        res["keys_bytes"] = dir_size(p["keys"]) if p["keys"].exists() else None
        res["error_vs_onnxruntime"] = output_error(first_output_values(prove_json.get("outputs")),
                                                   inputs["reference"])
    res["load_after"] = load_state()
    if not args.keep_keys and p["keys"].exists():
        shutil.rmtree(p["keys"], ignore_errors=True)
    return res


# --------------------------------------------------------------------------------------------
# Summary and tables
# --------------------------------------------------------------------------------------------

EZKL_PROVE_STEPS = ["gen_witness", "prove"]
RSS_STEPS = {"ezkl": ["setup", "gen_witness", "prove", "verify"], "vouch": ["setup", "prove", "verify"]}


def summarize(res: dict) -> dict:
    """The table's numbers for one system on one model (None where not measured)."""
    steps = res["steps"]
    sys_name = res["system"]
    s = {"k": res.get("logrows"), "setup_s": step_seconds(steps.get("setup")), "prove_s": None,
         "verify_ms": None, "peak_rss_gb": None, "proof_bytes": res.get("proof_bytes"), "max_rel_err": None,
         "status": res.get("status", "?")}
    if sys_name == "ezkl":
        parts = [step_seconds(steps.get(n)) for n in EZKL_PROVE_STEPS]
        s["prove_s"] = sum(parts) if all(x is not None for x in parts) else None
    else:
        s["prove_s"] = step_seconds(steps.get("prove"))
    v = step_seconds(steps.get("verify"))
    s["verify_ms"] = None if v is None else v * 1e3
    s["verify_inproc_ms"] = res.get("verify_ms_in_process")
    rss = [steps[n]["peak_rss_bytes"] for n in RSS_STEPS[sys_name] if n in steps and steps[n].get("status") == "ok"]
    if rss:
        s["peak_rss_gb"] = max(rss) / 1e9
    err = res.get("error_vs_onnxruntime")
    if err and "max_rel_error" in err:
        s["max_rel_err"] = err["max_rel_error"]
    elif sys_name == "vouch" and (res.get("interpreter_error_vs_onnxruntime") or {}).get("max_rel_error") is not None:
        s["max_rel_err_interpreter"] = res["interpreter_error_vs_onnxruntime"]["max_rel_error"]
    # Which cells a timeout blanked.
    failed = res.get("failed_step")
    s["timeout"] = failed is not None and steps.get(failed, {}).get("status") == "timeout"
    return s


def fmt(v, spec: str, missing: str = "—") -> str:
    return missing if v is None else format(v, spec)


def ratio(a, b) -> str:
    return "—" if a is None or b in (None, 0) else f"{a / b:.2f}x"


def render_table(rows: list[dict]) -> str:
    head = ["model", "system", "k", "setup s", "prove s", "verify ms", "verify ms in-proc", "peak RSS GB",
            "proof B", "max rel err",
            "prove V/E", "RSS V/E", "proof V/E", "status"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in rows:
        by_sys = {r["system"]: summarize(r) for r in row["results"]}
        for r in row["results"]:
            s = by_sys[r["system"]]
            miss = "timeout" if s["timeout"] else "—"
            err = fmt(s["max_rel_err"], ".2e", miss)
            if s["max_rel_err"] is None and s.get("max_rel_err_interpreter") is not None:
                err = f"{s['max_rel_err_interpreter']:.2e} (run, no proof)"
            cells = [row["model"], r["system"], fmt(s["k"], "d", "—"), fmt(s["setup_s"], ".2f", miss),
                     fmt(s["prove_s"], ".2f", miss), fmt(s["verify_ms"], ".1f", miss),
                     fmt(s["verify_inproc_ms"], ".1f", "—"),
                     fmt(s["peak_rss_gb"], ".2f", miss), fmt(s["proof_bytes"], ",d", miss), err]
            if r["system"] == "vouch" and "ezkl" in by_sys:
                e = by_sys["ezkl"]
                cells += [ratio(s["prove_s"], e["prove_s"]), ratio(s["peak_rss_gb"], e["peak_rss_gb"]),
                          ratio(s["proof_bytes"], e["proof_bytes"])]
            else:
                cells += ["", "", ""]
            cells.append(s["status"])
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def render_steps(rows: list[dict]) -> str:
    """Every step of every run: seconds (library call for EZKL, process wall time for Vouch) and RSS."""
    lines = ["| model | system | step | status | s | peak RSS GB |", "|---|---|---|---|---|---|"]
    for row in rows:
        for r in row["results"]:
            for name, rec in r["steps"].items():
                secs = rec.get("call_s", rec.get("wall_s"))
                rss = rec.get("peak_rss_bytes")
                note = f" ({rec['source']})" if rec.get("source") else ""
                lines.append(f"| {row['model']} | {r['system']} | {name}{note} | {rec['status']} | "
                             f"{fmt(secs, '.2f')} | {fmt(None if rss is None else rss / 1e9, '.2f')} |")
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------------


def machine_info() -> dict:
    info = {"platform": platform.platform(), "python": platform.python_version(), "cpus": os.cpu_count()}
    try:
        info["mem_total_gb"] = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1e9
    except (ValueError, OSError):
        pass
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return info


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    # SIGTERM unwinds like Ctrl-C, so that run_measured kills the step it is waiting for.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    ensure_venv(args)
    systems = [s.strip() for s in args.systems.split(",") if s.strip()]
    if not set(systems) <= {"ezkl", "vouch"} or not systems:
        raise SystemExit("error: --systems takes ezkl, vouch or ezkl,vouch")
    order = ["ezkl", "vouch"] if args.order == "ezkl-first" else ["vouch", "ezkl"]
    systems = [s for s in order if s in systems]
    models = QUICK_MODELS if args.quick else (args.model or DEFAULT_MODELS)
    models_dir = find_models_dir(args.models_dir)
    workdir = args.workdir.expanduser()
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    out = args.out or workdir / f"results-{stamp}.json"

    build_error, available = None, None
    if "vouch" in systems:
        build_error = ensure_vouch(args)
        available = None if build_error else vouch_subcommands(args.vouch)

    report = {"started": stamp, "machine": machine_info(), "models_dir": str(models_dir),
              "timeout_s": args.timeout, "order": systems, "ezkl_version": EZKL_VERSION,
              "ezkl_param_visibility": args.ezkl_param_visibility, "vouch_preset": args.vouch_preset,
              "vouch_backend": args.vouch_backend, "rows": []}
    for name in models:
        spec = load_model_spec(models_dir, name)
        print(f"== {name} ({spec['onnx'].name}, input {spec['input_shape']})", flush=True)
        mwork = workdir / name
        inputs = prepare_inputs(spec, mwork, args.calibration_samples)
        row = {"model": name, "onnx": str(spec["onnx"]), "calibration": inputs["calibration_source"],
               "results": []}
        for system in systems:
            if system == "ezkl":
                row["results"].append(run_ezkl(spec, inputs, mwork / "ezkl", args))
            else:
                row["results"].append(run_vouch(spec, inputs, mwork / "vouch", args, available, build_error))
        report["rows"].append(row)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(report, indent=1, default=str))  # after every model: partial results survive

    for row in report["rows"]:
        for r in row["results"]:
            r["summary"] = summarize(r)
    out.write_text(json.dumps(report, indent=1, default=str))
    print()
    print(f"EZKL {EZKL_VERSION} (params {args.ezkl_param_visibility}) vs Vouch ({args.vouch_backend}, preset {args.vouch_preset}), "
          f"{machine_info().get('cpus')} CPUs; "
          f"V/E = Vouch / EZKL; EZKL prove s = gen_witness + prove")
    print()
    print(render_table(report["rows"]))
    print()
    print(render_steps(report["rows"]))
    print()
    print(f"raw results: {out}")
    return 0


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "--_ezkl-step":
        sys.exit(ezkl_step_child(sys.argv[2]))
    sys.exit(main(sys.argv[1:]))
