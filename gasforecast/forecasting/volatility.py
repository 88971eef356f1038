"""Volatility experts: quantiles of the h-step log return of a random walk, each from the rows up to its origin.

These are the distributions a risk desk would put beside ours (docs/model.md#distribution), and the
experts the served distribution combines:

- `trailing_gaussian`: Gaussian, σ the standard deviation of the trailing year's one-step returns, √h.
- `ewma_gaussian` / `ewma_student`: RiskMetrics EWMA variance (λ = 0.94), Gaussian or Student-t(ν = 5)
  innovations, iid across steps.
- `historical_simulation`: the empirical quantiles of the trailing year's overlapping h-step returns.
- `garch_student`: GARCH(1,1) with Student-t innovations, fitted by `arch` on the returns up to a fit
  row (every quarter of rows), filtered between fits, its h-step distribution simulated with common
  random numbers.
- `adaptive_fhs`: today's adaptive volatility scale (`intervals.volatility_state`, absolute returns
  with a floor and a term structure) times the empirical quantiles of past standardised h-step
  returns (filtered historical simulation).

Every expert returns an array (origins, steps, levels) of log-return quantiles; row t uses
`log_y[: t + 1]` only, so a frame cut after row t gives the same row (tested). NaN where an expert
has too little history.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from gasforecast.forecasting.intervals import error_scale, volatility_state
from gasforecast.ingestion.series_calendar import ROWS_PER_YEAR

Steps = Sequence[int] | np.ndarray  # forecast steps, 1-based
RISKMETRICS_DECAY = 0.94
STUDENT_DF = 5.0
MIN_WINDOW_ROWS = 60  # fewest returns before a trailing-window expert speaks
SIMULATED_PATHS = 2000
SIMULATION_SEED = 20_260_101  # common random numbers: every origin and fit sees the same uniforms
GARCH_FIT_ROWS = 2000  # trailing returns a GARCH fit sees (about eight years of trading days)
GARCH_MIN_FIT_ROWS = 250
PERCENT = 100.0  # arch fits returns in percent, where its optimiser is well scaled


def one_step_returns(log_y: np.ndarray) -> np.ndarray:
    """r[t] = log y[t] − log y[t−1], known at row t; r[0] is NaN."""
    return np.concatenate([[np.nan], np.diff(log_y)])


def window_rows(calendar: str, years: float = 1.0) -> int:
    return max(MIN_WINDOW_ROWS, int(round(years * ROWS_PER_YEAR[calendar])))


def _as_steps(steps: Steps) -> np.ndarray:
    out = np.asarray(steps, dtype=int)
    if out.size == 0 or out.min() < 1:
        raise ValueError("steps must be positive")
    return out


def scaled_quantiles(sigma: np.ndarray, steps: Steps, shape: np.ndarray) -> np.ndarray:
    """σ (origins,) × √h × a standard quantile table `shape` (steps, levels) → (origins, steps, levels)."""
    root = np.sqrt(_as_steps(steps).astype(float))
    return sigma[:, None, None] * root[None, :, None] * shape[None, :, :]


def gaussian_shape(steps: Steps, levels: np.ndarray) -> np.ndarray:
    return np.broadcast_to(stats.norm.ppf(levels), (len(steps), len(levels))).copy()


@functools.lru_cache(maxsize=32)
def _student_sum_shape(df: float, steps: tuple[int, ...], levels: tuple[float, ...]) -> np.ndarray:
    """Quantiles of the sum of h iid unit-variance Student-t(df) draws ÷ √h, by simulation (fixed seed)."""
    uniforms = np.random.default_rng(SIMULATION_SEED).random((20_000, max(steps)))
    draws = stats.t.ppf(uniforms, df) * np.sqrt((df - 2) / df)
    sums = np.cumsum(draws, axis=1)[:, np.asarray(steps) - 1] / np.sqrt(np.asarray(steps, dtype=float))
    table = np.quantile(sums, levels, axis=0).T
    if 1 in steps:  # one step has the exact quantiles
        table[steps.index(1)] = stats.t.ppf(levels, df) * np.sqrt((df - 2) / df)
    return table


def student_shape(steps: Steps, levels: np.ndarray, df: float = STUDENT_DF) -> np.ndarray:
    return _student_sum_shape(float(df), tuple(int(h) for h in steps), tuple(float(q) for q in levels))


def trailing_std(log_y: np.ndarray, window: int) -> np.ndarray:
    """Per row: the standard deviation of the last `window` one-step returns (NaN with fewer than MIN_WINDOW_ROWS)."""
    returns = pd.Series(one_step_returns(log_y))
    return returns.rolling(window, min_periods=MIN_WINDOW_ROWS).std(ddof=1).to_numpy(copy=True)


def ewma_std(log_y: np.ndarray, decay: float = RISKMETRICS_DECAY) -> np.ndarray:
    """Per row: the RiskMetrics volatility σ_{t+1}, σ² = λ σ² + (1 − λ) r_t², started at the first squared return."""
    squared = pd.Series(one_step_returns(log_y) ** 2)
    variance = squared.ewm(alpha=1 - decay, adjust=False, ignore_na=True).mean().to_numpy(copy=True)
    variance[: MIN_WINDOW_ROWS] = np.nan  # the start-up value carries no information yet
    return np.sqrt(variance)


def trailing_gaussian(log_y: np.ndarray, origins: np.ndarray, steps: Steps, levels: np.ndarray,
                      calendar: str) -> np.ndarray:
    sigma = trailing_std(log_y, window_rows(calendar))[origins]
    return scaled_quantiles(sigma, steps, gaussian_shape(steps, levels))


def ewma_gaussian(log_y: np.ndarray, origins: np.ndarray, steps: Steps, levels: np.ndarray,
                  calendar: str) -> np.ndarray:
    return scaled_quantiles(ewma_std(log_y)[origins], steps, gaussian_shape(steps, levels))


def ewma_student(log_y: np.ndarray, origins: np.ndarray, steps: Steps, levels: np.ndarray,
                 calendar: str) -> np.ndarray:
    return scaled_quantiles(ewma_std(log_y)[origins], steps, student_shape(steps, levels))


def sorted_quantiles(values: np.ndarray, levels: np.ndarray, axis: int = -1) -> np.ndarray:
    """np.quantile's default (linear) quantiles along `axis`, moved to the last axis: one sort serves every level."""
    ordered = np.sort(np.moveaxis(values, axis, -1), axis=-1)
    position = levels * (ordered.shape[-1] - 1)
    low = np.floor(position).astype(int)
    high = np.minimum(low + 1, ordered.shape[-1] - 1)
    weight = position - low
    return ordered[..., low] * (1 - weight) + ordered[..., high] * weight


def _rolling_quantiles(values: np.ndarray, ends: np.ndarray, window: int, levels: np.ndarray) -> np.ndarray:
    """Quantiles of values[end − window + 1 .. end] (NaNs skipped) for each end, (ends, levels); NaN when too few."""
    out = np.full((ends.size, levels.size), np.nan)
    padded = np.concatenate([np.full(window - 1, np.nan), values])
    windows = np.lib.stride_tricks.sliding_window_view(padded, window)[ends]  # row e covers values[e-window+1..e]
    observed = np.sum(np.isfinite(windows), axis=1)
    full = observed == window
    out[full] = sorted_quantiles(windows[full], levels)
    partial = (observed >= MIN_WINDOW_ROWS) & ~full
    if partial.any():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            out[partial] = np.nanquantile(windows[partial], levels, axis=1).T
    return out


def historical_simulation(log_y: np.ndarray, origins: np.ndarray, steps: Steps, levels: np.ndarray,
                          calendar: str) -> np.ndarray:
    """Empirical quantiles of the overlapping h-step returns ending in the trailing year (all known at the origin)."""
    window = window_rows(calendar)
    out = np.empty((origins.size, len(steps), levels.size))
    for j, h in enumerate(_as_steps(steps)):
        moves = np.full(log_y.size, np.nan)
        moves[h:] = log_y[h:] - log_y[:-h]
        out[:, j, :] = _rolling_quantiles(moves, origins, window, levels)
    return out


def adaptive_fhs(log_y: np.ndarray, origins: np.ndarray, steps: Steps, levels: np.ndarray,
                 calendar: str, years: float = 2.0) -> np.ndarray:
    """The adaptive scale of `intervals` at the origin × quantiles of past h-step returns ÷ their scale then.

    An h-step return from row s is known at origin t when s + h ≤ t; the trailing `years` of those are used.
    """
    steps_arr = _as_steps(steps)
    today, long_run = volatility_state(log_y, calendar)
    scale = error_scale(today, long_run, int(steps_arr.max()))[:, steps_arr - 1]  # (rows, steps)
    window = window_rows(calendar, years)
    out = np.empty((origins.size, steps_arr.size, levels.size))
    for j, h in enumerate(steps_arr):
        standardised = np.full(log_y.size, np.nan)  # indexed by the row the move ends on
        standardised[h:] = (log_y[h:] - log_y[:-h]) / scale[:-h, j]
        out[:, j, :] = scale[origins, j][:, None] * _rolling_quantiles(standardised, origins, window, levels)
    return out


@dataclass(frozen=True)
class GarchFit:
    """GARCH(1,1)-t parameters on log returns (not percent): σ²_{t+1} = ω + α r_t² + β σ²_t, ν degrees of freedom."""

    omega: float
    alpha: float
    beta: float
    nu: float

    @property
    def long_run_variance(self) -> float:
        return self.omega / max(1e-6, 1.0 - self.alpha - self.beta)


def fit_garch(returns: np.ndarray) -> GarchFit | None:
    """Maximum-likelihood GARCH(1,1) with Student-t innovations and zero mean (the `arch` package); None if it fails."""
    from arch import arch_model

    clean = returns[np.isfinite(returns)][-GARCH_FIT_ROWS:]
    if clean.size < GARCH_MIN_FIT_ROWS:
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = arch_model(clean * PERCENT, mean="Zero", vol="GARCH", p=1, q=1, dist="t",
                                rescale=False).fit(disp="off", show_warning=False)
    except (ValueError, np.linalg.LinAlgError):
        return None
    params = result.params
    fit = GarchFit(float(params["omega"]) / PERCENT**2, float(params["alpha[1]"]), float(params["beta[1]"]),
                   float(params["nu"]))
    if not all(np.isfinite([fit.omega, fit.alpha, fit.beta, fit.nu])) or fit.nu <= 2.0:
        return None
    return fit


def garch_variance_path(returns: np.ndarray, fits: list[tuple[int, GarchFit]]) -> np.ndarray:
    """σ²_{t+1} known at each row t, filtering with the parameters of the latest fit at or before t (NaN before any).

    The recursion starts from the mean squared return of the first 75 returns (as `arch`'s backcast
    does roughly) and runs continuously across refits.
    """
    out = np.full(returns.size, np.nan)
    if not fits:
        return out
    first = np.nan_to_num(returns[1:76]) ** 2
    variance = float(first.mean()) if first.size else 0.0
    r2 = np.nan_to_num(returns) ** 2
    bounds = [row for row, _ in fits] + [returns.size]
    variance_prev = variance
    start_row = 1
    for (row, fit), end in zip(fits, bounds[1:], strict=True):
        # rows before the first fit only carry the state forward, with the first fit's parameters
        for t in range(start_row, end):
            variance_prev = fit.omega + fit.alpha * r2[t] + fit.beta * variance_prev
            if t >= row:
                out[t] = variance_prev
        start_row = end
    return out


@functools.lru_cache(maxsize=64)
def _unit_student_shocks(nu_tenths: int, paths: int, steps: int) -> np.ndarray:
    """Unit-variance Student-t shocks from the common uniforms, ν rounded to a tenth (fits change it slowly,
    and the inverse CDF is most of a simulation's cost)."""
    nu = nu_tenths / 10
    return stats.t.ppf(common_uniforms(paths, steps), nu) * np.sqrt((nu - 2) / nu)


def simulate_garch(variance_next: np.ndarray, fit: GarchFit, steps: Steps, levels: np.ndarray,
                   paths: int = SIMULATED_PATHS) -> np.ndarray:
    """Quantiles of the h-step sum of a GARCH(1,1)-t path from each starting σ²_{t+1}, (origins, steps, levels)."""
    steps_arr = _as_steps(steps)
    shocks = _unit_student_shocks(max(21, round(fit.nu * 10)), paths, int(steps_arr.max()))  # (paths, H)
    variance = np.repeat(variance_next[:, None], paths, axis=1)  # (origins, paths)
    total = np.zeros_like(variance)
    out = np.empty((variance_next.size, steps_arr.size, levels.size))
    wanted = {int(h): j for j, h in enumerate(steps_arr)}
    for step in range(1, int(steps_arr.max()) + 1):
        move = np.sqrt(variance) * shocks[None, :, step - 1]
        total += move
        if step in wanted:
            out[:, wanted[step], :] = sorted_quantiles(total, levels)
        variance = fit.omega + fit.alpha * move**2 + fit.beta * variance
    return out


def common_uniforms(paths: int = SIMULATED_PATHS, steps: int = 1) -> np.ndarray:
    """The uniforms every GARCH simulation shares: a fixed seed, antithetic halves (paths, steps)."""
    half = np.random.default_rng(SIMULATION_SEED + 1).random((paths // 2, steps))
    return np.concatenate([half, 1.0 - half])


def garch_fit_rows(rows: int, refit_every: int) -> list[int]:
    """Rows at which the scheduled GARCH refits happen: anchored at the first row, so a prefix sees the same ones."""
    return list(range(GARCH_MIN_FIT_ROWS, rows, refit_every))


def garch_student(log_y: np.ndarray, origins: np.ndarray, steps: Steps, levels: np.ndarray,
                  calendar: str, refit_every: int | None = None, paths: int = SIMULATED_PATHS) -> np.ndarray:
    """GARCH(1,1)-t quantiles; refitted every `refit_every` rows (default: a quarter of rows, as the procedure
    refits its models), or at every origin with 1."""
    returns = one_step_returns(log_y)
    steps_arr = _as_steps(steps)
    out = np.full((origins.size, steps_arr.size, levels.size), np.nan)
    if refit_every == 1:  # a fit at every origin, on the returns up to it
        for i, origin in enumerate(origins):
            fit = fit_garch(returns[: origin + 1])
            if fit is not None:
                variance = garch_variance_path(returns[: origin + 1], [(0, fit)])[origin]
                out[i] = simulate_garch(np.array([variance]), fit, steps_arr, levels, paths)[0]
        return out
    every = refit_every or max(1, int(round(ROWS_PER_YEAR[calendar] / 4)))
    needed = int(origins.max()) + 1 if origins.size else 0
    fits = [(row, fit) for row in garch_fit_rows(needed, every)
            if (fit := fit_garch(returns[: row + 1])) is not None]
    variance = garch_variance_path(returns[:needed], fits)
    fit_of_row = np.searchsorted([row for row, _ in fits], origins, side="right") - 1
    for k, (_, fit) in enumerate(fits):
        chosen = np.flatnonzero((fit_of_row == k) & np.isfinite(variance[origins]))
        if chosen.size:
            out[chosen] = simulate_garch(variance[origins[chosen]], fit, steps_arr, levels, paths)
    return out
