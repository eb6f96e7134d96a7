"""Type stubs for the compiled extension `pilotdid._core` (src/python/mod.rs)."""

import numpy as np
import numpy.typing as npt

class PilotdidError(ValueError):
    """Bad input or a failed estimate; the message names the column, value or option."""

def factorize_ids(
    ids: npt.NDArray[np.int64],
) -> tuple[npt.NDArray[np.uint32], npt.NDArray[np.int64]]:
    """Dense codes (order of first appearance) and the distinct values."""

def feols_fit(
    y_name: str,
    y: npt.NDArray[np.float64],
    x_names: list[str],
    x: list[npt.NDArray[np.float64]],
    fe_names: list[str],
    fe: list[npt.NDArray[np.int64]],
    cluster_names: list[str],
    clusters: list[npt.NDArray[np.int64]],
    weights_name: str | None,
    weights: npt.NDArray[np.float64] | None,
    valid: npt.NDArray[np.bool_] | None,
    vcov: str,
    vcov_clusters: list[int],
    drop_singletons: bool,
    tol: float,
    max_iter: int,
) -> FeolsCore: ...

class FeolsCore:
    @property
    def coefnames(self) -> list[str]: ...
    @property
    def beta(self) -> npt.NDArray[np.float64]: ...
    @property
    def vcov(self) -> npt.NDArray[np.float64]: ...
    @property
    def se(self) -> npt.NDArray[np.float64]: ...
    @property
    def used_rows(self) -> npt.NDArray[np.bool_]: ...
    def info(self) -> dict: ...
    def coef_table(
        self, level: float
    ) -> tuple[list[float], list[float], list[float], list[float]]: ...
    def wildboottest(
        self,
        y: npt.NDArray[np.float64],
        x: list[npt.NDArray[np.float64]],
        restriction: npt.NDArray[np.float64],
        r: float,
        reps: int,
        weights: str,
        seed: int,
        level: float,
        cluster: int = 0,
    ) -> dict: ...

def panel_info(
    unit: npt.NDArray[np.uint32],
    unit_labels: list[str],
    time: npt.NDArray[np.int64],
    treatment: npt.NDArray[np.float64] | None = None,
    cohort: npt.NDArray[np.float64] | None = None,
    allow_switch_off: bool = False,
) -> dict: ...
def bacon_fit(
    unit: npt.NDArray[np.uint32],
    unit_labels: list[str],
    time: npt.NDArray[np.int64],
    y: npt.NDArray[np.float64],
    treat: npt.NDArray[np.float64],
    y_name: str,
    treat_name: str,
    unit_name: str,
    time_name: str,
) -> dict:
    """Goodman-Bacon decomposition: 2x2 rows, summary by type, twfe, variance_d, counts."""

def sunab_fit(
    unit: npt.NDArray[np.uint32],
    unit_labels: list[str],
    time: npt.NDArray[np.int64],
    cohort: npt.NDArray[np.float64],
    gname: str,
    tname: str,
    y_name: str,
    y: npt.NDArray[np.float64],
    control_names: list[str],
    controls: list[npt.NDArray[np.float64]],
    cluster_names: list[str],
    clusters: list[npt.NDArray[np.int64]],
    vcov: str,
    vcov_clusters: list[int],
    control: str,
    ref_periods: list[int],
    bin: tuple[int, int] | None,
    level: float,
    tol: float,
    max_iter: int,
) -> dict:
    """Sun-Abraham IW event study: cell and event-time tables, vcovs, weights, att, drops."""

def twfe_event_study_fit(
    y_name: str,
    y: npt.NDArray[np.float64],
    unit: npt.NDArray[np.int64],
    time: npt.NDArray[np.int64],
    cohort: npt.NDArray[np.float64],
    control_names: list[str],
    controls: list[npt.NDArray[np.float64]],
    cluster_name: str | None,
    cluster: npt.NDArray[np.int64] | None,
    valid: npt.NDArray[np.bool_] | None,
    vcov: str,
    ref_periods: list[int],
    bin_lo: int | None,
    bin_hi: int | None,
    window: tuple[int, int] | None,
    tol: float,
    max_iter: int,
) -> TwfeEventStudyCore: ...

class TwfeEventStudyCore:
    def info(self, level: float) -> dict: ...
    def wild_bootstrap(
        self, e: int, r: float, reps: int, weights: str, seed: int, level: float
    ) -> dict: ...

def imputation_fit(
    y_name: str,
    y: npt.NDArray[np.float64],
    unit: npt.NDArray[np.int64],
    time: npt.NDArray[np.int64],
    cohort: npt.NDArray[np.float64],
    control_names: list[str],
    controls: list[npt.NDArray[np.float64]],
    cluster_name: str | None,
    cluster: npt.NDArray[np.int64] | None,
    valid: npt.NDArray[np.bool_] | None,
    horizons: list[int] | None,
    pretrends: list[int] | None,
    anticipation: int,
    level: float,
    leave_out: bool = False,
    small_sample: bool = False,
) -> dict: ...
def did2s_fit(
    y_name: str,
    y: npt.NDArray[np.float64],
    unit: npt.NDArray[np.int64],
    time: npt.NDArray[np.int64],
    cohort: npt.NDArray[np.float64],
    control_names: list[str],
    controls: list[npt.NDArray[np.float64]],
    cluster_name: str | None,
    cluster: npt.NDArray[np.int64] | None,
    valid: npt.NDArray[np.bool_] | None,
    event: bool,
    ref_periods: list[int],
    bin_lo: int | None,
    bin_hi: int | None,
    window: tuple[int, int] | None,
    anticipation: int,
    level: float,
) -> dict: ...

class AttGtCore:
    def table(self) -> dict: ...
    def info(self) -> dict: ...
    def influence(self) -> npt.NDArray[np.float64]: ...
    def aggte(
        self,
        kind: str,
        min_e: float,
        max_e: float,
        balance_e: int | None,
        alpha: float,
        bstrap: bool,
        biters: int,
        cband: bool,
        seed: int,
    ) -> dict: ...

def att_gt_fit(
    y: npt.NDArray[np.float64],
    time: npt.NDArray[np.int64],
    unit: npt.NDArray[np.uint32],
    cohort: npt.NDArray[np.float64],
    cov_names: list[str],
    covs: list[npt.NDArray[np.float64]],
    weights: npt.NDArray[np.float64] | None,
    cluster: npt.NDArray[np.uint32] | None,
    names: list[str],
    control_group: str,
    anticipation: int,
    base_period: str,
    est_method: str,
    alpha: float,
    bstrap: bool,
    biters: int,
    cband: bool,
    seed: int,
) -> AttGtCore: ...

class PlaceboCore:
    @property
    def actual(self) -> float: ...
    @property
    def collinear(self) -> list[str]: ...
    @property
    def cohorts(self) -> list[int | None]: ...
    def n_distinct(self, scheme_name: str) -> int | None: ...
    def assignment(self, scheme_name: str, seed: int, r: int) -> list[int | None]: ...
    def run(
        self, scheme_name: str, seed: int, start: int, count: int
    ) -> npt.NDArray[np.float64]: ...
    def enumerate(
        self, scheme_name: str, cap: int
    ) -> tuple[npt.NDArray[np.float64], list[list[int | None]]]: ...
    def estimate(self, cohorts: list[int | None]) -> float: ...

def placebo_prepare(
    y: npt.NDArray[np.float64],
    control_names: list[str],
    controls: list[npt.NDArray[np.float64]],
    fe_names: list[str],
    fe: list[npt.NDArray[np.int64]],
    weights: npt.NDArray[np.float64] | None,
    unit: npt.NDArray[np.int64],
    time: npt.NDArray[np.int64],
    treat_name: str,
    treat: npt.NDArray[np.float64],
    tol: float,
    max_iter: int,
) -> PlaceboCore: ...
def placebo_pvalue(estimates: npt.NDArray[np.float64], actual: float) -> tuple[float, int]: ...
def logit_fit(
    y: npt.NDArray[np.float64],
    names: list[str],
    x: list[npt.NDArray[np.float64]],
    tol: float = ...,
    max_iter: int = ...,
) -> dict: ...
def psm_match(
    ps: npt.NDArray[np.float64],
    treat: npt.NDArray[np.float64],
    group: npt.NDArray[np.int64] | None,
    method: str,
    k: int,
    replace: bool,
    caliper: float | None,
    kernel: str,
    bandwidth: float,
    common_support: bool,
) -> dict: ...
def psm_balance(
    names: list[str],
    covariates: list[npt.NDArray[np.float64]],
    treat: npt.NDArray[np.float64],
    weights: npt.NDArray[np.float64],
) -> dict: ...

Csr = tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.float64]]
Arr = npt.NDArray[np.float64]
Idx = npt.NDArray[np.int64]

def sp_from_triplets(n: int, rows: Idx, cols: Idx, values: Arr) -> Csr: ...
def sp_from_coords(
    lat: Arr,
    lon: Arr,
    kind: str,
    power: float = ...,
    cutoff: float | None = ...,
    k: int = ...,
    threshold: float = ...,
    radius_km: float = ...,
) -> Csr: ...
def sp_economic(z: Arr) -> Csr: ...
def sp_nested(n: int, indptr: Idx, indices: Idx, data: Arr, z: Arr) -> Csr: ...
def sp_transform(
    n: int, indptr: Idx, indices: Idx, data: Arr, how: str, allow_islands: bool = ...
) -> Csr: ...
def sp_eigenvalues(n: int, indptr: Idx, indices: Idx, data: Arr) -> tuple[Arr, Arr]: ...
def sp_logdet(
    n: int,
    indptr: Idx,
    indices: Idx,
    data: Arr,
    rhos: Arr,
    method: str,
    order: int = ...,
    draws: int = ...,
    seed: int = ...,
) -> Arr: ...
def sp_fit(
    y: Arr,
    x: list[Arr],
    names: list[str],
    unit: npt.NDArray[np.uint32],
    time: npt.NDArray[np.uint32],
    n: int,
    indptr: Idx,
    indices: Idx,
    data: Arr,
    kind: str,
    effects: str,
    lee_yu: bool,
    durbin: list[int] | None = ...,
    fixed_rho: float | None = ...,
    grid_incr: float | None = ...,
    method: str = ...,
) -> SpatialCore: ...
def sp_lm_tests(
    y: Arr,
    x: list[Arr],
    unit: npt.NDArray[np.uint32],
    time: npt.NDArray[np.uint32],
    n: int,
    indptr: Idx,
    indices: Idx,
    data: Arr,
    effects: str,
) -> dict: ...
def sp_moran(
    y: Arr, n: int, indptr: Idx, indices: Idx, data: Arr, permutations: int = ..., seed: int = ...
) -> dict: ...
def sp_moran_local(
    y: Arr, n: int, indptr: Idx, indices: Idx, data: Arr, permutations: int = ..., seed: int = ...
) -> dict: ...

class SpatialCore:
    names: list[str]
    coef: Arr
    se: Arr
    vcov: Arr
    residuals: Arr
    def info(self) -> dict: ...
    def impacts(self, draws: int = ..., seed: int = ...) -> dict: ...
    def unit_impacts(self) -> dict: ...
    def wald_theta(self) -> tuple[float, int, float]: ...
    def lr_test(self, restricted: SpatialCore) -> tuple[float, int, float]: ...

def mediation_tests(a: float, se_a: float, b: float, se_b: float) -> dict[str, float | bool]: ...
def mediation_bootstrap(
    y: Arr,
    d: Arr,
    mediators: list[tuple[str, Arr]],
    controls: list[tuple[str, Arr]],
    fe: list[tuple[str, Idx]],
    cluster: Idx,
    reps: int,
    seed: int,
    joint: bool,
    tol: float = ...,
    max_iter: int = ...,
) -> tuple[Arr, Arr, int]: ...
def mediation_ci(draws: Arr, estimate: float, level: float, method: str) -> tuple[float, float]: ...
def linear_combinations(beta: Arr, vcov: Arr, l: Arr, df: int, level: float) -> Arr: ...
def restriction_wald(
    beta: Arr, vcov: Arr, r: Arr, df2: int
) -> tuple[float, float, float, int, int, float]: ...
def sp_contiguity(
    x: Arr, y: Arr, ring_ptr: Idx, unit_ptr: Idx, kind: str, tolerance: float = ...
) -> Csr: ...

# green-economy family (src/green/, src/python/green.rs)
Cols = list[tuple[str, Arr]]

def green_sbm(
    inputs: Cols,
    good: Cols,
    bad: Cols,
    row_labels: list[str],
    period: npt.NDArray[np.int64],
    rts: str,
    frontier: str,
    super_efficiency: bool,
    bad_weight: float = 1.0,
) -> dict:
    """SBM scores: score, model, status, slacks (n x k), n_infeasible, iterations, n_bland."""

def green_malmquist(
    inputs: Cols,
    good: Cols,
    bad: Cols,
    row_labels: list[str],
    unit: npt.NDArray[np.uint32],
    time: npt.NDArray[np.int64],
    kind: str,
    rts: str,
    super_efficiency: bool,
) -> dict:
    """ML index: eff_global, eff_contemporaneous, index, ec, tc, cumulative, status, counts."""

def green_capital_stock(
    unit: npt.NDArray[np.uint32],
    unit_labels: list[str],
    time: npt.NDArray[np.int64],
    investment: Arr,
    deflator: Arr | None,
    delta: float,
    growth: float | None,
    growth_years: int | None,
    initial_stock: Arr | None,
) -> dict:
    """Perpetual inventory: capital, growth, real_investment."""

def green_entropy(
    columns: Cols, positive: list[bool], group: npt.NDArray[np.uint32], shift: float
) -> dict:
    """Entropy weights (groups x k), entropy (groups x k), index."""

def green_lp_solve(a: Arr, b: Arr, c: Arr) -> tuple[str, float, Arr]:
    """min c'z s.t. A z = b, z >= 0 with the crate's simplex: (status, objective, z)."""
