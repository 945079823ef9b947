"""Run every benchmark (bench/bench_*.py), each side by side with the peer a user would otherwise pick.

Each module has `main() -> dict`; its result is written to bench/results/<name>.json with the machine it
ran on. Every bench/bench_*.py is found by name; bench_photos is the photo-folder decode (throughput and
peak RSS), bench_jpeg_batches the per-batch JPEG decode. Usage: python -m bench.run_all [name ...]
(e.g. `python -m bench.run_all data augment`)"""
import importlib, json, platform, sys, time, traceback
from pathlib import Path

import torch

RESULTS = Path(__file__).parent/"results"


def machine() -> dict:
    "Where the numbers were measured."
    from bench import probe_machine
    return probe_machine(platform=platform.platform(), torch=torch.__version__,
                         torch_threads=torch.get_num_threads(),
                         cuda=torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
                         date=time.strftime("%Y-%m-%d %H:%M:%S"))


def run(name: str) -> dict:
    mod = importlib.import_module(f"bench.bench_{name}")
    t0 = time.perf_counter()
    result = mod.main()
    out = {"benchmark": name, "machine": machine(), "seconds": round(time.perf_counter() - t0, 1),
           "result": result}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS/f"{name}.json").write_text(json.dumps(out, indent=2, default=str) + "\n")
    return out


def main(names=None):
    names = names or sorted(p.stem[len("bench_"):] for p in Path(__file__).parent.glob("bench_*.py"))
    failed = []
    for name in names:
        print(f"== bench {name}", flush=True)
        try: print(json.dumps(run(name)["result"], indent=2, default=str), flush=True)
        except Exception:
            traceback.print_exc(); failed.append(name)
    if failed: sys.exit(f"benchmarks failed: {', '.join(failed)}")


if __name__ == "__main__": main(sys.argv[1:])
