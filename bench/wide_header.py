"""Benchmark: time and peak memory to reject hostile headers (issue 11: 100,000 columns took 256 s and
1.2 GB before the header was checked on its own), and to accept ten years of ordinary daily rows
(target: well under 0.5 s — measured here, not in a timed unit test).

The contract refuses a header line longer than any valid header before splitting it into fields,
and checks a plausible-length header before any data row is parsed; this prints what that costs.
"""

from __future__ import annotations

import time
import tracemalloc


def measure(label: str, data: bytes) -> None:
    from gasforecast.ingestion.contract import validate_csv

    tracemalloc.start()
    started = time.perf_counter()
    result = validate_csv(data, target="uk_gas_price", max_bytes=50 * 1024 * 1024, max_columns=50)
    elapsed = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    codes = sorted({problem.code for problem in result.problems})
    print(f"{label} ({len(data) / 1e6:.1f} MB): rejected={not result.ok} {codes} in {elapsed * 1000:.1f} ms, "
          f"peak {peak / 1e6:.1f} MB allocated (mostly the decoded text of the file)")


def main() -> int:
    import gasforecast.ingestion.contract  # noqa: F401  (import cost is not part of the measurement)

    names = ",".join(f"column_{i}" for i in range(100_000))
    row = ",".join(["1.5"] * 100_002)
    measure("100,000 columns, 10 rows", f"date,uk_gas_price,{names}\n".encode() +
            "".join(f"2024-01-{day:02d},80.5,{row}\n" for day in range(1, 11)).encode())
    measure("4,000,000 columns in one header line", ("date,uk_gas_price," + ",".join(["col_x"] * 4_000_000)).encode())
    wide = ",".join(f"d{i}" for i in range(49))
    measure("51 columns, 3,650 rows", f"date,uk_gas_price,{wide}\n".encode() +
            "".join(f"2014-01-01,80.5,{','.join(['1'] * 49)}\n" for _ in range(3650)).encode())
    from gasforecast.ingestion.sample import synthetic_history, to_csv_bytes

    measure("ten years of daily rows, target and drivers (valid; target ≤ 500 ms)",
            to_csv_bytes(synthetic_history(3653, start="2014-01-01")))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
